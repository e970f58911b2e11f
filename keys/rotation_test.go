package keys_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// TestRotationUnderLoad issues tokens from two instances without pause
// while keys rotate on schedule and on demand, serves the JWKS with its
// Cache-Control max-age through discovery.JWKSHandler behind a
// round-robin "load balancer", and verifies every token with
// discovery/verifier, which caches the JWKS per max-age, on the same fake
// clock: no token may fail while it is unexpired, and no JWKS fetch may be
// caused by an unknown kid (the publish lead makes the verifier's
// MinRefreshInterval irrelevant). Afterwards the first key is gone from the
// JWKS.
func TestRotationUnderLoad(t *testing.T) {
	for _, alg := range []string{keys.ES256, keys.EdDSA, keys.RS256} {
		t.Run(alg, func(t *testing.T) { testRotationUnderLoad(t, alg) })
	}
}

func testRotationUnderLoad(t *testing.T, alg string) {
	const (
		maxAge   = 5 * time.Minute
		refresh  = 10 * time.Second
		lifetime = 10 * time.Minute
		step     = 5 * time.Second
	)
	// The rotation period is shorter than the publish lead, so every key
	// signs as soon as the lead allows and not a moment later: the tightest
	// schedule the manager permits, a rotation every 6m10s.
	const period = time.Minute
	hours := 3.0
	if alg == keys.RS256 {
		hours = 0.5 // RSA key generation is slow under -race
	}
	duration := time.Duration(hours * float64(time.Hour))
	ctx := context.Background()
	clock := keystest.NewClock(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	store := memory.New()
	opts := keys.Options{
		Algorithm:        alg,
		Secrets:          keystest.MustSecrets(t, keystest.SecretA),
		Now:              clock.Now,
		RotationPeriod:   period,
		JWKSMaxAge:       maxAge,
		RefreshInterval:  refresh,
		MaxTokenLifetime: lifetime,
	}
	instances := make([]*keys.Manager, 2)
	for i := range instances {
		m, err := keys.Open(ctx, store, opts)
		if err != nil {
			t.Fatalf("keys.Open: %v", err)
		}
		instances[i] = m
	}
	firstKID := instances[0].Ring().Set().Active.ID

	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	defer srv.Close()
	var lb, jwksFetches atomic.Int64
	jwks := discovery.JWKSHandler(func() []byte {
		return instances[lb.Add(1)%2].Ring().JWKS()
	}, maxAge)
	mux.Handle(discovery.JWKSPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		jwksFetches.Add(1)
		jwks.ServeHTTP(w, r)
	}))
	mux.Handle(discovery.OpenIDConfigurationPath, discovery.MetadataHandler(discovery.Config{
		Issuer: srv.URL, Algorithms: instances[0].Ring().Algorithms, MaxAge: maxAge,
	}))
	v, err := verifier.New(verifier.Config{
		Issuer: srv.URL, Audience: "api", Now: clock.Now, HTTPClient: srv.Client(),
	})
	if err != nil {
		t.Fatal(err)
	}

	type issued struct {
		token string
		exp   time.Time
	}
	var outstanding []issued
	var signed, verified, failures int
	kids := map[string]bool{}
	check := func(tok string) {
		verified++
		if _, err := v.Verify(ctx, tok); err != nil {
			failures++
			if failures <= 5 {
				t.Errorf("at %s: Verify = %v", clock.Now().Format(time.TimeOnly), err)
			}
		}
	}
	steps := int(duration / step)
	for i := range steps {
		clock.Advance(step)
		now := clock.Now()
		// The instances refresh every 10 s, out of step with each other.
		if m := instances[i%2]; (i/2)%int(refresh/(2*step)) == 0 {
			if err := m.Refresh(ctx); err != nil {
				t.Fatalf("Refresh: %v", err)
			}
		}
		if i == steps/2 { // an operator rotates on demand
			if _, err := instances[1].Rotate(ctx); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
		}
		for j, m := range instances {
			payload, _ := json.Marshal(map[string]any{
				"iss": srv.URL, "aud": []string{"api"}, "sub": "user", "jti": fmt.Sprint(i, "-", j),
				"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(lifetime).Unix(),
			})
			tok, err := m.Ring().SignAccessToken(payload)
			if err != nil {
				t.Fatalf("SignAccessToken: %v", err)
			}
			signed++
			kids[m.Ring().Set().Active.ID] = true
			check(tok)
			outstanding = append(outstanding, issued{tok, now.Add(lifetime)})
		}
		// Verify again the oldest tokens still valid: those of keys
		// retired longest ago.
		for len(outstanding) > 0 && !now.Before(outstanding[0].exp) {
			outstanding = outstanding[1:]
		}
		for _, o := range outstanding[:min(2, len(outstanding))] {
			check(o.token)
		}
	}
	if failures > 0 {
		t.Fatalf("%d of %d verifications failed", failures, verified)
	}
	lead := maxAge + refresh + keys.DefaultLeeway
	if want := int(duration/lead) - 1; len(kids) < want {
		t.Fatalf("%v with rotations every %v signed with %d keys; want at least %d", duration, lead, len(kids), want)
	}
	// Only max-age expiries fetch the JWKS, never an unknown kid.
	if maxFetches := int64(duration/maxAge) + 2; jwksFetches.Load() > maxFetches {
		t.Fatalf("verifier fetched the JWKS %d times; want at most %d (one per max-age)", jwksFetches.Load(), maxFetches)
	}
	resp, err := srv.Client().Get(srv.URL + discovery.JWKSPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var set struct{ Keys []struct{ Kid string } }
	if err := json.Unmarshal(body, &set); err != nil {
		t.Fatal(err)
	}
	for _, k := range set.Keys {
		if k.Kid == firstKID {
			t.Fatalf("JWKS still publishes the first key %s after its retirement window: %s", firstKID, body)
		}
	}
	// Retention (10s + 10m + 1m) is under two rotation periods: per line
	// (alg's and the RS256 ID-token line), next, active and two retired.
	lines := 2
	if alg == keys.RS256 {
		lines = 1
	}
	if len(set.Keys) > 4*lines {
		t.Fatalf("JWKS has %d keys; want at most next, active and two retired of each line", len(set.Keys))
	}
	t.Logf("%s: %d tokens signed with %d keys over %v, %d verifications, 0 failures, %d JWKS fetches",
		alg, signed, len(kids), duration, verified, jwksFetches.Load())
}
