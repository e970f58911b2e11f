package storage

import (
	"context"
	"time"

	"github.com/ory/fosite"
)

// ErrInvalidatedCode reports an authorization code that was already
// redeemed (its Active flag is false). It is fosite's own sentinel, so the
// storage adapter in package oauth returns the stored request together with
// it and fosite's code handler revokes what the first redemption issued and
// answers invalid_grant (RFC 6749 section 4.1.2).
var ErrInvalidatedCode = fosite.ErrInvalidatedAuthorizeCode

// AuthorizationCode is one authorization code and the authorization request
// it answers (RFC 6749 section 4.1.2), with the PKCE challenge it is bound
// to (RFC 7636 section 4.4) and the OpenID Connect parameters of the request
// (OIDC Core 1.0 section 3.1.2.1).
//
// One row holds what fosite keeps in three places: the code session
// (oauth2.CoreStorage), the PKCE request (pkce.PKCERequestStorage, keyed by
// the code's signature) and the OpenID Connect request
// (openid.OpenIDConnectRequestStorage, keyed by the raw code: the adapter
// computes the code's signature from it and looks up the same row). The row
// is written once, when the code is issued, so no request can see a code
// without its challenge.
//
// How fosite's calls map onto it (package oauth's adapter):
//   - CreateAuthorizeCodeSession(signature, request) creates the row, with
//     the code_challenge, code_challenge_method and nonce of the request's
//     form; CreatePKCERequestSession and CreateOpenIDConnectSession, which
//     fosite calls next for the same request, then have nothing to add.
//   - GetAuthorizeCodeSession and GetPKCERequestSession read the row by the
//     digest of the signature; GetOpenIDConnectSession computes the
//     signature of the raw code (the strategy's AuthorizeCodeSignature)
//     and reads the same row, whether or not it is still active.
//   - InvalidateAuthorizeCodeSession is InvalidateAuthorizationCode.
//   - DeletePKCERequestSession and DeleteOpenIDConnectSession delete
//     nothing: the challenge lives and dies with the code. fosite deletes
//     the PKCE record before it checks the verifier, so a failed check
//     leaves the code redeemable with the right verifier only; with
//     EnforcePKCE set, a retry without one is refused (FOSITE-OIDC.md,
//     "PKCE downgrade").
//
// Codes are never deleted when used: redeeming one invalidates it
// (InvalidateAuthorizationCode), so that a second use is recognised and
// revokes the tokens of the first; the janitor deletes codes some time
// after they expire. Text fields come from the authorization request and
// must pass ValidText at the caller's boundary.
type AuthorizationCode struct {
	// Digest is SHA-256 of the code's signature: the key. Stores never see
	// a code.
	Digest []byte
	// RequestID is fosite's request id: the refresh family id of the
	// tokens the code is redeemed for, which a second use revokes.
	RequestID string
	ClientID  string
	// Subject is the id of the user who logged in.
	Subject            string
	RequestedScopes    []string
	GrantedScopes      []string
	RequestedAudiences []string
	GrantedAudiences   []string
	// RedirectURI is the redirect_uri of the authorization request, which
	// the token request must repeat (RFC 6749 section 4.1.3); empty when
	// the request had none.
	RedirectURI string
	// CodeChallenge and CodeChallengeMethod are the PKCE parameters
	// (RFC 7636 section 4.3); Gatehouse accepts only method S256.
	CodeChallenge       string
	CodeChallengeMethod string
	// Nonce is the OpenID Connect nonce, returned in the ID token (OIDC
	// Core 1.0 section 3.1.2.1); empty when the request had none.
	Nonce string
	// AuthTime is when the user authenticated (the ID token's auth_time).
	AuthTime time.Time
	// RequestedAt is when the authorization request was first received.
	RequestedAt time.Time
	// ExpiresAt is when the code stops being redeemable (60 seconds after
	// issue).
	ExpiresAt time.Time
	// LoginSessionID is the LoginSession.ID of the login the code was
	// issued in, for the refresh family it begins
	// (RefreshFamily.LoginSessionID); empty when there was none.
	LoginSessionID string
	// Session is the rest of the request (form values fosite needs, ID
	// token claims), serialised and owned by package oauth; stores keep it
	// opaque.
	Session []byte
	// Active is true until the code is redeemed.
	Active bool
}

// AuthorizationCodeStore keeps authorization codes (RFC 6749 section 4.1,
// RFC 7636).
type AuthorizationCodeStore interface {
	// CreateAuthorizationCode stores a new code as given (Active is
	// stored as set; issue codes with Active true). A digest in use is
	// ErrAlreadyExists.
	CreateAuthorizationCode(ctx context.Context, c AuthorizationCode) error
	// GetAuthorizationCode returns the code with the given digest. An
	// unknown digest is ErrNotFound. An invalidated code is returned
	// together with an error matching ErrInvalidatedCode, so that the
	// caller can revoke what its first redemption issued. Expiry is the
	// caller's to check: an expired code is returned like a live one until
	// the janitor deletes it.
	GetAuthorizationCode(ctx context.Context, digest []byte) (AuthorizationCode, error)
	// InvalidateAuthorizationCode marks an active code used, in one
	// atomic step: of concurrent invalidations of one code exactly one
	// succeeds; the others, and any invalidation of an unknown or already
	// invalidated code, change nothing and return ErrNotFound. fosite looks
	// a code up before it invalidates it, so this condition is what keeps
	// two concurrent redemptions from both getting tokens.
	InvalidateAuthorizationCode(ctx context.Context, digest []byte) error
	// DeleteExpiredAuthorizationCodes deletes up to limit codes, active or
	// not, that expired before before, and returns how many it deleted.
	DeleteExpiredAuthorizationCodes(ctx context.Context, before time.Time, limit int) (int, error)
}
