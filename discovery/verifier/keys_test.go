package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestKeysTTL(t *testing.T) {
	v, err := New(Config{Issuer: "https://id.example", Audience: "api"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cacheControl, age string
		want              time.Duration
	}{
		{"", "", DefaultKeysTTL},
		{"max-age=120", "", 120 * time.Second},
		{"public, max-age=600", "", 600 * time.Second},
		{"public, MAX-AGE=600, must-revalidate", "", 600 * time.Second},
		{`max-age="60"`, "", 60 * time.Second},
		{"max-age=600", "100", 500 * time.Second},
		{"max-age=5", "", DefaultKeysMinTTL},
		{"max-age=0", "", DefaultKeysMinTTL},
		{"no-store", "", DefaultKeysMinTTL},
		{"no-cache, max-age=600", "", DefaultKeysMinTTL},
		{"max-age=99999999999999999999", "", DefaultKeysTTL},
		{"max-age=9999999999", "", DefaultKeysMaxTTL},
		{"max-age=-1", "", DefaultKeysTTL},
		{"max-age=abc", "", DefaultKeysTTL},
	}
	for _, tt := range tests {
		h := http.Header{}
		if tt.cacheControl != "" {
			h.Set("Cache-Control", tt.cacheControl)
		}
		if tt.age != "" {
			h.Set("Age", tt.age)
		}
		if got := v.keysTTL(h); got != tt.want {
			t.Errorf("keysTTL(Cache-Control %q, Age %q) = %v; want %v", tt.cacheControl, tt.age, got, tt.want)
		}
	}
}

// TestKeyCacheMaxAge counts JWKS fetches as the clock moves through the
// max-age the issuer advertises.
func TestKeyCacheMaxAge(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	ti.setMaxAge("max-age=120")
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.Leeway = time.Hour })
	tok := sign(t, key, ti.claims(), signOpts{})

	steps := []struct {
		advance   time.Duration
		wantJWKS  int64
		wantCalls int
	}{
		{0, 1, 1},
		{0, 1, 50},
		{119 * time.Second, 1, 10},
		{1 * time.Second, 2, 10}, // max-age reached: one refetch
		{60 * time.Second, 2, 10},
		{60 * time.Second, 3, 10},
	}
	for i, s := range steps {
		clock.Advance(s.advance)
		for range s.wantCalls {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Fatalf("step %d: Verify = %v; want nil", i, err)
			}
		}
		if got := ti.jwksHits.Load(); got != s.wantJWKS {
			t.Errorf("step %d (+%v): JWKS fetches = %d; want %d", i, s.advance, got, s.wantJWKS)
		}
	}
	if got := ti.metaHits.Load(); got != 1 {
		t.Errorf("discovery fetches = %d; want 1", got)
	}
}

// TestUnknownKidRateLimited floods the verifier with tokens naming 1000
// forged kids, concurrently: the issuer sees at most one refetch per
// MinRefreshInterval.
func TestUnknownKidRateLimited(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, nil)
	if _, err := v.Verify(context.Background(), sign(t, key, ti.claims(), signOpts{})); err != nil {
		t.Fatal(err)
	}
	attacker := newTestKey(t, jose.ES256)
	forged := make([]string, 1000)
	for i := range forged {
		forged[i] = sign(t, attacker, ti.claims(), signOpts{noKid: true, headers: map[jose.HeaderKey]any{"kid": fmt.Sprintf("forged-%d", i)}})
	}
	flood := func() {
		var wg sync.WaitGroup
		for _, tok := range forged {
			wg.Go(func() {
				if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
					t.Errorf("Verify(forged) = %v; want %v", err, ErrUnknownKey)
				}
			})
		}
		wg.Wait()
	}

	flood() // within MinRefreshInterval of the first fetch: no refetch
	if got := ti.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches after flood in the first interval = %d; want 1", got)
	}
	clock.Advance(DefaultMinRefreshInterval)
	flood() // one refetch shared by everyone
	if got := ti.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches after flood in the second interval = %d; want 2", got)
	}
	clock.Advance(DefaultMinRefreshInterval / 2)
	flood()
	if got := ti.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches after flood half an interval later = %d; want 2", got)
	}
}

// TestRefreshCoalesced holds the JWKS response until 100 callers wait on
// it: they share one fetch.
func TestRefreshCoalesced(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	release := make(chan struct{})
	inner := ti.srv.Config.Handler
	ti.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			<-release
		}
		inner.ServeHTTP(w, r)
	})
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	tok := sign(t, key, ti.claims(), signOpts{})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if _, err := v.Verify(context.Background(), tok); err != nil {
				t.Errorf("Verify = %v; want nil", err)
			}
		})
	}
	time.Sleep(50 * time.Millisecond) // let callers pile up on the fetch
	close(release)
	wg.Wait()
	if got := ti.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches = %d; want 1", got)
	}
}

func TestCallerGivesUpFetchContinues(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	release := make(chan struct{})
	inner := ti.srv.Config.Handler
	ti.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/jwks" {
			<-release
		}
		inner.ServeHTTP(w, r)
	})
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	tok := sign(t, key, ti.claims(), signOpts{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrKeysUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify(cancelled) = %v; want %v and %v", err, ErrKeysUnavailable, context.Canceled)
	}
	close(release)
	// The fetch the cancelled caller started completes and serves the next.
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify = %v; want nil", err)
	}
	if got := ti.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetches = %d; want 1", got)
	}
}

// TestIssuerDownKeepsLastGoodSet: once keys are cached, an unreachable
// issuer neither drops them nor gets hammered.
func TestIssuerDownKeepsLastGoodSet(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.Leeway = 24 * time.Hour })
	tok := sign(t, key, ti.claims(), signOpts{})
	verify := func(step string) {
		t.Helper()
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("%s: Verify = %v; want nil", step, err)
		}
	}
	verify("issuer up")
	before := ti.requests.Load() // discovery + JWKS

	ti.down.Store(true)
	clock.Advance(time.Hour) // the cached set has expired
	for range 100 {
		verify("issuer down")
	}
	// The expired set triggers one retry (JWKS, then rediscovery after
	// the failure would only come with the next retry).
	if got := ti.requests.Load() - before; got != 1 {
		t.Errorf("requests while down = %d; want 1", got)
	}
	clock.Advance(DefaultMinRefreshInterval)
	verify("issuer still down")
	if got := ti.requests.Load() - before; got != 3 {
		t.Errorf("requests while down after one interval = %d; want 3 (retry rediscovers: two well-known paths)", got)
	}

	ti.down.Store(false)
	clock.Advance(DefaultMinRefreshInterval)
	verify("issuer back")
	jwks := ti.jwksHits.Load()
	clock.Advance(time.Minute)
	verify("fresh set")
	if got := ti.jwksHits.Load(); got != jwks {
		t.Errorf("JWKS fetches within max-age after recovery = %d; want %d", got, jwks)
	}
}

func TestIssuerDownAtStart(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	ti.down.Store(true)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, nil)
	tok := sign(t, key, ti.claims(), signOpts{})
	for range 20 {
		if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrKeysUnavailable) {
			t.Fatalf("Verify = %v; want %v", err, ErrKeysUnavailable)
		}
	}
	if got := ti.requests.Load(); got != 2 {
		t.Errorf("requests = %d; want 2 (one discovery attempt, both paths)", got)
	}
	ti.down.Store(false)
	clock.Advance(DefaultMinRefreshInterval)
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify after recovery = %v; want nil", err)
	}
}

// TestKeyRotation: a key the issuer starts publishing is picked up by the
// unknown-kid refetch; a key it stops publishing is dropped at max-age.
func TestKeyRotation(t *testing.T) {
	oldKey, newKey := newTestKey(t, jose.ES256), newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, oldKey)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.Leeway = time.Hour })
	oldTok := sign(t, oldKey, ti.claims(), signOpts{})
	newTok := sign(t, newKey, ti.claims(), signOpts{})

	if _, err := v.Verify(context.Background(), oldTok); err != nil {
		t.Fatalf("Verify(old) = %v; want nil", err)
	}
	ti.publish(oldKey, newKey)
	clock.Advance(DefaultMinRefreshInterval)
	if _, err := v.Verify(context.Background(), newTok); err != nil {
		t.Fatalf("Verify(new) after rotation = %v; want nil", err)
	}
	if got := ti.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetches = %d; want 2", got)
	}
	if _, err := v.Verify(context.Background(), oldTok); err != nil {
		t.Errorf("Verify(old) during overlap = %v; want nil", err)
	}

	ti.publish(newKey)
	clock.Advance(301 * time.Second) // past max-age=300
	if _, err := v.Verify(context.Background(), oldTok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify(old) after retirement = %v; want %v", err, ErrUnknownKey)
	}
	if _, err := v.Verify(context.Background(), newTok); err != nil {
		t.Errorf("Verify(new) = %v; want nil", err)
	}
}

func TestVerifyWithoutKid(t *testing.T) {
	es, ed := newTestKey(t, jose.ES256), newTestKey(t, jose.EdDSA)
	ti := newTestIssuer(t, ed, es)
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	for _, k := range []testKey{es, ed} {
		if _, err := v.Verify(context.Background(), sign(t, k, ti.claims(), signOpts{noKid: true})); err != nil {
			t.Errorf("Verify(%s, no kid) = %v; want nil", k.alg, err)
		}
	}
}

func TestParseJWKS(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	good := jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "good", Algorithm: "ES256", Use: "sig"}
	tests := []struct {
		name    string
		keys    []any
		wantIDs []string
	}{
		{"one good", []any{good}, []string{"good"}},
		{"symmetric skipped", []any{jose.JSONWebKey{Key: []byte("secret-secret-secret"), KeyID: "oct", Algorithm: "HS256"}, good}, []string{"good"}},
		{"enc skipped", []any{jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "enc", Use: "enc"}, good}, []string{"good"}},
		{"RSA 1024 skipped", []any{jose.JSONWebKey{Key: &small.PublicKey, KeyID: "small"}, good}, []string{"good"}},
		{"HS alg skipped", []any{jose.JSONWebKey{Key: &ec.PublicKey, KeyID: "hs", Algorithm: "HS256"}, good}, []string{"good"}},
		{"garbage skipped", []any{map[string]string{"kty": "XYZ"}, "nonsense", good}, []string{"good"}},
		{"private key reduced to public", []any{jose.JSONWebKey{Key: ec, KeyID: "priv"}}, []string{"priv"}},
		{"none usable", []any{jose.JSONWebKey{Key: []byte("secret"), KeyID: "oct"}}, nil},
	}
	for _, tt := range tests {
		body, err := json.Marshal(map[string]any{"keys": tt.keys})
		if err != nil {
			t.Fatal(err)
		}
		got, err := parseJWKS(body)
		if tt.wantIDs == nil {
			if err == nil {
				t.Errorf("%s: parseJWKS = %d keys; want error", tt.name, len(got))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: parseJWKS = %v; want nil", tt.name, err)
			continue
		}
		var ids []string
		for _, k := range got {
			ids = append(ids, k.kid)
			if ec, ok := k.key.(*ecdsa.PublicKey); ok && ec.Curve == nil {
				t.Errorf("%s: key %q has no curve", tt.name, k.kid)
			}
		}
		if fmt.Sprint(ids) != fmt.Sprint(tt.wantIDs) {
			t.Errorf("%s: parseJWKS kids = %v; want %v", tt.name, ids, tt.wantIDs)
		}
	}
}
