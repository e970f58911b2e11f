package verifier

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestTokenCache(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.TokenCacheSize = 4 })
	claims := ti.claims()
	claims["exp"] = testEpoch.Unix() + 60
	tok := sign(t, key, claims, signOpts{})

	first, err := v.Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if got := v.tokens.len(); got != 1 {
		t.Fatalf("cache entries = %d; want 1", got)
	}
	first.Subject = "changed by a handler"
	second, err := v.Verify(context.Background(), tok)
	if err != nil || second.Subject != "user-42" {
		t.Errorf("cached Verify = %+v, %v; want subject user-42", second, err)
	}

	// A tampered token is never a cache hit.
	if _, err := v.Verify(context.Background(), tok+"A"); err == nil {
		t.Errorf("Verify(tampered) = nil; want error")
	}

	// At exp the entry is dead; within leeway the token is verified afresh.
	clock.Advance(60 * time.Second)
	if _, ok := v.tokens.get(tok, clock.Now(), v.cfg.Leeway); ok {
		t.Errorf("cache hit at exp; want miss")
	}
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Errorf("Verify within leeway = %v; want nil", err)
	}
	clock.Advance(31 * time.Second)
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Errorf("Verify after exp+leeway = %v; want %v", err, ErrExpired)
	}
}

func TestTokenCacheBounded(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.TokenCacheSize = 8 })
	for i := range 100 {
		c := ti.claims()
		c["jti"] = fmt.Sprint(i)
		if _, err := v.Verify(context.Background(), sign(t, key, c, signOpts{})); err != nil {
			t.Fatal(err)
		}
		if got := v.tokens.len(); got > 8 {
			t.Fatalf("cache entries = %d; want at most 8", got)
		}
	}
}

func TestTokenCacheClearedWhenKeyWithdrawn(t *testing.T) {
	oldKey, newKey := newTestKey(t, jose.ES256), newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, oldKey, newKey)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.TokenCacheSize = 8 })
	claims := ti.claims()
	claims["exp"] = testEpoch.Unix() + 3600
	tok := sign(t, oldKey, claims, signOpts{})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		t.Fatal(err)
	}
	ti.publish(newKey) // oldKey withdrawn, e.g. compromised
	clock.Advance(301 * time.Second)
	// The next verification of any token refreshes the expired key set.
	if _, err := v.Verify(context.Background(), sign(t, newKey, claims, signOpts{})); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), tok); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Verify(token of withdrawn key) = %v; want %v", err, ErrUnknownKey)
	}
}
