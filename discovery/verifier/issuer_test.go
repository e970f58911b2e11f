package verifier

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// This file holds the in-test issuer: an httptest server that serves
// discovery metadata and a JWKS like Gatehouse does, and mints tokens with
// go-jose. It is reused by every test in the package.

// testEpoch is the fixed "now" of tests.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is an injectable clock tests advance by hand.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(testEpoch.UnixNano())
	return c
}
func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// testKey is a signing key the test issuer holds.
type testKey struct {
	kid  string
	alg  jose.SignatureAlgorithm
	priv crypto.Signer
}

func (k testKey) jwk() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"}
}

// newTestKey generates a key for alg with an RFC 7638 thumbprint as kid,
// as Gatehouse names its keys.
func newTestKey(t testing.TB, alg jose.SignatureAlgorithm) testKey {
	t.Helper()
	var (
		priv crypto.Signer
		err  error
	)
	switch alg {
	case jose.ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jose.ES384:
		priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case jose.RS256, jose.PS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case jose.EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		t.Fatalf("newTestKey: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return keyWithThumbprint(t, alg, priv)
}

// keyWithThumbprint names priv by its RFC 7638 thumbprint, as Gatehouse
// names its keys.
func keyWithThumbprint(t testing.TB, alg jose.SignatureAlgorithm, priv crypto.Signer) testKey {
	t.Helper()
	jwk := jose.JSONWebKey{Key: priv.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: base64.RawURLEncoding.EncodeToString(tp), alg: alg, priv: priv}
}

// testIssuer serves /.well-known/openid-configuration,
// /.well-known/oauth-authorization-server and /jwks.
type testIssuer struct {
	srv *httptest.Server
	URL string

	mu          sync.Mutex
	published   []testKey
	maxAge      string // Cache-Control value; "" for none
	issuerClaim string // "issuer" in the metadata; default URL
	oidc        bool   // serve the OIDC discovery path

	down       atomic.Bool
	requests   atomic.Int64 // every request, even when down
	jwksHits   atomic.Int64
	metaHits   atomic.Int64
	otherPaths atomic.Int64
}

// newTestIssuer starts an issuer publishing keys; it serves both
// well-known paths and a JWKS with "Cache-Control: max-age=300".
func newTestIssuer(t testing.TB, keys ...testKey) *testIssuer {
	t.Helper()
	ti := &testIssuer{published: keys, maxAge: "public, max-age=300", oidc: true}
	ti.srv = httptest.NewServer(http.HandlerFunc(ti.serve))
	t.Cleanup(ti.srv.Close)
	ti.URL = ti.srv.URL
	return ti
}

func (ti *testIssuer) serve(w http.ResponseWriter, r *http.Request) {
	ti.requests.Add(1)
	if ti.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	ti.mu.Lock()
	defer ti.mu.Unlock()
	switch r.URL.Path {
	case "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server":
		if r.URL.Path == "/.well-known/openid-configuration" && !ti.oidc {
			http.NotFound(w, r)
			return
		}
		ti.metaHits.Add(1)
		iss := ti.issuerClaim
		if iss == "" {
			iss = ti.URL
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              ti.URL + "/jwks",
			"token_endpoint":                        ti.URL + "/oauth2/token",
			"id_token_signing_alg_values_supported": []string{"ES256"},
		})
	case "/jwks":
		ti.jwksHits.Add(1)
		set := jose.JSONWebKeySet{}
		for _, k := range ti.published {
			set.Keys = append(set.Keys, k.jwk())
		}
		if ti.maxAge != "" {
			w.Header().Set("Cache-Control", ti.maxAge)
		}
		w.Header().Set("Content-Type", "application/jwk-set+json")
		json.NewEncoder(w).Encode(set)
	default:
		ti.otherPaths.Add(1)
		http.NotFound(w, r)
	}
}

// publish replaces the published key set (key rotation).
func (ti *testIssuer) publish(keys ...testKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.published = keys
}

func (ti *testIssuer) setMaxAge(cc string) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.maxAge = cc
}

// claims returns a Gatehouse-shaped claim set valid at testEpoch.
func (ti *testIssuer) claims() map[string]any {
	now := testEpoch.Unix()
	return map[string]any{
		"iss":       ti.URL,
		"sub":       "user-42",
		"aud":       []string{"example-api"},
		"exp":       now + 600,
		"iat":       now,
		"nbf":       now,
		"jti":       "tok-1",
		"client_id": "svc-client",
		"scope":     "reports:read profile",
		"roles":     []string{"admin", "auditor"},
		"tenant":    "acme",
	}
}

// signOpts adjusts the JOSE header of a minted token.
type signOpts struct {
	typ     string // default "at+jwt"; "-" for none
	noKid   bool
	headers map[jose.HeaderKey]any
	embed   bool // embed the public key as "jwk"
}

// sign mints a compact JWS over claims with key.
func sign(t testing.TB, key testKey, claims map[string]any, o signOpts) string {
	t.Helper()
	so := &jose.SignerOptions{EmbedJWK: o.embed}
	switch o.typ {
	case "":
		so.WithType("at+jwt")
	case "-":
	default:
		so.WithType(jose.ContentType(o.typ))
	}
	for k, v := range o.headers {
		so.WithHeader(k, v)
	}
	var sk any = jose.JSONWebKey{Key: key.priv, KeyID: key.kid}
	if o.noKid || o.embed {
		sk = key.priv
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: key.alg, Key: sk}, so)
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// rawToken assembles a compact JWS from a header, claims and signature
// without any library checks, for forged tokens.
func rawToken(t testing.TB, header, claims map[string]any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(header) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// newTestVerifier builds a Verifier for ti with the fake clock; edit
// adjusts the config.
func newTestVerifier(t testing.TB, ti *testIssuer, clock *fakeClock, edit func(*Config)) *Verifier {
	t.Helper()
	cfg := Config{
		Issuer:     ti.URL,
		Audience:   "example-api",
		HTTPClient: ti.srv.Client(),
		Now:        clock.Now,
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return v
}

// tamper replaces one segment of a compact token.
func tamper(tok string, part int, fn func(string) string) string {
	parts := strings.Split(tok, ".")
	parts[part] = fn(parts[part])
	return strings.Join(parts, ".")
}

func b64json(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("b64json: ", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
