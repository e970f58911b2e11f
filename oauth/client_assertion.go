package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"time"

	josev3 "github.com/go-jose/go-jose/v3"
	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// ClientAssertionType is the client_assertion_type of a JWT client
// assertion (RFC 7523 section 2.2).
const ClientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// MaxAssertionLifetime caps how far in the future a client assertion's
// "exp" may lie (plus the leeway): an assertion is made for one request,
// and its jti is remembered until it expires. One hour is the longest
// that common clients sign for (zitadel/oidc's relying party signs its
// assertions for one hour; Okta refuses longer ones).
const MaxAssertionLifetime = time.Hour

// assertionKind is the storage.AssertionDigest namespace of client
// assertions.
const assertionKind = "client_assertion"

// maxNumericDate is the year 9999; later dates are refused as nonsense.
const maxNumericDate = 253402300799

// maxJTILen bounds an assertion's "jti".
const maxJTILen = 256

// assertionAuth authenticates private_key_jwt clients (RFC 7523 section
// 2.2 and 3, OIDC Core 1.0 section 9). It replaces fosite's handling of
// client_assertion, which answers 500 for an expired assertion, 400 for an
// unknown kid or a replayed jti, records the jti before checking "aud" (so
// a wrong audience burns it), accepts any "exp" and fetches jwks_uri for
// 15 s with retries (FOSITE-OIDC.md). Every failure here is 401
// invalid_client, except a store outage (503).
type assertionAuth struct {
	store   *fositeStore
	fetcher *jwksFetcher
	// audiences identify this server as an assertion's audience: the
	// token endpoint URL (RFC 7523 section 3, OIDC Core section 9) and
	// the issuer identifier (RFC 7523bis, which requires it).
	audiences []string
	leeway    time.Duration
	now       func() time.Time
	logger    *slog.Logger
}

// hasAssertion reports whether a request authenticates with a client
// assertion.
func hasAssertion(form url.Values) bool {
	return form.Has("client_assertion") || form.Has("client_assertion_type")
}

// strategy is fosite's ClientAuthenticationStrategy: requests with a
// client assertion are Gatehouse's, the rest go to fosite's default
// (client_secret_basic, client_secret_post, none) unchanged.
func (a *assertionAuth) strategy(def fosite.ClientAuthenticationStrategy) fosite.ClientAuthenticationStrategy {
	return func(ctx context.Context, r *http.Request, form url.Values) (fosite.Client, error) {
		if hasAssertion(form) {
			return a.authenticate(ctx, form)
		}
		return def(ctx, r, form)
	}
}

func assertionErr(format string, args ...any) error {
	return fosite.ErrInvalidClient.WithHintf(format, args...)
}

// assertionClaims are the claims RFC 7523 section 3 asks of a client
// assertion, decoded strictly: a claim of the wrong type refuses the
// assertion.
type assertionClaims struct {
	Issuer   string          `json:"iss"`
	Subject  string          `json:"sub"`
	Audience json.RawMessage `json:"aud"`
	Expiry   *float64        `json:"exp"`
	NotBef   *float64        `json:"nbf"`
	IssuedAt *float64        `json:"iat"`
	ID       string          `json:"jti"`
}

func (c assertionClaims) audiences() ([]string, error) {
	if len(c.Audience) == 0 {
		return nil, nil
	}
	var one string
	if json.Unmarshal(c.Audience, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(c.Audience, &many); err != nil {
		return nil, errors.New("aud is not a string or an array of strings")
	}
	return many, nil
}

func numericDate(f *float64) time.Time {
	if f == nil {
		return time.Time{}
	}
	return time.Unix(int64(*f), 0)
}

// authenticate checks a client assertion and returns its client. The jti
// is recorded last, once everything else holds, so a rejected assertion
// never burns it; the record is one atomic insert, so of concurrent
// presentations exactly one succeeds.
func (a *assertionAuth) authenticate(ctx context.Context, form url.Values) (fosite.Client, error) {
	switch typ, raw := form.Get("client_assertion_type"), form.Get("client_assertion"); {
	case raw == "" || typ == "":
		return nil, errInvalidRequest("client_assertion and client_assertion_type go together (RFC 7521 section 4.2).")
	case typ != ClientAssertionType:
		// RFC 6749 section 5.2: an unsupported authentication method.
		return nil, assertionErr("The client_assertion_type is not supported; use %s.", ClientAssertionType)
	case len(raw) > maxTokenBytes:
		return nil, assertionErr("The client assertion is too large.")
	}
	jws, err := jose.ParseSignedCompact(form.Get("client_assertion"), algorithms(AssertionAlgorithms()))
	if err != nil {
		return nil, assertionErr("The client assertion is not a JWS signed with one of %v.", AssertionAlgorithms())
	}
	hdr := jws.Signatures[0].Protected
	if _, ok := hdr.ExtraHeaders["crit"]; ok {
		return nil, assertionErr("The client assertion has a critical header parameter Gatehouse does not understand.")
	}
	var unverified assertionClaims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &unverified); err != nil {
		return nil, assertionErr("The client assertion's claims are malformed.")
	}
	// RFC 7523 section 3: iss and sub are the client id; client_id, when
	// sent, must agree (RFC 7521 section 4.2).
	id := unverified.Subject
	if cid := form.Get("client_id"); cid != "" && cid != id {
		return nil, assertionErr("The client assertion's sub is not the client_id.")
	}
	if id == "" || unverified.Issuer != id {
		return nil, assertionErr("The client assertion's iss and sub must both be the client id.")
	}
	fc, err := a.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return nil, err
	}
	if err != nil {
		return nil, assertionErr("The client is unknown or cannot authenticate with private_key_jwt.")
	}
	c, _ := clientRecord(fc)
	if c.AuthMethod != storage.AuthMethodPrivateKeyJWT {
		return nil, assertionErr("The client is unknown or cannot authenticate with private_key_jwt.")
	}
	if !slices.Contains(c.AuthSigningAlgs, hdr.Algorithm) {
		return nil, assertionErr("The client may not sign assertions with %s.", hdr.Algorithm)
	}
	payload, err := a.verify(ctx, c, jws, hdr.KeyID, hdr.Algorithm)
	if err != nil {
		return nil, err
	}
	var claims assertionClaims
	if err := json.Unmarshal(payload, &claims); err != nil {
		return nil, assertionErr("The client assertion's claims are malformed.")
	}
	expiry, err := a.checkClaims(claims, id)
	if err != nil {
		return nil, err
	}
	now := a.now()
	// Kept as long as the assertion would pass the time check.
	err = a.store.store.UseAssertion(ctx, storage.AssertionDigest(assertionKind, id, claims.ID), expiry.Add(a.leeway), now)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return nil, assertionErr("The client assertion was already used; make a new one with a new jti (RFC 7523 section 3).")
	case err != nil:
		return nil, fmt.Errorf("record client assertion: %w", err)
	}
	stateFrom(ctx).setAssertedClient(id)
	return fc, nil
}

// checkClaims applies RFC 7523 section 3 to verified claims and returns
// the expiry.
func (a *assertionAuth) checkClaims(c assertionClaims, id string) (time.Time, error) {
	if c.Issuer != id || c.Subject != id {
		return time.Time{}, assertionErr("The client assertion's iss and sub must both be the client id.")
	}
	auds, err := c.audiences()
	if err != nil {
		return time.Time{}, assertionErr("The client assertion's %v.", err)
	}
	if !slices.ContainsFunc(auds, func(s string) bool { return slices.Contains(a.audiences, s) }) {
		return time.Time{}, assertionErr("The client assertion's aud must be the token endpoint %q or the issuer %q.", a.audiences[0], a.audiences[1])
	}
	if c.ID == "" || len(c.ID) > maxJTILen {
		return time.Time{}, assertionErr("The client assertion needs a jti of 1 to %d characters (RFC 7523 section 3).", maxJTILen)
	}
	if c.Expiry == nil {
		return time.Time{}, assertionErr("The client assertion needs an exp (RFC 7523 section 3).")
	}
	for _, d := range []*float64{c.Expiry, c.NotBef, c.IssuedAt} {
		if d != nil && (*d < 0 || *d > maxNumericDate) {
			return time.Time{}, assertionErr("The client assertion's exp, nbf or iat is not a NumericDate.")
		}
	}
	now := a.now()
	vc := verifier.Claims{Issuer: c.Issuer, Expiry: numericDate(c.Expiry), NotBefore: numericDate(c.NotBef), IssuedAt: numericDate(c.IssuedAt)}
	if err := verifier.ValidateClaims(&vc, verifier.Expected{Issuer: id, Leeway: a.leeway}, now); err != nil {
		switch {
		case errors.Is(err, verifier.ErrExpired):
			return time.Time{}, assertionErr("The client assertion has expired.")
		case errors.Is(err, verifier.ErrNotYetValid), errors.Is(err, verifier.ErrIssuedInFuture):
			return time.Time{}, assertionErr("The client assertion is not valid yet; check the client's clock.")
		}
		return time.Time{}, assertionErr("The client assertion's claims are invalid.")
	}
	if vc.Expiry.After(now.Add(MaxAssertionLifetime + a.leeway)) {
		return time.Time{}, assertionErr("The client assertion's exp is more than %v ahead; make short-lived assertions.", MaxAssertionLifetime)
	}
	return vc.Expiry, nil
}

// verify checks the signature with the client's key named by kid (or, with
// no kid, any of its keys that fits alg) and returns the payload. A kid a
// jwks_uri set lacks refetches it, at most once per clientJWKSMinRefresh.
func (a *assertionAuth) verify(ctx context.Context, c storage.Client, jws *jose.JSONWebSignature, kid, alg string) ([]byte, error) {
	var keys []clientKey
	if c.JWKSURI == "" {
		var err error
		if keys, err = parseClientJWKS(c.JWKS, false); err != nil {
			return nil, assertionErr("The client has no usable keys.")
		}
	} else {
		var err error
		keys, err = a.fetcher.keys(ctx, c.JWKSURI, false)
		if err == nil && len(candidates(keys, kid, alg)) == 0 {
			keys, err = a.fetcher.keys(ctx, c.JWKSURI, true)
		}
		if err != nil {
			a.logger.WarnContext(ctx, "client keys unavailable", "client_id", c.ID, "err", err)
			return nil, assertionErr("The client's keys could not be fetched from its jwks_uri.")
		}
	}
	cands := candidates(keys, kid, alg)
	if len(cands) == 0 {
		return nil, assertionErr("No key of the client fits the assertion's kid and alg.")
	}
	for _, k := range cands {
		if payload, err := jws.Verify(k.key); err == nil {
			return payload, nil
		}
	}
	return nil, assertionErr("The client assertion's signature does not verify.")
}

// candidates are the keys that may have signed with alg: those named kid,
// or every key when the assertion has no kid.
func candidates(keys []clientKey, kid, alg string) []clientKey {
	var out []clientKey
	for _, k := range keys {
		if (kid == "" || k.kid == kid) && k.fits(alg) {
			out = append(out, k)
		}
	}
	return out
}

func algorithms(names []string) []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(names))
	for i, n := range names {
		out[i] = jose.SignatureAlgorithm(n)
	}
	return out
}

// jwksStrategy is fosite's JWKSFetcherStrategy over Gatehouse's bounded
// fetcher, so that no fosite path can reach fosite's default fetcher (15 s
// of retries, unbounded refetches). Gatehouse's own client authentication
// does not go through it.
type jwksStrategy struct{ f *jwksFetcher }

var _ fosite.JWKSFetcherStrategy = jwksStrategy{}

func (s jwksStrategy) Resolve(ctx context.Context, location string, ignoreCache bool) (*josev3.JSONWebKeySet, error) {
	keys, err := s.f.keys(ctx, location, ignoreCache)
	if err != nil {
		return nil, fosite.ErrInvalidClient.WithHint("The client's keys could not be fetched.").WithWrap(err)
	}
	set := &josev3.JSONWebKeySet{}
	for _, k := range keys {
		set.Keys = append(set.Keys, josev3.JSONWebKey{Key: k.key, KeyID: k.kid, Algorithm: k.alg, Use: "sig"})
	}
	return set, nil
}
