package oauth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// fuzzServer is a token service with one client of every grant and one
// user, whose secret and password the seeds use.
func fuzzServer(f *testing.F) *Server {
	store := memory.New()
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(Config{
		Issuer:   "https://issuer.example",
		Password: PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1},
	}, store, ring)
	if err != nil {
		f.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if err := store.CreateClient(ctx, storage.Client{ID: "c", Name: "c", SecretHash: HashClientSecret("s"),
		GrantTypes: GrantTypes(), Scopes: []string{"read", "offline_access"}, Audiences: []string{"api"}, CreatedAt: now}); err != nil {
		f.Fatal(err)
	}
	hash, _ := s.hasher.Hash(ctx, "pw")
	if err := store.CreateUser(ctx, storage.User{ID: "u-1", Username: "alice", PasswordHash: hash, CreatedAt: now}); err != nil {
		f.Fatal(err)
	}
	return s
}

// FuzzEndpoints sends arbitrary bodies, content types and credentials to
// the token, introspection and revocation endpoints: client input never
// causes a 5xx or a panic, every answer is JSON (or, for a successful
// revocation, empty) with no-store, and no error carries a token.
func FuzzEndpoints(f *testing.F) {
	s := fuzzServer(f)
	for _, seed := range []struct{ path, body, ct, user, pass string }{
		{"/token", "grant_type=client_credentials", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=password&username=alice&password=pw&scope=read+offline_access", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=refresh_token&refresh_token=ory_rt_x.y", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=client_credentials&resource=https://a/&audience=api", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=client_credentials&client_id=c&client_secret=s", "application/x-www-form-urlencoded; charset=utf-8", "", ""},
		{"/token", "%zz=1", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", `{"grant_type":"client_credentials"}`, "application/json", "c", "s"},
		{"/introspect", "token=eyJhbGciOiJub25lIn0.e30.", "application/x-www-form-urlencoded", "c", "s"},
		{"/introspect", "token=a.b.c&token_type_hint=refresh_token", "application/x-www-form-urlencoded", "c", "s"},
		{"/revoke", "token=ory_rt_abc.def&token_type_hint=access_token", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=password&username=alice%00&password=pw", "application/x-www-form-urlencoded", "c", "s"},
		{"/introspect", "token=%FF", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.eyJpc3MiOiJodHRwczovL3hcdTAwMDAifQ.b", "application/x-www-form-urlencoded", "c", "s"},
		{"/revoke", "token=a%00", "application/x-www-form-urlencoded", "c\x00", "s"},
		{"/token", "grant_type=" + url.QueryEscape(GrantTypeTokenExchange) + "&subject_token=a.b.c&subject_token_type=" + url.QueryEscape(TokenTypeAccessToken) + "&actor_token=x", "application/x-www-form-urlencoded", "c", "s"},
		{"/token", "grant_type=" + url.QueryEscape(GrantTypeTokenExchange) + "&subject_token_type=" + url.QueryEscape(TokenTypeJWT) + "&subject_token=eyJhbGciOiJSUzI1NiIsImtpZCI6ImsifQ.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIiwic3ViIjoiYWxpY2UiLCJhdWQiOiJodHRwczovL2lzc3Vlci5leGFtcGxlIiwianRpIjoiaiIsImV4cCI6OTk5OTk5OTk5OSwiaWF0IjoxfQ.c2ln", "application/x-www-form-urlencoded", "c", "s"},
	} {
		f.Add(seed.path, seed.body, seed.ct, seed.user, seed.pass)
	}
	// A token exchange of a real subject token, for the fuzzer to mutate.
	_, tb := tokenRequest(context.Background(), s, url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}, "scope": {"read"}})
	if subject, ok := tb["access_token"].(string); ok {
		f.Add("/token", url.Values{"grant_type": {GrantTypeTokenExchange}, "subject_token": {subject}, "subject_token_type": {TokenTypeAccessToken},
			"audience": {"api"}, "scope": {"read"}}.Encode(), "application/x-www-form-urlencoded", "c", "s")
	} else {
		f.Fatalf("password grant for the exchange seed: %v", tb)
	}
	handlers := map[string]http.HandlerFunc{"/token": s.Token, "/introspect": s.Introspect, "/revoke": s.Revoke}
	f.Fuzz(func(t *testing.T, path, body, ct, user, pass string) {
		h, ok := handlers[path]
		if !ok {
			return
		}
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		if user != "" || pass != "" {
			req.SetBasicAuth(user, pass)
		}
		w := httptest.NewRecorder()
		h(w, req)
		if w.Code >= 500 {
			t.Fatalf("%s %q (%s, %q:%q) = %d %s", path, body, ct, user, pass, w.Code, w.Body)
		}
		jsonBody := w.Body.Len() == 0 || strings.HasPrefix(w.Header().Get("Content-Type"), "application/json")
		if !jsonBody || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("%s %q = %d with Content-Type %q, Cache-Control %q", path, body, w.Code, w.Header().Get("Content-Type"), w.Header().Get("Cache-Control"))
		}
		if w.Code != http.StatusOK && strings.Contains(w.Body.String(), "access_token") {
			t.Fatalf("%s %q = %d carries a token: %s", path, body, w.Code, w.Body)
		}
		// The input boundary (design D9): a form with text no store can
		// hold is invalid_request, whatever else it holds.
		if form, err := url.ParseQuery(body); err == nil && len(body) <= DefaultMaxBodyBytes && !validForm(form) {
			if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), `"error":"invalid_request"`) {
				t.Fatalf("%s %q (%s) = %d %s; want 400 invalid_request", path, body, ct, w.Code, w.Body)
			}
		}
	})
}

func validForm(form url.Values) bool {
	for k, vs := range form {
		if !storage.ValidText(k) {
			return false
		}
		for _, v := range vs {
			if !storage.ValidText(v) {
				return false
			}
		}
	}
	return true
}
