package oauth

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// ExternalIdentity is a token from a trusted issuer, verified and mapped to Gatehouse.
type ExternalIdentity struct {
	Issuer   storage.TrustedIssuer
	Subject  string   // the subject claim's value upstream
	UserID   string   // the Gatehouse user it maps to, or ""
	ClientID string   // the Gatehouse client it maps to, or ""
	Roles    []string // Gatehouse roles after the issuer's allow-list mapping
	Scopes   []string // the token's scope/scp
	// Scoped says the token has a scope claim (Scopes is then the bound,
	// even when empty).
	Scoped bool
	// Audience is the token's "aud".
	Audience  []string
	JTI       string
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// Defaults of the federation settings (Config).
const (
	// DefaultMaxTokenAge bounds now - iat of a trusted issuer's token when
	// the issuer sets no maximum.
	DefaultMaxTokenAge = time.Hour
	// MaxTrustedTokenAge is the longest maximum token age a trusted issuer
	// or the server may set: the admin rules and the server's settings
	// refuse longer ones, and used tokens are remembered for it.
	MaxTrustedTokenAge = 24 * time.Hour
	// DefaultFederationTimeout bounds one fetch of a trusted issuer's
	// discovery document or JWKS, and how long a request waits for it.
	DefaultFederationTimeout = 5 * time.Second
	// maxExternalText bounds the unverified "iss" and the subject before
	// they reach a store.
	maxExternalText = 1024
)

// externalTypes are the "typ" headers accepted on a trusted issuer's
// tokens: most providers sign tokens with "JWT" or none (workload identity
// tokens of CI systems and Kubernetes are ID-token shaped); RFC 9068
// access tokens say "at+jwt". The accepted audiences are what keep tokens
// meant for others out.
func externalTypes() []string { return []string{"JWT", "at+jwt", ""} }

// verifyTrusted verifies token against the trusted issuer its (unverified) "iss" names and maps it.
// Errors wrap fosite errors suitable for the caller to adjust (invalid_grant by default; storage.ErrUnavailable / upstream down -> temporarily_unavailable 503).
//
// The checks, in order: the token's unverified "iss" names an enabled
// trusted issuer (no URL of any other issuer is ever fetched); the issuer's
// verifier checks the signature with a key from its JWKS under its
// algorithm allow-list, "typ", "iss", "aud" (one of the issuer's accepted
// audiences), "exp" (required), "nbf" and "iat" (RFC 7523 section 3, RFC
// 8725); "iat" and "jti" are required and iat is within the issuer's
// maximum token age; the subject claim names an enabled Gatehouse user or
// client. It records nothing: replay is the caller's check, after its own.
// The admit functions are the caller's own checks of the verified token
// (its audience, say); they run before the subject is mapped, so a token
// the caller refuses never provisions a user.
func (s *Server) verifyTrusted(ctx context.Context, token string, admit ...func(ExternalIdentity) error) (ExternalIdentity, error) {
	iss, err := unverifiedIssuer(token)
	if err != nil {
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion is not a JWT with an issuer.").WithWrap(err)
	}
	rec, err := s.store.GetTrustedIssuerByIssuer(ctx, iss)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion's issuer is not trusted.")
	case err != nil:
		return ExternalIdentity{}, fmt.Errorf("trusted issuer: %w", err)
	case rec.Disabled:
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion's issuer is not trusted.")
	}
	v, err := s.issuers.get(rec)
	if err != nil {
		s.logger.ErrorContext(ctx, "trusted issuer misconfigured", "issuer_id", rec.ID, "err", err)
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion's issuer is not usable.").WithWrap(err)
	}
	// A slow or failing issuer holds up only its own requests, and those
	// for at most the federation timeout.
	vctx, cancel := context.WithTimeout(ctx, s.cfg.FederationTimeout)
	defer cancel()
	c, err := v.Verify(vctx, token)
	if err != nil {
		if errors.Is(err, verifier.ErrKeysUnavailable) {
			s.logger.WarnContext(ctx, "trusted issuer keys unavailable", "issuer_id", rec.ID, "err", err)
			return ExternalIdentity{}, fosite.ErrTemporarilyUnavailable.WithHint("The assertion's issuer cannot be reached. Retry later.").WithWrap(err)
		}
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHintf("The assertion was refused: %s.", verifierReason(err)).WithWrap(err)
	}
	now := s.now()
	maxAge := cmp.Or(rec.MaxTokenAge, s.cfg.MaxTokenAge)
	switch {
	case c.IssuedAt.IsZero():
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion has no iat claim.")
	case now.Sub(c.IssuedAt) > maxAge+s.cfg.Leeway:
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHintf("The assertion was issued more than %s ago.", maxAge)
	case c.ID == "":
		// RFC 7523 section 3 item 7 makes jti optional; Gatehouse needs it
		// to refuse a replay.
		return ExternalIdentity{}, fosite.ErrInvalidGrant.WithHint("The assertion has no jti claim.")
	}
	id := ExternalIdentity{Issuer: rec, JTI: c.ID, IssuedAt: c.IssuedAt, ExpiresAt: c.Expiry, Scopes: slices.Clone(c.Scopes),
		Scoped: c.ScopeClaim != "", Audience: slices.Clone(c.Audience)}
	if id.Subject, err = subjectOf(c, rec.SubjectClaim); err != nil {
		return ExternalIdentity{}, err
	}
	if rec.RolesClaim != "" && len(rec.RoleMap) > 0 {
		// The verifier mapped them through the issuer's allow-list.
		id.Roles = slices.Clone(c.Roles)
	}
	for _, check := range admit {
		if err := check(id); err != nil {
			return ExternalIdentity{}, err
		}
	}
	if err := s.mapSubject(ctx, &id); err != nil {
		return ExternalIdentity{}, err
	}
	return id, nil
}

// subjectOf returns the value of the subject claim: "sub" by default, or
// the string claim the issuer names.
func subjectOf(c *verifier.Claims, claim string) (string, error) {
	var sub string
	switch claim {
	case "", "sub":
		sub = c.Subject
	case "client_id":
		sub = c.ClientID
	default:
		v, ok := c.Extra[claim]
		if s, isString := v.(string); ok && isString {
			sub = s
		} else if ok {
			return "", fosite.ErrInvalidGrant.WithHintf("The assertion's %s claim is not a string.", claim)
		}
	}
	if sub == "" {
		return "", fosite.ErrInvalidGrant.WithHint("The assertion has no subject.")
	}
	if len(sub) > maxExternalText || !storage.ValidText(sub) {
		return "", fosite.ErrInvalidGrant.WithHint("The assertion's subject is not usable text.")
	}
	return sub, nil
}

// mapSubject finds the enabled Gatehouse user (by username) or client (by
// id) that id's subject names. A user subject that names nobody creates a
// user when the issuer provisions (provisionUser); clients are never
// created. A subject that holds the admin role is refused: subjects are
// matched by name, so an issuer's subject that happens to equal an
// administrator's username or the bootstrap admin client's id must not
// become an administrator.
func (s *Server) mapSubject(ctx context.Context, id *ExternalIdentity) error {
	unknown := fosite.ErrInvalidGrant.WithHint("The assertion's subject is not known to Gatehouse.")
	switch id.Issuer.SubjectType {
	case storage.SubjectClient:
		c, err := s.store.GetClient(ctx, id.Subject)
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return unknown
		case err != nil:
			return fmt.Errorf("map subject: %w", err)
		case c.Disabled:
			return fosite.ErrInvalidGrant.WithHint("The assertion's subject is disabled.")
		case slices.Contains(c.Roles, s.cfg.AdminRole):
			return errAdminSubject
		}
		id.ClientID = c.ID
	default:
		u, err := FindUserByUsername(ctx, s.store, id.Subject)
		if errors.Is(err, storage.ErrNotFound) && id.Issuer.Provision {
			u, err = s.provisionUser(ctx, id)
		}
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return unknown
		case err != nil:
			return fmt.Errorf("map subject: %w", err)
		case u.Disabled:
			return fosite.ErrInvalidGrant.WithHint("The assertion's subject is disabled.")
		case slices.Contains(u.Roles, s.cfg.AdminRole):
			return errAdminSubject
		}
		id.UserID = u.ID
	}
	return nil
}

// errAdminSubject refuses a trusted issuer's token whose subject is a
// Gatehouse administrator (mapSubject).
var errAdminSubject = fosite.ErrInvalidGrant.WithHint("The assertion's subject is a Gatehouse administrator, which no external token may stand for.")

// namesGatehouse reports whether aud names this server: its issuer or its
// token endpoint (RFC 7523 section 3 item 3).
func (s *Server) namesGatehouse(aud []string) bool {
	return slices.Contains(aud, s.cfg.Issuer) || slices.Contains(aud, s.cfg.tokenURL())
}

// assertionKindTrusted is the namespace of trusted issuers' tokens among
// the store's used assertions (storage.AssertionDigest): one for the JWT
// bearer grant and token exchange, so that a token is accepted once
// whichever grant it is presented to.
const assertionKindTrusted = "trusted_token"

// useTrusted records the jti of a verified trusted issuer's token, after
// every other check of the grant passed, and is storage.ErrAlreadyExists
// when it was used before. It is kept until the token can no longer be
// accepted under any setting: its exp, or sooner iat plus
// MaxTrustedTokenAge (not the issuer's current maximum age, which an
// operator may raise, or instances may differ on, while the token lives),
// plus the leeway verifyTrusted allows.
func (s *Server) useTrusted(ctx context.Context, id ExternalIdentity, now time.Time) error {
	until := id.ExpiresAt
	if limit := id.IssuedAt.Add(max(MaxTrustedTokenAge, s.cfg.MaxTokenAge)); limit.Before(until) {
		until = limit
	}
	return s.store.UseAssertion(ctx, storage.AssertionDigest(assertionKindTrusted, id.Issuer.Issuer, id.JTI), until.Add(s.cfg.Leeway), now)
}

// provisionUser creates the user a provisioning issuer's subject names:
// that username (normalised as at login), no password (the password grant
// treats it as unknown), no roles of its own (the token's come from the
// issuer's role map), and the issuer recorded in the audit log. Of
// concurrent first tokens of one subject exactly one creates the user (the
// username is unique); the others read it.
func (s *Server) provisionUser(ctx context.Context, id *ExternalIdentity) (storage.User, error) {
	name := NormalizeUsername(id.Subject)
	if !usernameText(name) || utf8.RuneCountInString(name) > maxProvisionedUsername {
		// Not a name the username rules allow (a CI system's structured
		// subject, control or bidi characters): never a new user.
		return storage.User{}, fmt.Errorf("provision: %q is not a username: %w", name, storage.ErrNotFound)
	}
	now := s.now().UTC()
	u := storage.User{ID: "u-" + strings.ToLower(rand.Text()), Username: name,
		CreatedAt: now, UpdatedAt: now}
	err := s.store.CreateUser(ctx, u)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return FindUserByUsername(ctx, s.store, id.Subject)
	}
	if err != nil {
		return storage.User{}, fmt.Errorf("provision user: %w", err)
	}
	s.logger.InfoContext(ctx, "user provisioned from a trusted issuer", "user_id", u.ID, "issuer", id.Issuer.ID)
	return u, nil
}

// unverifiedIssuer reads "iss" from a compact JWS without verifying it,
// only to choose the issuer whose keys will verify it.
func unverifiedIssuer(token string) (string, error) {
	if len(token) > verifier.DefaultMaxTokenSize {
		return "", errors.New("token too large")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("not a compact JWS")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	var claims struct {
		Issuer any `json:"iss"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("payload: %w", err)
	}
	iss, ok := claims.Issuer.(string)
	if !ok || iss == "" || len(iss) > maxExternalText || !storage.ValidText(iss) {
		return "", errors.New("no usable iss")
	}
	return iss, nil
}

// verifierReason names which check refused a token, in the words of the
// verifier's sentinel errors (fixed texts: nothing of the token or of
// Gatehouse's internals).
func verifierReason(err error) string {
	for _, e := range []error{verifier.ErrTokenTooLarge, verifier.ErrMalformed, verifier.ErrAlgorithm, verifier.ErrType,
		verifier.ErrUnsupportedHeader, verifier.ErrUnknownKey, verifier.ErrSignature, verifier.ErrIssuer,
		verifier.ErrAudience, verifier.ErrExpired, verifier.ErrNotYetValid, verifier.ErrIssuedInFuture,
		verifier.ErrMissingClaim} {
		if errors.Is(err, e) {
			return strings.TrimPrefix(e.Error(), "verifier: ")
		}
	}
	return "invalid token"
}
