package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// benchApp wires an in-process server with the production password
// parameters; requests go straight to the handler, no network.
func benchApp(b *testing.B) (*app, string, string) {
	b.Helper()
	fs := testConfig(b)
	fs.Argon2MemoryKiB, fs.Argon2Iterations = 12*1024, 3
	a, err := newApp(context.Background(), fs, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	ts := &testServer{app: a}
	secret := ts.addClient(b, storage.Client{ID: "bench", Name: "bench", GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes: []string{"read", "write", "offline_access"}, Audiences: []string{"api"}, Roles: []string{"service"}})
	ts.addUser(b, "u-bench", "bench", "bench-password-1", "user", "reader")
	return a, "bench", secret
}

func benchToken(b *testing.B, h http.Handler, body, id, secret string) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("token: %d %s", w.Code, w.Body)
		}
	}
}

func BenchmarkTokenClientCredentials(b *testing.B) {
	a, id, secret := benchApp(b)
	benchToken(b, a.handler, url.Values{"grant_type": {"client_credentials"}, "scope": {"read"}}.Encode(), id, secret)
}

func BenchmarkTokenPassword(b *testing.B) {
	a, id, secret := benchApp(b)
	benchToken(b, a.handler, url.Values{"grant_type": {"password"}, "username": {"bench"}, "password": {"bench-password-1"}, "scope": {"read"}}.Encode(), id, secret)
}

// BenchmarkTokenRefreshPostgres refreshes one chain against the throwaway
// PostgreSQL: one transaction per refresh.
func BenchmarkTokenRefreshPostgres(b *testing.B) {
	cfg := testConfig(b)
	withPostgres(pgtest.URL(b))(cfg)
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { a.Close() })
	ts := &testServer{app: a}
	secret := ts.addClient(b, appClient)
	ts.addUser(b, "u-1", "frank", "pw-frank-123", "user")
	login := url.Values{"grant_type": {"password"}, "username": {"frank"}, "password": {"pw-frank-123"}, "scope": {"read offline_access"}}
	rt := tokenField(b, a.handler, login.Encode(), "app", secret, "refresh_token")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rt = tokenField(b, a.handler, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}.Encode(), "app", secret, "refresh_token")
	}
}

func tokenField(b *testing.B, h http.Handler, body, id, secret, field string) string {
	req := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(id, secret)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var m map[string]any
	if w.Code != http.StatusOK || json.Unmarshal(w.Body.Bytes(), &m) != nil {
		b.Fatalf("token: %d %s", w.Code, w.Body)
	}
	s, _ := m[field].(string)
	return s
}
