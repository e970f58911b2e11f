package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	zclient "github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// A private_key_jwt client (RFC 7523 section 2.2, OIDC Core 1.0 section
// 9) authenticates with a JWT it signs with its own key; Gatehouse holds
// only the public key, inline or behind a jwks_uri.

// clientKeyPair is a client's signing key and its public JWK Set.
type clientKeyPair struct {
	key  crypto.Signer
	kid  string
	alg  jose.SignatureAlgorithm
	jwks []byte
}

func newECKey(t testing.TB, kid string) clientKeyPair {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return keyPair(t, k, kid, jose.ES256, "sig")
}

func keyPair(t testing.TB, k crypto.Signer, kid string, alg jose.SignatureAlgorithm, use string) clientKeyPair {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k.Public(), KeyID: kid, Use: use}}})
	if err != nil {
		t.Fatal(err)
	}
	return clientKeyPair{key: k, kid: kid, alg: alg, jwks: b}
}

// sign makes a compact JWS of claims with k, its kid in the header.
func (k clientKeyPair) sign(t testing.TB, claims map[string]any) string {
	t.Helper()
	header := []string{"typ", "JWT"}
	if k.kid != "" {
		header = append(header, "kid", k.kid)
	}
	return keystest.SignJWT(t, k.alg, k.key, claims, header...)
}

var jtiCounter atomic.Int64

// assertionClaims are RFC 7523 section 3's claims for client id at ts,
// valid for a minute, with a fresh jti.
func assertionClaims(ts *testServer, id string) map[string]any {
	now := ts.now()
	return map[string]any{
		"iss": id, "sub": id, "aud": ts.issuer + "/oauth2/token",
		"iat": now.Unix(), "exp": now.Add(time.Minute).Unix(),
		"jti": fmt.Sprintf("jti-%d-%d", time.Now().UnixNano(), jtiCounter.Add(1)),
	}
}

// addKeyClient registers a private_key_jwt client with inline keys or a
// jwks_uri, allowed algs (all when none given).
func (s *testServer) addKeyClient(t testing.TB, id string, jwks []byte, uri string, algs ...string) {
	t.Helper()
	if len(algs) == 0 {
		algs = oauth.AssertionAlgorithms()
	}
	c := storage.Client{ID: id, Name: id, GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"},
		Roles: []string{"batch"}, AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: jwks, JWKSURI: uri,
		AuthSigningAlgs: algs, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.app.store.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
}

func assertionForm(assertion string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionType},
		"client_assertion": {assertion}}
}

// wantInvalidClient checks RFC 6749 section 5.2's answer to a failed client
// authentication: 401 invalid_client.
func wantInvalidClient(t *testing.T, what string, resp *http.Response, body map[string]any) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("%s: %d %v; want 401 invalid_client", what, resp.StatusCode, body)
	}
}

func wantToken(t *testing.T, what string, resp *http.Response, body map[string]any, id string) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %d %v; want 200 and a token", what, resp.StatusCode, body)
	}
	tok, _ := body["access_token"].(string)
	_, claims := jwtParts(t, tok)
	if claims["sub"] != id || claims["client_id"] != id {
		t.Errorf("%s: token sub %v client_id %v; want %s", what, claims["sub"], claims["client_id"], id)
	}
}

// TestPrivateKeyJWTZitadelClient: zitadel/oidc's client, which nobody here
// wrote, discovers Gatehouse, signs an assertion (aud = the issuer, as RFC
// 7523bis asks) with its own code and gets a client_credentials token.
func TestPrivateKeyJWTZitadelClient(t *testing.T) {
	ts := startServer(t, nil)
	k, _ := rsa.GenerateKey(rand.Reader, 2048)
	pair := keyPair(t, k, "zitadel-1", jose.RS256, "sig")
	ts.addKeyClient(t, "zitadel-app", pair.jwks, "", "RS256")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})

	ctx := context.Background()
	party, err := rp.NewRelyingPartyOIDC(ctx, ts.issuer, "zitadel-app", "", "", []string{"read"},
		rp.WithJWTProfile(rp.SignerFromKeyAndKeyID(pemKey, "zitadel-1")))
	if err != nil {
		t.Fatalf("NewRelyingPartyOIDC: %v", err)
	}
	assertion, err := zclient.SignedJWTProfileAssertion("zitadel-app", []string{ts.issuer}, time.Minute, party.Signer())
	if err != nil {
		t.Fatal(err)
	}
	req := &oidc.ClientCredentialsRequest{GrantType: oidc.GrantTypeClientCredentials, Scope: []string{"read"}}
	caller := tokenCaller{party}
	tok, err := zclient.CallTokenEndpointWithAuthFn(ctx, req, zclient.ClientAssertionFormAuthorization(assertion), caller)
	if err != nil {
		t.Fatalf("client_credentials with private_key_jwt: %v", err)
	}
	_, claims := jwtParts(t, tok.AccessToken)
	if claims["sub"] != "zitadel-app" || claims["scope"] != "read" || strings.Join(strs(claims["roles"]), ",") != "batch" {
		t.Errorf("token claims = %v; want sub zitadel-app, scope read, roles [batch]", claims)
	}
	// The same assertion again is a replay (RFC 7523 section 3 item 7).
	if _, err := zclient.CallTokenEndpointWithAuthFn(ctx, req, zclient.ClientAssertionFormAuthorization(assertion), caller); err == nil {
		t.Error("a replayed assertion got a token")
	}
}

// tokenCaller is zitadel's TokenEndpointCaller over its relying party:
// the token endpoint it discovered.
type tokenCaller struct{ rp.RelyingParty }

func (c tokenCaller) TokenEndpoint() string { return c.OAuthConfig().Endpoint.TokenURL }

// TestPrivateKeyJWTInlineAndURI: a client with an inline JWKS and one with
// a jwks_uri on a loopback server get tokens; a new key published at the
// jwks_uri is picked up by its unknown kid.
func TestPrivateKeyJWTInlineAndURI(t *testing.T) {
	ts := startServer(t, nil)
	inline := newECKey(t, "inline-1")
	ts.addKeyClient(t, "inline-app", inline.jwks, "")
	resp, body := ts.post(t, "/oauth2/token", assertionForm(inline.sign(t, assertionClaims(ts, "inline-app"))), "", "")
	wantToken(t, "inline JWKS", resp, body, "inline-app")

	first, second := newECKey(t, "uri-1"), newECKey(t, "uri-2")
	var (
		mu      sync.Mutex
		served  = first.jwks
		fetches atomic.Int32
	)
	keysrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Write(served)
	}))
	t.Cleanup(keysrv.Close)
	ts.addKeyClient(t, "uri-app", nil, keysrv.URL+"/jwks.json")
	for i := range 3 {
		resp, body = ts.post(t, "/oauth2/token", assertionForm(first.sign(t, assertionClaims(ts, "uri-app"))), "", "")
		wantToken(t, fmt.Sprintf("jwks_uri, request %d", i), resp, body, "uri-app")
	}
	if n := fetches.Load(); n != 1 {
		t.Errorf("jwks_uri fetched %d times for 3 requests; want 1 (cached)", n)
	}
	// The client rotates: the new kid is unknown, so the set is refetched
	// (RFC 7517 section 4.5) once the refetch interval allows.
	mu.Lock()
	served = second.jwks
	mu.Unlock()
	ts.advance(11 * time.Second)
	resp, body = ts.post(t, "/oauth2/token", assertionForm(second.sign(t, assertionClaims(ts, "uri-app"))), "", "")
	wantToken(t, "jwks_uri, rotated key", resp, body, "uri-app")
}

// TestPrivateKeyJWTRefused: every assertion RFC 7523 section 3 refuses, and
// every other way a private_key_jwt client could fail to authenticate, is
// 401 invalid_client (RFC 7521 section 4.2.1, RFC 6749 section 5.2), never
// a 500 or a token; two methods at once are invalid_request.
func TestPrivateKeyJWTRefused(t *testing.T) {
	ts := startServer(t, nil)
	key := newECKey(t, "k1")
	other := newECKey(t, "k1") // same kid, different key
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaPair := keyPair(t, rsaKey, "r1", jose.RS256, "sig")
	ts.addKeyClient(t, "app", key.jwks, "")
	ts.addKeyClient(t, "ps-only", rsaPair.jwks, "", "PS256")
	secret := ts.addClient(t, storage.Client{ID: "secret-app", Name: "secret-app", GrantTypes: []string{"client_credentials"}})
	_ = secret

	encKey := newECKey(t, "e1")
	encKey = keyPair(t, encKey.key, "e1", jose.ES256, "enc")
	encSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(encKey.jwks) }))
	t.Cleanup(encSrv.Close)
	ts.addKeyClient(t, "enc-app", nil, encSrv.URL)

	now := ts.now()
	with := func(id string, change func(map[string]any)) map[string]any {
		c := assertionClaims(ts, id)
		change(c)
		return c
	}
	b64 := base64.RawURLEncoding.EncodeToString
	good := key.sign(t, assertionClaims(ts, "app"))
	parts := strings.Split(good, ".")
	noneAlg := b64([]byte(`{"alg":"none","kid":"k1"}`)) + "." + parts[1] + "."

	for _, tc := range []struct {
		name      string
		assertion string
	}{
		{"expired beyond the leeway", key.sign(t, with("app", func(c map[string]any) { c["exp"] = now.Add(-time.Minute).Unix() }))},
		{"nbf ahead", key.sign(t, with("app", func(c map[string]any) { c["nbf"] = now.Add(2 * time.Minute).Unix() }))},
		{"iat ahead", key.sign(t, with("app", func(c map[string]any) { c["iat"] = now.Add(2 * time.Minute).Unix() }))},
		{"exp too far ahead", key.sign(t, with("app", func(c map[string]any) { c["exp"] = now.Add(2 * time.Hour).Unix() }))},
		{"exp ten years ahead", key.sign(t, with("app", func(c map[string]any) { c["exp"] = now.AddDate(10, 0, 0).Unix() }))},
		{"no exp", key.sign(t, with("app", func(c map[string]any) { delete(c, "exp") }))},
		{"exp beyond year 9999", key.sign(t, with("app", func(c map[string]any) { c["exp"] = 1e300 }))},
		{"exp a string", key.sign(t, with("app", func(c map[string]any) { c["exp"] = "soon" }))},
		{"no jti", key.sign(t, with("app", func(c map[string]any) { delete(c, "jti") }))},
		{"wrong aud", key.sign(t, with("app", func(c map[string]any) { c["aud"] = "https://elsewhere.example/token" }))},
		{"no aud", key.sign(t, with("app", func(c map[string]any) { delete(c, "aud") }))},
		{"iss not the client", key.sign(t, with("app", func(c map[string]any) { c["iss"] = "someone" }))},
		{"sub of another client", key.sign(t, with("app", func(c map[string]any) { c["sub"], c["iss"] = "ps-only", "ps-only" }))},
		{"unknown client", key.sign(t, assertionClaims(ts, "nobody"))},
		{"unknown kid", newECKey(t, "k9").sign(t, assertionClaims(ts, "app"))},
		{"another key under the kid", other.sign(t, assertionClaims(ts, "app"))},
		{"alg not allowed for the client", rsaPair.sign(t, assertionClaims(ts, "ps-only"))},
		{"alg none", noneAlg},
		{"HS256 with the public key", hmacAssertion(t, key.jwks, assertionClaims(ts, "app"))},
		{"a secret client", key.sign(t, assertionClaims(ts, "secret-app"))},
		{"JWK with use enc", encKey.sign(t, assertionClaims(ts, "enc-app"))},
		{"not a JWT", "not.a.jwt"},
	} {
		resp, body := ts.post(t, "/oauth2/token", assertionForm(tc.assertion), "", "")
		wantInvalidClient(t, tc.name, resp, body)
	}

	// Within the leeway (30 s) an assertion just past exp still passes.
	resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, with("app", func(c map[string]any) { c["exp"] = now.Add(-10 * time.Second).Unix() }))), "", "")
	wantToken(t, "exp 10 s ago", resp, body, "app")

	form := assertionForm(key.sign(t, assertionClaims(ts, "app")))
	form.Set("client_assertion_type", "urn:example:other")
	resp, body = ts.post(t, "/oauth2/token", form, "", "")
	wantInvalidClient(t, "unsupported client_assertion_type", resp, body)
	form = assertionForm(key.sign(t, assertionClaims(ts, "app")))
	form.Set("client_id", "ps-only")
	resp, body = ts.post(t, "/oauth2/token", form, "", "")
	wantInvalidClient(t, "client_id not the assertion's sub", resp, body)

	// A private_key_jwt client has no secret: any secret, or none, fails.
	resp, body = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "app", "anything")
	wantInvalidClient(t, "private_key_jwt client with Basic", resp, body)
	resp, body = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}}, "", "")
	wantInvalidClient(t, "private_key_jwt client with client_id only", resp, body)
	// Two methods at once (RFC 6749 section 2.3).
	resp, body = ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, "app"))), "secret-app", secret)
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("assertion and Basic: %d %v; want 400 invalid_request", resp.StatusCode, body)
	}
	form = url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionType}}
	resp, body = ts.post(t, "/oauth2/token", form, "", "")
	if resp.StatusCode != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("client_assertion_type without client_assertion: %d %v; want 400 invalid_request", resp.StatusCode, body)
	}
	// The secret client keeps both secret methods (unchanged behaviour).
	resp, body = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "secret-app", secret)
	wantToken(t, "client_secret_basic", resp, body, "secret-app")
	resp, body = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"secret-app"}, "client_secret": {secret}}, "", "")
	wantToken(t, "client_secret_post", resp, body, "secret-app")
}

// hmacAssertion signs claims with HS256 keyed by the bytes of the client's
// public JWK Set: the algorithm-confusion attack (RFC 8725 section 2.1).
func hmacAssertion(t *testing.T, key []byte, claims map[string]any) string {
	t.Helper()
	return keystest.SignJWT(t, jose.HS256, key, claims, "kid", "k1")
}

// TestPrivateKeyJWTReplay: an assertion is accepted once (RFC 7523 section
// 3 item 7), and only a fully valid one records its jti: the same jti
// under a wrong aud is refused without burning it.
func TestPrivateKeyJWTReplay(t *testing.T) {
	ts := startServer(t, nil)
	key := newECKey(t, "k1")
	ts.addKeyClient(t, "app", key.jwks, "")

	claims := assertionClaims(ts, "app")
	wrong := map[string]any{}
	for k, v := range claims {
		wrong[k] = v
	}
	wrong["aud"] = "https://other-server.example/token"
	resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, wrong)), "", "")
	wantInvalidClient(t, "wrong aud", resp, body)
	expired := map[string]any{}
	for k, v := range claims {
		expired[k] = v
	}
	expired["exp"] = ts.now().Add(-time.Hour).Unix()
	resp, body = ts.post(t, "/oauth2/token", assertionForm(key.sign(t, expired)), "", "")
	wantInvalidClient(t, "expired", resp, body)

	good := key.sign(t, claims)
	resp, body = ts.post(t, "/oauth2/token", assertionForm(good), "", "")
	wantToken(t, "same jti, right aud", resp, body, "app")
	resp, body = ts.post(t, "/oauth2/token", assertionForm(good), "", "")
	wantInvalidClient(t, "replay", resp, body)
	// A new signature over the same claims is the same jti.
	resp, body = ts.post(t, "/oauth2/token", assertionForm(key.sign(t, claims)), "", "")
	wantInvalidClient(t, "same jti, new signature", resp, body)
}

// TestPrivateKeyJWTIntrospectRevoke: introspection and revocation
// authenticate private_key_jwt clients too, and refuse a bad assertion
// with 401 invalid_client.
func TestPrivateKeyJWTIntrospectRevoke(t *testing.T) {
	ts := startServer(t, nil)
	key := newECKey(t, "k1")
	ts.addKeyClient(t, "app", key.jwks, "")
	resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, "app"))), "", "")
	wantToken(t, "token", resp, body, "app")
	tok := body["access_token"].(string)

	auth := func(extra url.Values) url.Values {
		f := url.Values{"client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {key.sign(t, assertionClaims(ts, "app"))}}
		for k, v := range extra {
			f[k] = v
		}
		return f
	}
	resp, body = ts.post(t, "/oauth2/introspect", auth(url.Values{"token": {tok}}), "", "")
	if resp.StatusCode != http.StatusOK || body["active"] != true || body["client_id"] != "app" {
		t.Fatalf("introspect with private_key_jwt: %d %v; want active", resp.StatusCode, body)
	}
	bad := auth(url.Values{"token": {tok}})
	bad.Set("client_assertion", newECKey(t, "k1").sign(t, assertionClaims(ts, "app")))
	resp, body = ts.post(t, "/oauth2/introspect", bad, "", "")
	wantInvalidClient(t, "introspect with a forged assertion", resp, body)

	resp, body = ts.post(t, "/oauth2/revoke", bad, "", "")
	wantInvalidClient(t, "revoke with a forged assertion", resp, body)
	resp, _ = ts.post(t, "/oauth2/revoke", auth(url.Values{"token": {tok}}), "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke with private_key_jwt: %d", resp.StatusCode)
	}
	resp, body = ts.post(t, "/oauth2/introspect", auth(url.Values{"token": {tok}}), "", "")
	if resp.StatusCode != http.StatusOK || body["active"] != false {
		t.Errorf("introspect after revocation: %d %v; want active false", resp.StatusCode, body)
	}
}

// TestPrivateKeyJWTSlowKeys: a jwks_uri that hangs, fails, redirects to
// another host or serves too much costs its own client a fast 401
// invalid_client (fosite's fetcher retried for 15 s, then answered 500),
// and a forged kid cannot make Gatehouse fetch more than once per refetch
// interval.
func TestPrivateKeyJWTSlowKeys(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ClientJWKSTimeout = 300 * time.Millisecond })
	key := newECKey(t, "k1")

	release := make(chan struct{})
	var hungHits, failHits, otherHits, bigHits atomic.Int32
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hungHits.Add(1)
		select {
		case <-release:
		case <-time.After(5 * time.Second):
		}
	}))
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failHits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
		w.Write(key.jwks)
	}))
	redirecting := httptest.NewServer(http.RedirectHandler(other.URL+"/jwks.json", http.StatusFound))
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		bigHits.Add(1)
		w.Write([]byte(`{"keys":[],"pad":"` + strings.Repeat("x", 1<<20) + `"}`))
	}))
	for _, s := range []*httptest.Server{failing, other, redirecting, big} {
		t.Cleanup(s.Close)
	}
	t.Cleanup(func() { close(release); hung.Close() })
	ts.addKeyClient(t, "hung-app", nil, hung.URL)
	ts.addKeyClient(t, "failing-app", nil, failing.URL)
	ts.addKeyClient(t, "redirect-app", nil, redirecting.URL)
	ts.addKeyClient(t, "big-app", nil, big.URL)
	ts.addKeyClient(t, "good-app", nil, other.URL)

	for _, id := range []string{"hung-app", "failing-app", "redirect-app", "big-app"} {
		start := time.Now()
		resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, id))), "", "")
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: answered after %v; want well under 2 s", id, d)
		}
		wantInvalidClient(t, id, resp, body)
	}
	if otherHits.Load() != 0 {
		t.Error("the redirect to another host was followed")
	}
	// A failed fetch is not retried before the refetch interval: a dead
	// server is not hammered, and its clients are refused at once.
	for range 3 {
		start := time.Now()
		resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, "hung-app"))), "", "")
		wantInvalidClient(t, "hung-app again", resp, body)
		if d := time.Since(start); d > 200*time.Millisecond {
			t.Errorf("hung-app again: answered after %v; want at once", d)
		}
		resp, body = ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, "failing-app"))), "", "")
		wantInvalidClient(t, "failing-app again", resp, body)
	}
	if hungHits.Load() != 1 || failHits.Load() != 1 || bigHits.Load() != 1 {
		t.Errorf("fetches: hung %d, failing %d, big %d; want 1 each", hungHits.Load(), failHits.Load(), bigHits.Load())
	}
	// Other clients are unaffected; forged kids refetch at most once per
	// interval.
	resp, body := ts.post(t, "/oauth2/token", assertionForm(key.sign(t, assertionClaims(ts, "good-app"))), "", "")
	wantToken(t, "good-app", resp, body, "good-app")
	for i := range 5 {
		forged := newECKey(t, fmt.Sprintf("forged-%d", i))
		resp, body = ts.post(t, "/oauth2/token", assertionForm(forged.sign(t, assertionClaims(ts, "good-app"))), "", "")
		wantInvalidClient(t, "forged kid", resp, body)
	}
	if n := otherHits.Load(); n > 2 {
		t.Errorf("5 forged kids caused %d fetches; want at most 2 (the first and one refetch)", n)
	}
}

// TestPrivateKeyJWTConcurrentReplay presents one assertion 20 times at once
// to a PostgreSQL-backed server: exactly one request gets a token, every
// other one 401 invalid_client (RFC 7523 section 3 item 7). A warm-up
// round of distinct assertions first opens the HTTP and database
// connections, so the racing requests reach the store together.
func TestPrivateKeyJWTConcurrentReplay(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	key := newECKey(t, "k1")
	ts.addKeyClient(t, "app", key.jwks, "")

	const n = 20
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer hc.CloseIdleConnections()
	round := func(assertion func() string) map[int]int {
		codes := make(chan int, n)
		start := make(chan struct{})
		for range n {
			a := assertion()
			go func() {
				<-start
				resp, err := hc.PostForm(ts.URL+"/oauth2/token", assertionForm(a))
				if err != nil {
					t.Error(err)
					codes <- 0
					return
				}
				var body map[string]any
				json.NewDecoder(resp.Body).Decode(&body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK && (resp.StatusCode != http.StatusUnauthorized || body["error"] != "invalid_client") {
					t.Errorf("got %d %v; want 200, or 401 invalid_client", resp.StatusCode, body)
				}
				codes <- resp.StatusCode
			}()
		}
		close(start)
		count := map[int]int{}
		for range n {
			count[<-codes]++
		}
		return count
	}
	if warm := round(func() string { return key.sign(t, assertionClaims(ts, "app")) }); warm[http.StatusOK] != n {
		t.Fatalf("warm-up with distinct assertions: %v; want %d 200", warm, n)
	}
	same := key.sign(t, assertionClaims(ts, "app"))
	if count := round(func() string { return same }); count[http.StatusOK] != 1 || count[http.StatusUnauthorized] != n-1 {
		t.Fatalf("status counts %v; want exactly one 200 and %d 401", count, n-1)
	}
}

// TestPrivateKeyJWTCodeFlow: a private_key_jwt client redeems an
// authorization code and refreshes with assertions (x/oauth2 with the
// assertion as parameters, no secret), and a code it redeems without an
// assertion is refused as invalid_client.
func TestPrivateKeyJWTCodeFlow(t *testing.T) {
	ts := startServer(t, nil)
	key := newECKey(t, "k1")
	c := storage.Client{ID: "web", Name: "web", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: key.jwks, AuthSigningAlgs: []string{"ES256"},
		CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := ts.app.store.CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ts.addUser(t, "u-7", "grace", "pw-grace-123", "user")
	party := newRP(t, ts, "web", "")
	party.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	ctx := context.Background()
	assertionOpts := func() []oauth2.AuthCodeOption {
		return []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("client_assertion_type", oauth.ClientAssertionType),
			oauth2.SetAuthURLParam("client_assertion", key.sign(t, assertionClaims(ts, "web")))}
	}

	authURL, _, _, verifier := party.start()
	code := loginPage(t, newBrowser(t), authURL, "grace", "pw-grace-123").Query().Get("code")
	if _, err := party.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_client") {
		t.Errorf("code exchange without an assertion: %v; want invalid_client", err)
	}
	authURL, _, _, verifier = party.start()
	code = loginPage(t, newBrowser(t), authURL, "grace", "pw-grace-123").Query().Get("code")
	tok, err := party.conf.Exchange(ctx, code, append(assertionOpts(), oauth2.VerifierOption(verifier))...)
	if err != nil {
		t.Fatalf("code exchange with private_key_jwt: %v", err)
	}
	if _, err := party.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil || tok.RefreshToken == "" {
		t.Fatalf("ID token: %v; refresh token %q", err, tok.RefreshToken)
	}
	form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken},
		"client_assertion_type": {oauth.ClientAssertionType}, "client_assertion": {key.sign(t, assertionClaims(ts, "web"))}}
	if resp, body := ts.post(t, "/oauth2/token", form, "", ""); resp.StatusCode != http.StatusOK || body["refresh_token"] == nil {
		t.Errorf("refresh with private_key_jwt: %d %v", resp.StatusCode, body)
	}
}
