package main

import (
	"context"
	"net/http"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/oauth"
)

// routes lists every route of the public listener.
func routes(o *oauth.Server, d discovery.Config, jwks func() []byte, ready *readiness, timeout time.Duration) http.Handler {
	r := mux.NewRouter()
	r.Use(deadline(timeout))
	meta := discovery.MetadataHandler(d)
	r.Handle(discovery.OpenIDConfigurationPath, meta)
	r.Handle(discovery.OAuthMetadataPath, meta)
	r.Handle(discovery.JWKSPath, discovery.JWKSHandler(jwks, d.MaxAge))
	// The OAuth endpoints take every method and answer 405 themselves, in
	// RFC 6749's JSON error format.
	r.HandleFunc(discovery.TokenPath, o.CORS("POST", o.Token))
	r.HandleFunc(discovery.IntrospectionPath, o.Introspect)
	r.HandleFunc(discovery.RevocationPath, o.CORS("POST", o.Revoke))
	r.HandleFunc(discovery.UserInfoPath, o.CORS("GET, POST", o.UserInfo))
	r.HandleFunc(discovery.AuthorizationPath, o.Authorize)
	r.HandleFunc(discovery.EndSessionPath, o.Logout)
	r.PathPrefix(oauth.ConnectorPathPrefix).HandlerFunc(o.ConnectorCallback)
	r.HandleFunc(livezPath, livez).Methods(http.MethodGet, http.MethodHead)
	r.Handle(readyzPath, ready).Methods(http.MethodGet, http.MethodHead)
	r.NotFoundHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte(`{"error":"not_found"}`))
	})
	return r
}

// deadline bounds each request's work, so a request waiting on an
// unreachable database answers 503 instead of hanging.
func deadline(d time.Duration) mux.MiddlewareFunc {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx, cancel := context.WithTimeout(r.Context(), d)
			defer cancel()
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}
