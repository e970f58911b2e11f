package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// FuzzAuthorize sends arbitrary authorization requests and form posts to
// the authorization endpoint and the logout endpoint: whatever they hold,
// the answer is a page or a redirect, never a 5xx or a panic, and a
// redirect goes only to the registered redirect URI.
func FuzzAuthorize(f *testing.F) {
	store := memory.New()
	s := refreshServerF(f, store)
	now := time.Now()
	if err := store.CreateClient(context.Background(), storage.Client{ID: "app", Name: "app", Public: true,
		GrantTypes: []string{"authorization_code"}, Scopes: []string{"openid"}, RedirectURIs: []string{"https://app.example/cb"},
		CreatedAt: now}); err != nil {
		f.Fatal(err)
	}
	challenge := strings.Repeat("a", 43)
	for _, seed := range []struct{ method, query, body string }{
		{"GET", "client_id=app&response_type=code&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&scope=openid&state=abcdefgh1&code_challenge=" + challenge + "&code_challenge_method=S256&nonce=nonce-123456", ""},
		{"GET", "client_id=app&response_type=token&redirect_uri=https%3A%2F%2Fevil.example%2F", ""},
		{"GET", "client_id=%00&redirect_uri=%ff", ""},
		{"POST", "", "authorization=client_id%3Dapp&csrf_token=x&username=alice&password=pw"},
		{"POST", "", "authorization=%zz&consent=allow"},
		{"POST", "", "client_id=app&response_type=code&prompt=none&max_age=-1"},
	} {
		f.Add(seed.method, seed.query, seed.body)
	}
	f.Fuzz(func(t *testing.T, method, query, body string) {
		if method != http.MethodGet && method != http.MethodPost {
			return
		}
		for _, h := range []http.HandlerFunc{s.Authorize, s.Logout} {
			req := httptest.NewRequest(method, "/oauth2/authorize", strings.NewReader(body))
			req.URL.RawQuery = query
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			w := httptest.NewRecorder()
			h(w, req)
			if w.Code >= 500 {
				t.Fatalf("%s ?%q %q = %d %s", method, query, body, w.Code, w.Body)
			}
			if loc := w.Header().Get("Location"); loc != "" && !strings.HasPrefix(loc, "https://app.example/cb") {
				t.Fatalf("%s ?%q %q redirected to %q", method, query, body, loc)
			}
		}
	})
}
