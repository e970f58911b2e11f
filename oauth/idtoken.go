package oauth

import (
	"context"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/token/jwt"
)

// ScopeOpenID asks for an ID token (OIDC Core 1.0 section 3.1.2.1).
const ScopeOpenID = "openid"

// IDTokenClaims makes Session an openid.Session: the claims of the ID
// token this request issues (OIDC Core 1.0 section 2).
func (s *Session) IDTokenClaims() *jwt.IDTokenClaims {
	if s.idClaims == nil {
		s.idClaims = &jwt.IDTokenClaims{Extra: map[string]any{}}
	}
	return s.idClaims
}

// IDTokenHeaders are the ID token's headers; the signer sets alg, kid and
// typ itself.
func (s *Session) IDTokenHeaders() *jwt.Headers {
	if s.idHeaders == nil {
		s.idHeaders = &jwt.Headers{Extra: map[string]any{}}
	}
	return s.idHeaders
}

var _ openid.Session = (*Session)(nil)

// setIDTokenClaims fills the ID token claims of a user's session: sub, the
// time the user authenticated (auth_time, OIDC Core 1.0 section 2) and azp,
// the client the token is for. iss, aud, iat, exp, jti and at_hash are
// fosite's (openid.DefaultStrategy).
func setIDTokenClaims(s *Session, clientID, subject string, authTime time.Time) {
	c := s.IDTokenClaims()
	c.Subject = subject
	c.AuthTime = authTime.UTC().Truncate(time.Second)
	c.Extra["azp"] = clientID
}

// setRequestedAt sets the ID token claims' request time (fosite's rat) to
// requestedAt, but never after auth_time. fosite holds prompt=login and
// max_age against it (openid.OpenIDConnectRequestValidator.ValidatePrompt
// and DefaultStrategy.GenerateIDToken): left zero, any max_age answered
// server_error; and a request parsed again after the login (the consent
// form, the connector callback) would be later than the login it asked
// for. Gatehouse checks both itself before issuing a code (mustLogin and
// tooOld in Authorize, upstreamAuthTime for connectors), so fosite's
// checks are kept from contradicting them.
func setRequestedAt(s *Session, requestedAt time.Time) {
	c := s.IDTokenClaims()
	rat := requestedAt.UTC().Truncate(time.Second)
	if !c.AuthTime.IsZero() && c.AuthTime.Before(rat) {
		rat = c.AuthTime
	}
	c.RequestedAt = rat
}

// passwordIDTokenHandler issues an ID token with the password grant when
// openid is granted (OIDC Core 1.0 section 3.1.3.3 applied to RFC 6749
// section 4.3), which fosite does not do. It runs after fosite's password
// handler, so that the access token it hashes into at_hash exists.
type passwordIDTokenHandler struct {
	helper   *openid.IDTokenHandleHelper
	lifespan time.Duration
	now      func() time.Time
}

var _ fosite.TokenEndpointHandler = passwordIDTokenHandler{}

func (h passwordIDTokenHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) || !r.GetGrantedScopes().Has(ScopeOpenID) {
		return fosite.ErrUnknownRequest
	}
	sess, err := sessionOf(r)
	if err != nil {
		return err
	}
	setIDTokenClaims(sess, r.GetClient().GetID(), sess.Subject, h.now())
	sess.IDTokenClaims().AccessTokenHash = h.helper.GetAccessTokenHash(ctx, r, resp)
	// The ID token is made from the session alone: authorization-request
	// parameters a client might add to a password request (prompt,
	// max_age, id_token_hint) mean nothing here, and fosite would check
	// them after the grant is spent.
	req, ok := r.(*fosite.AccessRequest)
	if !ok {
		return fosite.ErrServerError.WithDebug("access request of unexpected type")
	}
	clean := *req
	clean.Form = url.Values{"grant_type": {"password"}}
	return h.helper.IssueExplicitIDToken(ctx, h.lifespan, &clean, resp)
}

func (h passwordIDTokenHandler) HandleTokenEndpointRequest(context.Context, fosite.AccessRequester) error {
	return fosite.ErrUnknownRequest
}

func (h passwordIDTokenHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h passwordIDTokenHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	return r.GetGrantTypes().ExactOne("password")
}
