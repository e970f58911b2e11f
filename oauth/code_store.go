package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"

	"github.com/gatehouse/gatehouse/storage"
)

// Authorization codes (RFC 6749 section 4.1) are "ghc1." and 256 bits from
// crypto/rand, base64url. fosite hands the storage adapter the code's
// signature, which is the random part; stores see SHA-256 of it only.
const authorizeCodePrefix = "ghc1."

// errCodeRace reports that a concurrent redemption invalidated the code
// first (RFC 6749 section 4.1.2: a code is used once).
var errCodeRace = errors.New("authorization code was redeemed concurrently")

// codeFormParameters are the authorization request's parameters a code
// keeps: what the token request must repeat (redirect_uri, RFC 6749
// section 4.1.3), the PKCE challenge (RFC 7636 section 4.4) and the OpenID
// Connect parameters fosite's ID-token strategy reads (OIDC Core 1.0
// section 3.1.2.1). fosite's SanitationWhiteList is set to these, so the
// one CreateAuthorizeCodeSession call carries all of them and a code is
// written once, complete.
func codeFormParameters() []string {
	return []string{"redirect_uri", "code_challenge", "code_challenge_method", "nonce", "max_age", "prompt", "acr_values"}
}

var (
	_ pkce.PKCERequestStorage            = (*fositeStore)(nil)
	_ openid.OpenIDConnectRequestStorage = (*fositeStore)(nil)
)

// AuthorizeCodeSignature is the code's random part; anything else has the
// empty signature, which no code matches.
func (s tokenStrategy) AuthorizeCodeSignature(_ context.Context, code string) string {
	rest, ok := strings.CutPrefix(code, authorizeCodePrefix)
	if !ok || len(rest) != b64.EncodedLen(refreshSecretBytes) {
		return ""
	}
	return rest
}

// GenerateAuthorizeCode makes a new code.
func (s tokenStrategy) GenerateAuthorizeCode(context.Context, fosite.Requester) (code, signature string, err error) {
	b, err := randomSecret()
	if err != nil {
		return "", "", err
	}
	sig := b64.EncodeToString(b)
	return authorizeCodePrefix + sig, sig, nil
}

// ValidateAuthorizeCode checks the code's expiry (60 seconds, set by
// fosite when it issued the code); that it exists and is unused the
// storage adapter checked.
func (s tokenStrategy) ValidateAuthorizeCode(_ context.Context, r fosite.Requester, _ string) error {
	exp := r.GetSession().GetExpiresAt(fosite.AuthorizeCode)
	if exp.IsZero() || !s.now().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The authorization code expired.")
	}
	return nil
}

func codeDigest(signature string) []byte {
	d := sha256.Sum256([]byte(signature))
	return d[:]
}

// codeSession is what a code keeps of its request beyond the columns of
// storage.AuthorizationCode.
type codeSession struct {
	Username string `json:"username,omitempty"`
	// AMR are the authentication methods of the login (RFC 8176).
	AMR []string `json:"amr,omitempty"`
	// Form holds the code's other authorization-request parameters.
	Form url.Values `json:"form,omitempty"`
	// CredentialsVersion is the user's at the login (Session).
	CredentialsVersion int64 `json:"credentials_version,omitempty"`
}

// CreateAuthorizeCodeSession stores a code with everything its redemption
// needs, in one write.
func (s *fositeStore) CreateAuthorizeCodeSession(ctx context.Context, signature string, r fosite.Requester) error {
	sess, err := sessionOf(r)
	if err != nil {
		return err
	}
	form := r.GetRequestForm()
	rest := url.Values{}
	for _, k := range []string{"max_age", "prompt", "acr_values"} {
		if v, ok := form[k]; ok {
			rest[k] = v
		}
	}
	b, err := json.Marshal(codeSession{Username: sess.Username, AMR: sess.IDTokenClaims().AuthenticationMethodsReferences, Form: rest,
		CredentialsVersion: sess.credentialsVersion})
	if err != nil {
		return fmt.Errorf("oauth: encode authorization code: %w", err)
	}
	return s.store.CreateAuthorizationCode(ctx, storage.AuthorizationCode{
		Digest:              codeDigest(signature),
		RequestID:           r.GetID(),
		ClientID:            r.GetClient().GetID(),
		Subject:             sess.Subject,
		RequestedScopes:     r.GetRequestedScopes(),
		GrantedScopes:       r.GetGrantedScopes(),
		RequestedAudiences:  r.GetRequestedAudience(),
		GrantedAudiences:    r.GetGrantedAudience(),
		RedirectURI:         form.Get("redirect_uri"),
		CodeChallenge:       form.Get("code_challenge"),
		CodeChallengeMethod: form.Get("code_challenge_method"),
		Nonce:               form.Get("nonce"),
		AuthTime:            sess.IDTokenClaims().AuthTime,
		RequestedAt:         r.GetRequestedAt(),
		ExpiresAt:           sess.GetExpiresAt(fosite.AuthorizeCode),
		LoginSessionID:      sess.loginSessionID,
		Session:             b,
		Active:              true,
	})
}

// GetAuthorizeCodeSession loads a code's request around its current
// client. A used code comes back with its request and
// fosite.ErrInvalidatedAuthorizeCode, so that fosite revokes what its first
// redemption issued (RFC 6749 section 4.1.2).
// fosite checks the code's expiry on the token request's session, which it
// passes here: the code's expiry is copied into it, and nothing else (in
// the response phase that session already holds the token's claims).
func (s *fositeStore) GetAuthorizeCodeSession(ctx context.Context, signature string, into fosite.Session) (fosite.Requester, error) {
	if signature == "" {
		return nil, fmt.Errorf("authorization code is malformed: %w", fosite.ErrNotFound)
	}
	code, err := s.store.GetAuthorizationCode(ctx, codeDigest(signature))
	used := errors.Is(err, storage.ErrInvalidatedCode)
	if err != nil && !used {
		return nil, err
	}
	c, err := s.loadClient(ctx, code.ClientID)
	if err != nil {
		return nil, err
	}
	r, err := codeRequest(code, newClient(c, s.now(), s.issuer))
	if err != nil {
		return nil, err
	}
	if dst, ok := into.(*Session); ok && dst != nil && dst.JWTSession != nil {
		dst.SetExpiresAt(fosite.AuthorizeCode, code.ExpiresAt)
	}
	if used {
		return r, fmt.Errorf("authorization code of request %s: %w", code.RequestID, fosite.ErrInvalidatedAuthorizeCode)
	}
	return r, nil
}

// codeRequest rebuilds the authorization request a code answers.
func codeRequest(code storage.AuthorizationCode, c fosite.Client) (*fosite.Request, error) {
	var cs codeSession
	if err := json.Unmarshal(code.Session, &cs); err != nil {
		return nil, fmt.Errorf("oauth: decode authorization code: %w", err)
	}
	s := newSession()
	s.Subject, s.Username = code.Subject, cs.Username
	s.loginSessionID = code.LoginSessionID
	s.credentialsVersion = cs.CredentialsVersion
	s.JWTClaims.Subject = code.Subject
	s.SetExpiresAt(fosite.AuthorizeCode, code.ExpiresAt)
	setIDTokenClaims(s, code.ClientID, code.Subject, code.AuthTime)
	setRequestedAt(s, code.RequestedAt)
	s.IDTokenClaims().AuthenticationMethodsReferences = cs.AMR
	form := url.Values{}
	for k, v := range cs.Form {
		form[k] = v
	}
	for k, v := range map[string]string{"redirect_uri": code.RedirectURI, "code_challenge": code.CodeChallenge,
		"code_challenge_method": code.CodeChallengeMethod, "nonce": code.Nonce} {
		if v != "" {
			form.Set(k, v)
		}
	}
	return &fosite.Request{
		ID:                code.RequestID,
		RequestedAt:       code.RequestedAt,
		Client:            c,
		RequestedScope:    code.RequestedScopes,
		GrantedScope:      code.GrantedScopes,
		RequestedAudience: code.RequestedAudiences,
		GrantedAudience:   code.GrantedAudiences,
		Form:              form,
		Session:           s,
	}, nil
}

// InvalidateAuthorizeCodeSession marks the code used, at Commit of the
// token request's unit of work and before the tokens are stored: of
// concurrent redemptions exactly one invalidates it, and the others store
// nothing and fail with errCodeRace (FOSITE-OIDC: fosite looks a code up,
// then invalidates it in a later step).
func (s *fositeStore) InvalidateAuthorizeCodeSession(ctx context.Context, signature string) error {
	digest := codeDigest(signature)
	return s.write(ctx, func(ctx context.Context) error {
		err := s.store.InvalidateAuthorizationCode(ctx, digest)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %w", errCodeRace, fosite.ErrInvalidatedAuthorizeCode)
		}
		return err
	})
}

// CreatePKCERequestSession stores nothing: the challenge was stored with
// the code (codeFormParameters).
func (s *fositeStore) CreatePKCERequestSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetPKCERequestSession is the code's request, which holds its challenge.
func (s *fositeStore) GetPKCERequestSession(ctx context.Context, signature string, sess fosite.Session) (fosite.Requester, error) {
	r, err := s.GetAuthorizeCodeSession(ctx, signature, sess)
	if errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		return nil, fosite.ErrNotFound
	}
	return r, err
}

// DeletePKCERequestSession deletes nothing: the challenge lives with the
// code, which stays bound to it (EnforcePKCE is on, so a retry without a
// verifier is refused; FOSITE-OIDC "PKCE downgrade").
func (s *fositeStore) DeletePKCERequestSession(context.Context, string) error { return nil }

// CreateOpenIDConnectSession stores nothing: the OpenID Connect parameters
// were stored with the code.
func (s *fositeStore) CreateOpenIDConnectSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetOpenIDConnectSession is the request of the code (given raw, not as a
// signature), with its ID token claims. fosite reads it after the code was
// invalidated by this very redemption, so a used code is no error here (a
// second redemption was refused before this point).
func (s *fositeStore) GetOpenIDConnectSession(ctx context.Context, code string, _ fosite.Requester) (fosite.Requester, error) {
	r, err := s.GetAuthorizeCodeSession(ctx, tokenStrategy{}.AuthorizeCodeSignature(ctx, code), nil)
	if errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		return r, nil
	}
	return r, err
}

// DeleteOpenIDConnectSession deletes nothing; see CreateOpenIDConnectSession.
func (s *fositeStore) DeleteOpenIDConnectSession(context.Context, string) error { return nil }

// codeUser returns the user an authorization code was issued for, as the
// token request redeems it: the token carries the user's roles as they are
// now, and a user disabled, deleted or given a new password since the
// login gets nothing.
func (s *fositeStore) codeUser(ctx context.Context, sess *Session) (*storage.User, error) {
	u, err := s.store.GetUser(ctx, sess.Subject)
	switch {
	case errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled:
		return nil, fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
	case err != nil:
		return nil, err
	case u.CredentialsVersion != sess.credentialsVersion:
		return nil, fosite.ErrInvalidGrant.WithHint("The user's password was changed since this login.")
	}
	return &u, nil
}

// codeLifetime is how long an authorization code lives (RFC 6749 section
// 4.1.2 recommends at most ten minutes; one is plenty for a redirect).
const codeLifetime = time.Minute
