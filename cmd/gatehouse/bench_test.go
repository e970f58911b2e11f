package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

// benchApp wires an in-process server with the production password
// parameters; requests go straight to the handler, no network.
func benchApp(b *testing.B) (*app, string, string) {
	b.Helper()
	fs := testConfig(b)
	fs.Argon2MemoryKiB, fs.Argon2Iterations = 19*1024, 2
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
