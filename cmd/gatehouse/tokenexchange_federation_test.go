package main

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/discovery/oidctest"
	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// A token from an OpenID provider nobody here wrote (zitadel/oidc's
// pkg/op, in-process), registered as a trusted issuer, is exchanged
// (RFC 8693) for a Gatehouse token: its subject maps to the Gatehouse
// user, its roles through the issuer's allow-list, its scopes and expiry
// bound the new token's, and act names the service that asked. Forged,
// expired, wrong-audience, untrusted-issuer, alg-confused and replayed
// subject tokens get RFC 8693 section 2.2.2's invalid_request; a request
// refused for another reason burns nothing.
func TestTokenExchangeTrustedIssuer(t *testing.T) {
	zs := oidctest.NewStorage(map[string]oidctest.Service{})
	idp := oidctest.Serve(t, zs)
	strangerStore := oidctest.NewStorage(map[string]oidctest.Service{})
	stranger := oidctest.Serve(t, strangerStore)
	es := startExchangeServerWith(t, func(c *Config) { c.FederationTransport = idp.Client().Transport })
	ctx := context.Background()
	// "alice" is a machine client upstream whose sub is its id; the issuer
	// maps that subject to the Gatehouse user of that username.
	zs.SetService("alice", oidctest.Service{Secret: "s3cret", Audience: []string{es.issuer}, Roles: []string{"deployer", "viewer", "admin"}})
	zs.SetService("elsewhere", oidctest.Service{Secret: "s3cret", Audience: []string{"https://other.example"}, Roles: []string{"viewer"}})
	// Another provider, never registered, issues a token that says the
	// same about the same subject.
	strangerStore.SetService("alice", oidctest.Service{Secret: "s3cret", Audience: []string{es.issuer}, Roles: []string{"deployer"}})
	now := time.Now()
	if err := es.app.store.CreateTrustedIssuer(ctx, storage.TrustedIssuer{ID: "ti-zitadel", Issuer: idp.URL,
		SubjectType: storage.SubjectUser, RolesClaim: "realm_access.roles", MaxTokenAge: 48 * time.Hour,
		RoleMap: map[string]string{"deployer": "deploy", "viewer": "reader"}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	typed := func(tok, typ string, kv ...string) url.Values {
		f := exchangeForm(tok, kv...)
		f.Set("subject_token_type", typ)
		return f
	}

	upstream := oidctest.Token(t, idp, "alice", "s3cret", "read")
	// Refused for its audience parameter and for a scope beyond the
	// upstream token's: neither burns the token.
	if status, body := es.exchange(t, "orders", typed(upstream, oauth.TokenTypeJWT, "audience", "payroll")); status != 400 || body["error"] != "invalid_target" {
		t.Errorf("external token for an unregistered audience: %d %v; want 400 invalid_target", status, body)
	}
	if status, body := es.exchange(t, "orders", typed(upstream, oauth.TokenTypeJWT, "scope", "read write")); status != 400 || body["error"] != "invalid_scope" {
		t.Errorf("external token, scope beyond its scp: %d %v; want 400 invalid_scope", status, body)
	}
	status, body := es.exchange(t, "orders", typed(upstream, oauth.TokenTypeJWT, "audience", "inventory"))
	if status != 200 {
		t.Fatalf("exchange of the provider's token: %d %v", status, body)
	}
	if body["issued_token_type"] != oauth.TokenTypeAccessToken || body["refresh_token"] != nil || body["scope"] != "read" {
		t.Errorf("response = %v", body)
	}
	tok := body["access_token"].(string)
	_, up := jwtParts(t, upstream)
	_, c := jwtParts(t, tok)
	act, _ := c["act"].(map[string]any)
	if c["iss"] != es.issuer || c["sub"] != "u-alice" || c["client_id"] != "orders" || act["sub"] != "orders" ||
		!slices.Equal(strs(c["roles"]), []string{"deploy", "reader"}) || c["scope"] != "read" ||
		!slices.Equal(strs(c["aud"]), []string{"inventory"}) || c["exp"].(float64) > up["exp"].(float64) {
		t.Errorf("exchanged claims = %v; want sub u-alice, act orders, roles [deploy reader] (admin not mapped), scope read, aud inventory, exp <= %v",
			c, up["exp"])
	}
	claims, err := must(verifier.New(verifier.Config{Issuer: es.issuer, Audience: "inventory"})).Verify(ctx, tok)
	if err != nil || !claims.HasRole("deploy") || claims.HasRole("admin") {
		t.Errorf("verifier on the exchanged token: %+v, %v", claims, err)
	}

	// The ID-token type is accepted for the same kind of token (the
	// trusted issuer's configuration decides what is verified).
	if status, body := es.exchange(t, "orders", typed(oidctest.Token(t, idp, "alice", "s3cret", "read"), oauth.TokenTypeIDToken)); status != 200 {
		t.Errorf("exchange with subject_token_type id_token: %d %v", status, body)
	}

	hsPEM, hsDER, none := oidctest.AlgConfused(t, idp, oidctest.Token(t, idp, "alice", "s3cret", "read"))
	for _, tc := range []struct{ name, token string }{
		{"replayed", upstream},
		{"forged (another key, same kid)", oidctest.Resign(t, oidctest.Token(t, idp, "alice", "s3cret", "read"))},
		{"wrong audience", oidctest.Token(t, idp, "elsewhere", "s3cret", "read")},
		{"untrusted issuer", oidctest.Token(t, stranger, "alice", "s3cret", "read")},
		{"alg HS256 keyed with the public key (PEM)", hsPEM},
		{"alg HS256 keyed with the public key (DER)", hsDER},
		{"alg none", none},
	} {
		status, body := es.exchange(t, "orders", typed(tc.token, oauth.TokenTypeJWT, "audience", "inventory"))
		if status != 400 || body["error"] != "invalid_request" {
			t.Errorf("%s: %d %v; want 400 invalid_request", tc.name, status, body)
		}
	}

	// Expired: the server's clock passes the upstream token's exp, by less
	// than the verifier's leeway (a token issued then would be born
	// expired) and by more (the issuer's maximum age, 48h, is not what
	// refuses it).
	fresh := oidctest.Token(t, idp, "alice", "s3cret", "read")
	_, fc := jwtParts(t, fresh)
	es.advance(time.Until(time.Unix(int64(fc["exp"].(float64)), 0)) + 5*time.Second)
	for range 2 {
		if status, body := es.exchange(t, "orders", typed(fresh, oauth.TokenTypeJWT, "audience", "inventory")); status != 400 || body["error"] != "invalid_request" {
			t.Errorf("expired: %d %v; want 400 invalid_request", status, body)
		}
		es.advance(time.Minute)
	}
}

// One external token presented by many requests at once, on PostgreSQL
// with two instances: exactly one exchange succeeds (the jti is recorded
// in one atomic step), the others are replays.
func TestTokenExchangeReplayConcurrentPostgres(t *testing.T) {
	zs := oidctest.NewStorage(map[string]oidctest.Service{})
	idp := oidctest.Serve(t, zs)
	dbURL := pgtest.URL(t)
	fed := func(c *Config) {
		withPostgres(dbURL)(c)
		c.FederationTransport = idp.Client().Transport
	}
	a := startExchangeServerWith(t, fed)
	b := startServer(t, func(c *Config) { fed(c); c.Issuer = a.issuer })
	zs.SetService("alice", oidctest.Service{Secret: "s3cret", Audience: []string{a.issuer}, Roles: []string{"viewer"}})
	now := time.Now()
	if err := a.app.store.CreateTrustedIssuer(context.Background(), storage.TrustedIssuer{ID: "ti-zitadel", Issuer: idp.URL,
		SubjectType: storage.SubjectUser, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	// Both instances fetch the provider's keys before the race.
	for _, s := range []*testServer{a.testServer, b} {
		resp, body := s.post(t, "/oauth2/token", exchangeForm(oidctest.Token(t, idp, "alice", "s3cret"), "audience", "inventory"), "orders", a.secrets["orders"])
		if resp.StatusCode != 200 {
			t.Fatalf("warm-up exchange: %d %v", resp.StatusCode, body)
		}
	}

	const n = 16
	token := oidctest.Token(t, idp, "alice", "s3cret")
	start := make(chan struct{})
	results := make(chan string, n)
	for i := range n {
		s := []*testServer{a.testServer, b}[i%2]
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/oauth2/token", strings.NewReader(exchangeForm(token, "audience", "inventory").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("orders", a.secrets["orders"])
		go func() {
			<-start
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				results <- err.Error()
				return
			}
			defer resp.Body.Close()
			var body map[string]any
			json.NewDecoder(resp.Body).Decode(&body)
			results <- fmt.Sprint(resp.StatusCode, " ", body["error"])
		}()
	}
	close(start)
	counts := map[string]int{}
	for range n {
		select {
		case r := <-results:
			counts[r]++
		case <-time.After(10 * time.Second):
			t.Fatalf("exchanges did not finish; so far %v", counts)
		}
	}
	if counts["200 <nil>"] != 1 || counts["400 invalid_request"] != n-1 {
		t.Errorf("outcomes of %d concurrent exchanges of one token = %v; want one 200, the rest 400 invalid_request", n, counts)
	}
}

// A trusted issuer that fails (its discovery answers 500) makes the
// exchange of its tokens 503 temporarily_unavailable with Retry-After,
// not a 400 that blames the token; the exchange of Gatehouse's own tokens
// goes on.
func TestTokenExchangeIssuerDown(t *testing.T) {
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	t.Cleanup(down.Close)
	es := startExchangeServer(t)
	now := time.Now()
	if err := es.app.store.CreateTrustedIssuer(context.Background(), storage.TrustedIssuer{ID: "ti-down", Issuer: down.URL,
		SubjectType: storage.SubjectUser, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	key := must(rsa.GenerateKey(rand.Reader, 2048))
	token := keystest.SignJWT(t, jose.RS256, key, map[string]any{"iss": down.URL, "sub": "alice", "aud": es.issuer,
		"jti": "j1", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}, "kid", "k1", "typ", "JWT")

	resp, body := es.post(t, "/oauth2/token", exchangeForm(token, "audience", "inventory"), "orders", es.secrets["orders"])
	if resp.StatusCode != 503 || body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" || body["access_token"] != nil {
		t.Errorf("exchange with the issuer down: %d %v (Retry-After %q); want 503 temporarily_unavailable", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	own := es.login(t, "read", "orders")["access_token"].(string)
	if status, body := es.exchange(t, "orders", exchangeForm(own, "audience", "inventory")); status != 200 {
		t.Errorf("exchange of a Gatehouse token while an issuer is down: %d %v", status, body)
	}
}
