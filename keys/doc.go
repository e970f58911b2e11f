// Package keys owns Gatehouse's asymmetric signing keys (design D6): it
// generates them (ES256 by default, RS256 of 2048 bits, EdDSA; crypto/rand;
// kid = RFC 7638 thumbprint), seals them for the store, rotates and
// revokes them through the store, holds the parsed key set in memory, signs
// access tokens with the active key, verifies tokens by kid against the
// published keys, and builds the JWKS (RFC 7517). It never hands out private
// key material: the JWKS, List and every error carry public members and
// kids only.
//
// # Signing
//
// A Ring holds an immutable Set that a Manager swaps atomically. Signing
// costs one signature plus two base64 encodings: the compact JWS is written
// by hand with the protected header encoded once per key; nothing is
// decrypted, parsed or read from a database per token.
//
// # At rest
//
// Private keys are stored as PKCS #8 sealed with AES-256-GCM under a key
// derived (HKDF-SHA256) from the first master secret, with the kid as
// additional data. Master secrets come from GATEHOUSE_SECRETS
// (comma-separated) or GATEHOUSE_SECRETS_FILE (one a line, '#' comments),
// newest first: each is at least 32 bytes, given either as is or as
// "base64:" followed by the base64 of at least 32 bytes (e.g.
// "base64:$(openssl rand -base64 32)"). The first seals, all open, so a
// secret is rotated by putting the new one first, running
// `gatehouse keys reencrypt`, then removing the old one. Nothing else is
// keyed by the master secrets (refresh tokens are stored as plain digests),
// so a rotation invalidates no token. Open refuses to start when no secret opens a stored
// key, and writes nothing in that case.
//
// # Lifecycle and timing
//
// A key is next (published, not signing), then active (signing), then
// retired (published, not signing), then deleted; revoked is the emergency
// exit. With M the JWKS Cache-Control max-age, R the refresh interval of
// each instance, T the longest access-token lifetime and L the leeway:
//
//   - a next key signs no earlier than PublishLead >= M + R after it was
//     stored (default M + R + L): every instance publishes it within R, so
//     every JWKS a verifier still caches when the key first signs already
//     holds it, and the verifier never needs an unknown-kid refetch;
//   - a retired key stays published for R + T + L after retirement: an
//     instance may sign with it until its next refresh, and its last token
//     lives T plus the verifier's leeway;
//   - rotation happens every RotationPeriod (at least PublishLead), and on
//     demand (Rotate) as soon as the next key is old enough.
//
// Every change is a read-modify-write on the store (UpdateSigningKeys),
// serialised across instances, and decides from the stored state and the
// clock: when N instances find a rotation due, the first carries it out and
// the others find nothing left to do.
//
// # Emergency revocation
//
// Revoke removes a key from the JWKS and from signing at once on the
// calling instance, within R on the others, and erases its sealed private
// part. If it was active, the next key signs immediately even if it has
// been published for less than PublishLead: availability over the usual
// guarantee. Verifiers whose cached JWKS lacks it refetch on its first
// token (discovery/verifier does so once per MinRefreshInterval). Tokens of
// the revoked key stop verifying at Gatehouse (introspection) at once, and
// at resource servers when their cached JWKS expires (at most M).
package keys
