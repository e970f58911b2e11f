package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/mux"
)

// RequestIDHeader carries a request's id in and out (design D12).
const RequestIDHeader = "X-Request-Id"

// maxRequestID bounds an incoming request id.
const maxRequestID = 128

// requestInfo is what the access log learns about a request while it is
// served.
type requestInfo struct {
	id       string
	mu       sync.Mutex
	clientID string
}

func (ri *requestInfo) setClient(id string) {
	ri.mu.Lock()
	ri.clientID = id
	ri.mu.Unlock()
}

func (ri *requestInfo) client() string {
	ri.mu.Lock()
	defer ri.mu.Unlock()
	return ri.clientID
}

type requestInfoKey struct{}

func requestInfoFrom(ctx context.Context) *requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(*requestInfo)
	return ri
}

// requestID is a well-formed incoming id (1-128 characters of letters,
// digits and - _ . : / + = @), else a new random one.
func requestID(in string) string {
	ok := in != "" && len(in) <= maxRequestID
	for i := 0; ok && i < len(in); i++ {
		c := in[i]
		ok = 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == ':' || c == '/' || c == '+' || c == '=' || c == '@'
	}
	if ok {
		return in
	}
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// quietRoute reports whether a route is logged at debug level: probes and
// scrapes that would otherwise fill the log.
func quietRoute(route string) bool {
	switch route {
	case "/healthz", "/livez", "/readyz", "/metrics":
		return true
	}
	return false
}

// accessLog wraps a listener's handler: it gives every request an id
// (returned in X-Request-Id and attached to every log line written with
// the request's context, see requestIDHandler), writes one line per
// request (method, route template, status, duration, request id, and the
// client id once authenticated) and records its latency. It never logs the
// path's values, the query, the body or any header, so no token, secret,
// password or Authorization header reaches the log.
func accessLog(next http.Handler, logger *slog.Logger, m *metrics, listener string, route func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ri := &requestInfo{id: requestID(r.Header.Get(RequestIDHeader))}
		w.Header().Set(RequestIDHeader, ri.id)
		ctx := context.WithValue(r.Context(), requestInfoKey{}, ri)
		rt := route(r)
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(ctx))
		d := time.Since(start)
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		m.observeHTTP(listener, rt, r.Method, status, d)
		level := slog.LevelInfo
		if quietRoute(rt) {
			level = slog.LevelDebug
		}
		attrs := []slog.Attr{
			slog.String("listener", listener),
			slog.String("method", r.Method),
			slog.String("route", rt),
			slog.Int("status", status),
			slog.Duration("duration", d),
		}
		if c := ri.client(); c != "" {
			attrs = append(attrs, slog.String("client_id", c))
		}
		logger.LogAttrs(ctx, level, "request", attrs...)
	})
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (pprof's
// profiles extend their write deadline through it).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// muxRoute names a request by the template of the gorilla/mux route it
// matches ("/admin/v1/users/{id}"), never by its raw path, so that the
// route label and log field have bounded values.
func muxRoute(h http.Handler) func(*http.Request) string {
	router, _ := h.(*mux.Router)
	return func(r *http.Request) string {
		if router == nil {
			return "other"
		}
		var m mux.RouteMatch
		if router.Match(r, &m) && m.Route != nil {
			if t, err := m.Route.GetPathTemplate(); err == nil {
				return t
			}
		}
		return "unmatched"
	}
}

// requestIDHandler adds the request id (and nothing else) from the context
// to every record, so that each log line of a request carries it.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, rec slog.Record) error {
	if ri := requestInfoFrom(ctx); ri != nil {
		rec.AddAttrs(slog.String("request_id", ri.id))
	}
	return h.Handler.Handle(ctx, rec)
}

func (h requestIDHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(attrs)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}
