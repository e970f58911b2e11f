package storage

import (
	"context"
	"crypto/sha256"
	"time"
)

// AssertionStore remembers the JWTs Gatehouse has accepted as assertions
// (RFC 7523: the JWT bearer grant's assertion, a private_key_jwt client's
// assertion, a token exchange's subject token), so that each is accepted
// once: "jti" replay is refused (RFC 7523 section 3, item 7). An entry lives
// until the assertion expires; the janitor deletes it after that.
type AssertionStore interface {
	// UseAssertion records digest as used until expiresAt, in one atomic
	// step: a digest recorded with an expiry after now is ErrAlreadyExists,
	// so of concurrent uses of one digest exactly one succeeds. A record
	// that expired at or before now is replaced.
	UseAssertion(ctx context.Context, digest []byte, expiresAt, now time.Time) error
	// DeleteExpiredAssertions deletes up to limit records that expired
	// before before, and returns how many it deleted.
	DeleteExpiredAssertions(ctx context.Context, before time.Time, limit int) (int, error)
}

// AssertionDigest is the key UseAssertion records for the assertion with
// the given jti from issuer, in a namespace kind ("client_assertion",
// "jwt_bearer", ...): each issuer has its own jti space (RFC 7519 section
// 4.1.7), and a digest keeps the key's size fixed whatever the sender
// puts in the claims.
func AssertionDigest(kind, issuer, jti string) []byte {
	h := sha256.New()
	for _, s := range []string{kind, issuer, jti} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}
