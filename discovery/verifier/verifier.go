package verifier

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxKeysTried bounds how many keys one token may be checked against (only
// tokens without "kid", or issuers that reuse a kid, need more than one),
// so a token cannot make the verifier run a signature check per JWKS entry.
const maxKeysTried = 4

// Verifier verifies JWT access tokens (RFC 9068) from one issuer for one
// audience. It is safe for concurrent use; build it once with New and share it.
type Verifier struct {
	cfg      Config
	algs     []jose.SignatureAlgorithm // Config.Algorithms, for go-jose
	types    []string                  // normalised Config.Types
	expected Expected                  // Config.Issuer, Audience and Leeway
	rules    claimRules                // Config.RolesClaim, RoleMap and ScopeClaims

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
	cfg.Audiences = slices.Clone(cfg.Audiences)
	v := &Verifier{cfg: cfg, expected: Expected{Issuer: cfg.Issuer, Audience: cfg.Audience, Audiences: cfg.Audiences, Leeway: cfg.Leeway}}
	v.rules = claimRules{
		roles:   slices.Clone(cfg.RolesClaim),
		roleMap: maps.Clone(cfg.RoleMap),
		scopes:  slices.Clone(cfg.ScopeClaims),
	}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
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
//  1. the token is at most MaxTokenSize bytes and a compact JWS (RFC 7515
//     §7.1), parsed by go-jose;
//  2. "alg" is on the allow-list (go-jose refuses any other while parsing),
//     "typ" is an accepted type, and the header has no "crit" or "b64";
//  3. the key is the issuer's JWKS entry named by "kid" (header keys such as
//     "jku" and "jwk" are ignored) and go-jose verifies the signature with it;
//  4. ValidateClaims: "iss" equals the issuer, "aud" contains the audience,
//     "exp" is present and not past, "nbf" and "iat" are not in the future
//     (RFC 7519 §4.1), each with Leeway.
//
// Claims.Roles comes from Config.RolesClaim through Config.RoleMap, and
// Claims.Scopes from Config.ScopeClaims; a roles or scope claim of the
// wrong type is ErrMalformed.
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
	st, err := parseSigned(token, v.algs)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(v.types, normalizeType(st.typ)) {
		return nil, fmt.Errorf("%w: %q", ErrType, truncate(st.typ))
	}
	if err := checkKeyID(st.kid); err != nil {
		return nil, err
	}
	keys, err := v.keysFor(ctx, st.kid, st.alg, now)
	if err != nil {
		return nil, err
	}
	payload, err := st.verify(keys)
	if err != nil {
		return nil, err
	}
	c, err := v.rules.decode(payload)
	if err != nil {
		return nil, err
	}
	if err := ValidateClaims(c, v.expected, now); err != nil {
		return nil, err
	}
	if v.tokens != nil {
		v.tokens.put(token, c, now)
	}
	return c, nil
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
