package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// TestVerifierAgainstGatehouse runs the resource-server verifier and its
// middleware against a real Gatehouse server (the verifier's own tests
// also run it against an independent go-jose issuer).
func TestVerifierAgainstGatehouse(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{
		ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"},
		Audiences: []string{"orders"}, Roles: []string{"service"}, Claims: map[string]any{"tenant": "acme"},
	})
	_, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}, "svc", secret)
	token, _ := body["access_token"].(string)

	v, err := verifier.New(verifier.Config{Issuer: ts.issuer, Audience: "orders"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		t.Fatalf("Verify(Gatehouse token): %v", err)
	}
	if claims.Subject != "svc" || claims.ClientID != "svc" || claims.Issuer != ts.issuer ||
		!slices.Equal(claims.Scopes, []string{"read"}) || !slices.Equal(claims.Roles, []string{"service"}) ||
		claims.Extra["tenant"] != "acme" || !claims.HasRole("service") || claims.HasScope("write") {
		t.Errorf("claims = %+v", claims)
	}
	if _, err := (must(verifier.New(verifier.Config{Issuer: ts.issuer, Audience: "billing"}))).Verify(context.Background(), token); err == nil {
		t.Error("a token for audience orders verified for billing")
	}

	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mw := verifier.Middleware(v)
	for _, tc := range []struct {
		name    string
		handler http.Handler
		auth    string
		want    int
	}{
		{"valid token", mw(ok), "Bearer " + token, 204},
		{"no token", mw(ok), "", 401},
		{"garbage", mw(ok), "Bearer x.y.z", 401},
		{"role held", mw(verifier.RequireRoles("service")(ok)), "Bearer " + token, 204},
		{"role missing", mw(verifier.RequireRoles("admin")(ok)), "Bearer " + token, 403},
		{"scope missing", mw(verifier.RequireScopes("write")(ok)), "Bearer " + token, 403},
	} {
		req := httptest.NewRequest(http.MethodGet, "/orders", nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		w := httptest.NewRecorder()
		tc.handler.ServeHTTP(w, req)
		if w.Code != tc.want {
			t.Errorf("%s: %d; want %d (WWW-Authenticate %q)", tc.name, w.Code, tc.want, w.Header().Get("WWW-Authenticate"))
		}
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
