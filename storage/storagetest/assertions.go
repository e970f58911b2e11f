package storagetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// testAssertions checks that an assertion is used once while it lives,
// may be recorded again once it expired, and that the janitor's delete
// keeps live records.
func testAssertions(t *testing.T, s storage.Store) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	a := storage.AssertionDigest("jwt_bearer", "https://issuer.example", "jti-1")
	b := storage.AssertionDigest("client_assertion", "https://issuer.example", "jti-1")
	mustNil(t, "UseAssertion(a)", s.UseAssertion(ctx, a, now.Add(time.Minute), now))
	wantErr(t, "UseAssertion(a again)", s.UseAssertion(ctx, a, now.Add(time.Minute), now.Add(30*time.Second)), storage.ErrAlreadyExists)
	mustNil(t, "UseAssertion(same jti, other kind)", s.UseAssertion(ctx, b, now.Add(time.Minute), now))
	// Once a has expired, its digest may be recorded again.
	mustNil(t, "UseAssertion(a after expiry)", s.UseAssertion(ctx, a, now.Add(time.Hour), now.Add(time.Minute)))
	wantErr(t, "UseAssertion(a, renewed)", s.UseAssertion(ctx, a, now.Add(time.Hour), now.Add(2*time.Minute)), storage.ErrAlreadyExists)

	n, err := s.DeleteExpiredAssertions(ctx, now.Add(2*time.Minute), 10)
	mustNil(t, "DeleteExpiredAssertions", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredAssertions = %d; want 1 (b expired, a lives)", n)
	}
	wantErr(t, "UseAssertion(a after delete)", s.UseAssertion(ctx, a, now.Add(time.Hour), now.Add(2*time.Minute)), storage.ErrAlreadyExists)
}

// testAssertionRace uses each of several assertions from many goroutines
// at once: exactly one use of each may succeed.
func testAssertionRace(t *testing.T, s storage.Store) {
	const assertions, racers = 20, 8
	ctx := context.Background()
	now := time.Now()
	wins := race(t, "UseAssertion", assertions, racers, storage.ErrAlreadyExists, func(i, _ int) error {
		d := storage.AssertionDigest("race", "https://issuer.example", string(rune('a'+i)))
		return s.UseAssertion(ctx, d, now.Add(time.Minute), now)
	})
	for i, n := range wins {
		if n != 1 {
			t.Errorf("assertion %d: %d of %d concurrent uses succeeded; want exactly 1", i, n, racers)
		}
	}
}
