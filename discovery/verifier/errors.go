package verifier

import "errors"

// Sentinel errors returned (wrapped) by Verifier.Verify. Test with errors.Is.
var (
	// ErrTokenTooLarge reports a token longer than Config.MaxTokenSize.
	ErrTokenTooLarge = errors.New("verifier: token too large")
	// ErrMalformed reports a token that is not a compact JWS (RFC 7515 §7.1)
	// with a JSON header and a JSON claims set.
	ErrMalformed = errors.New("verifier: malformed token")
	// ErrAlgorithm reports a "alg" header outside the allow-list.
	ErrAlgorithm = errors.New("verifier: signing algorithm not allowed")
	// ErrType reports a "typ" header that is not an accepted access-token
	// type (RFC 9068 §4).
	ErrType = errors.New("verifier: token type not accepted")
	// ErrUnsupportedHeader reports a "crit" header parameter (RFC 7515 §4.1.11).
	ErrUnsupportedHeader = errors.New("verifier: unsupported critical header")
	// ErrUnknownKey reports a token whose key is not in the issuer's JWKS.
	ErrUnknownKey = errors.New("verifier: unknown signing key")
	// ErrSignature reports a signature that does not verify.
	ErrSignature = errors.New("verifier: invalid signature")
	// ErrIssuer reports an "iss" claim different from the configured issuer.
	ErrIssuer = errors.New("verifier: wrong issuer")
	// ErrAudience reports an "aud" claim without the configured audience.
	ErrAudience = errors.New("verifier: wrong audience")
	// ErrExpired reports a token past its "exp" (plus leeway).
	ErrExpired = errors.New("verifier: token expired")
	// ErrNotYetValid reports a token before its "nbf" (minus leeway).
	ErrNotYetValid = errors.New("verifier: token not yet valid")
	// ErrIssuedInFuture reports an "iat" later than now plus leeway.
	ErrIssuedInFuture = errors.New("verifier: token issued in the future")
	// ErrMissingClaim reports a required claim that is absent.
	ErrMissingClaim = errors.New("verifier: missing required claim")
	// ErrKeysUnavailable reports that the issuer's keys could not be
	// fetched and no earlier key set is cached. It is a server-side
	// condition, not a fault of the token.
	ErrKeysUnavailable = errors.New("verifier: signing keys unavailable")
)
