package storage

import (
	"context"
	"time"
)

// Signing-key states (design D6). A key moves next -> active -> retired and
// is then deleted; an emergency revocation moves any key to revoked, which
// is never published again.
const (
	// KeyNext is published in the JWKS but does not sign yet.
	KeyNext = "next"
	// KeyActive signs new access tokens.
	KeyActive = "active"
	// KeyRetired no longer signs and stays published until the last token
	// it signed has expired (DeleteAfter).
	KeyRetired = "retired"
	// KeyRevoked was withdrawn in an emergency: not published, not
	// signing, private part erased; the row stays until DeleteAfter as a
	// record for operators.
	KeyRevoked = "revoked"
)

// SigningKey is one asymmetric access-token signing key as the store keeps
// it. The private key is only ever stored encrypted (AES-256-GCM under the
// master secret, sealed by package keys); stores never see it in the clear.
type SigningKey struct {
	// ID is the key's "kid", its RFC 7638 JWK thumbprint.
	ID string
	// Algorithm is the JWS "alg": ES256, RS256 or EdDSA.
	Algorithm string
	// State is KeyNext, KeyActive, KeyRetired or KeyRevoked.
	State string
	// PrivateKeyEnc is the sealed PKCS #8 private key; empty once revoked.
	PrivateKeyEnc []byte
	// PublicJWK is the public key as a JWK (JSON), public members only.
	PublicJWK []byte
	CreatedAt time.Time
	// ActivateAt is the earliest time a next key may start signing: its
	// creation plus at least one JWKS cache lifetime.
	ActivateAt  time.Time
	ActivatedAt time.Time
	// RetireAt is when the active key is due to be replaced (scheduled
	// rotation, or now for a rotation on demand).
	RetireAt  time.Time
	RetiredAt time.Time
	// DeleteAfter is when a retired or revoked key is deleted: retirement
	// plus the longest access-token lifetime plus leeway.
	DeleteAfter time.Time
	UpdatedAt   time.Time
}

// KeyStore keeps the signing keys that every instance shares.
type KeyStore interface {
	// ListSigningKeys returns every stored key, ordered by CreatedAt.
	ListSigningKeys(ctx context.Context) ([]SigningKey, error)
	// UpdateSigningKeys applies fn to the stored keys atomically with
	// respect to every other UpdateSigningKeys call on the same database,
	// from any process: fn sees the current keys and returns the complete
	// new set. Keys missing from the result are deleted, new ones inserted,
	// changed ones updated. If fn returns an error nothing is written and
	// UpdateSigningKeys returns that error unchanged, so a caller can give
	// way when another instance already did the work (a compare-and-swap).
	// fn must not use the store.
	UpdateSigningKeys(ctx context.Context, fn func(old []SigningKey) ([]SigningKey, error)) error
}
