package oauth

import (
	"context"
	"net/http"
	"slices"
	"sync"
	"time"
)

// CORS lets single-page applications call next (the token, userinfo and
// revocation endpoints) from the web origins registered on a client, and
// no other origin (issue 14; the Fetch standard's CORS protocol). No
// cookies are involved: these endpoints authenticate with the request
// itself, so credentials are never allowed. Other endpoints get no CORS
// headers at all.
func (s *Server) CORS(methods string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next(w, r)
			return
		}
		w.Header().Add("Vary", "Origin")
		allowed, err := s.origins.allowed(r.Context(), origin)
		if err != nil {
			s.logger.WarnContext(r.Context(), "CORS: web origins unavailable", "err", err)
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if allowed {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Allow-Methods", methods)
				h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
				h.Set("Access-Control-Max-Age", "600")
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		next(w, r)
	}
}

// originSet is the web origins of all clients, reread from the store at
// most once per ttl.
type originSet struct {
	list func(context.Context) ([]string, error)
	ttl  time.Duration
	now  func() time.Time

	mu      sync.Mutex
	origins []string
	read    time.Time
}

func (o *originSet) allowed(ctx context.Context, origin string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.read.IsZero() || o.now().Sub(o.read) >= o.ttl {
		origins, err := o.list(ctx)
		if err != nil {
			return false, err
		}
		o.origins, o.read = origins, o.now()
	}
	return slices.Contains(o.origins, origin), nil
}

// webOrigins lists every client's registered web origins.
func (s *Server) webOrigins(ctx context.Context) ([]string, error) {
	clients, err := s.store.ListClients(ctx)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range clients {
		if !c.Disabled {
			out = append(out, c.WebOrigins...)
		}
	}
	return out, nil
}
