package verifier

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// maxKeysTried bounds how many keys one token may be checked against (only
// tokens without "kid", or issuers that reuse a kid, need more than one),
// so a token cannot make the verifier run a signature check per JWKS entry.
const maxKeysTried = 4

// Verifier verifies JWT access tokens (RFC 9068) from one issuer for one
// audience. It is safe for concurrent use; build it once with New and share it.
type Verifier struct {
	cfg   Config
	types []string // normalised Config.Types

	keys atomic.Pointer[keySet]

	mu          sync.Mutex
	inflight    *refreshCall // the JWKS fetch in progress, if any
	lastAttempt time.Time    // start of the last JWKS fetch
	jwksURI     string       // from discovery; reset after a failed fetch

	tokens *tokenCache // nil unless Config.TokenCacheSize > 0
}

// New returns a Verifier for cfg after applying defaults and validating it.
// It does no network I/O: the discovery document and the JWKS are fetched
// on the first Verify, or by Refresh.
func New(cfg Config) (*Verifier, error) {
	cfg = cfg.withDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg.Algorithms = slices.Clone(cfg.Algorithms)
	v := &Verifier{cfg: cfg}
	for _, t := range cfg.Types {
		v.types = append(v.types, normalizeType(t))
	}
	if cfg.TokenCacheSize > 0 {
		v.tokens = newTokenCache(cfg.TokenCacheSize)
	}
	return v, nil
}

// Issuer returns the configured issuer.
func (v *Verifier) Issuer() string { return v.cfg.Issuer }

// Audience returns the configured audience.
func (v *Verifier) Audience() string { return v.cfg.Audience }

// Verify checks token and returns its claims. Errors wrap one of the
// package's sentinel errors. The checks follow RFC 9068 §4:
//
//  1. the token is at most MaxTokenSize bytes and a compact JWS (RFC 7515 §7.1);
//  2. "alg" is on the allow-list and "typ" is an accepted type;
//  3. the key is the issuer's JWKS entry named by "kid" (header keys such as
//     "jku" and "jwk" are ignored) and the signature verifies;
//  4. "iss" equals the issuer, "aud" contains the audience, "exp" is present
//     and not past, "nbf" is not in the future and "iat" is not in the future
//     (RFC 7519 §4.1), each with Leeway.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	if len(token) > v.cfg.MaxTokenSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTokenTooLarge, len(token), v.cfg.MaxTokenSize)
	}
	now := v.cfg.Now()
	if v.tokens != nil {
		if c, ok := v.tokens.get(token, now, v.cfg.Leeway); ok {
			return c, nil
		}
	}
	jws, err := parseCompact(token)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.cfg.Algorithms, jws.alg) {
		return nil, fmt.Errorf("%w: %q", ErrAlgorithm, truncate(jws.alg))
	}
	if !slices.Contains(v.types, normalizeType(jws.typ)) {
		return nil, fmt.Errorf("%w: %q", ErrType, truncate(jws.typ))
	}
	if err := checkKeyID(jws.kid); err != nil {
		return nil, err
	}
	keys, err := v.keysFor(ctx, jws.kid, jws.alg, now)
	if err != nil {
		return nil, err
	}
	verified := false
	for _, k := range keys {
		if verified = k.verify(jws.alg, jws.signingInput, jws.signature); verified {
			break
		}
	}
	if !verified {
		return nil, ErrSignature
	}
	c, err := decodeClaims(jws.payload)
	if err != nil {
		return nil, err
	}
	if err := v.checkClaims(c, now); err != nil {
		return nil, err
	}
	if v.tokens != nil {
		v.tokens.put(token, c, now)
	}
	return c, nil
}

// checkClaims validates the claims RFC 9068 §4 asks a resource server to
// check, with the configured leeway (RFC 7519 §4.1.4, §4.1.5).
func (v *Verifier) checkClaims(c *Claims, now time.Time) error {
	if c.Issuer != v.cfg.Issuer {
		return fmt.Errorf("%w: %q", ErrIssuer, truncate(c.Issuer))
	}
	if !slices.Contains(c.Audience, v.cfg.Audience) {
		return fmt.Errorf("%w: %q not in aud", ErrAudience, v.cfg.Audience)
	}
	if c.Expiry.IsZero() {
		return fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	leeway := v.cfg.Leeway
	if !now.Before(c.Expiry.Add(leeway)) {
		return fmt.Errorf("%w: at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: until %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(leeway)) {
		return fmt.Errorf("%w: at %s", ErrIssuedInFuture, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// checkKeyID refuses kids no honest issuer sends: very long ones and ones
// with control characters.
func checkKeyID(kid string) error {
	if len(kid) > maxKeyIDLen {
		return fmt.Errorf("%w: kid of %d bytes", ErrMalformed, len(kid))
	}
	for i := 0; i < len(kid); i++ {
		if kid[i] < 0x20 || kid[i] == 0x7f {
			return fmt.Errorf("%w: kid has control characters", ErrMalformed)
		}
	}
	return nil
}

// truncate shortens attacker-controlled strings quoted in errors.
func truncate(s string) string {
	const n = 64
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
