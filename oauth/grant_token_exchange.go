package oauth

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// RFC 8693 identifiers: the grant (section 2.1) and the token types
// (section 3).
const (
	GrantTypeTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	TokenTypeAccessToken   = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeJWT           = "urn:ietf:params:oauth:token-type:jwt"
	TokenTypeIDToken       = "urn:ietf:params:oauth:token-type:id_token"
)

// subjectTokenTypes are the subject_token_type values Gatehouse accepts:
// its own access tokens, and a trusted issuer's JWTs (access or ID
// tokens), which are verified by the issuer's configuration whatever the
// type says.
func subjectTokenTypes() []string {
	return []string{TokenTypeAccessToken, TokenTypeJWT, TokenTypeIDToken}
}

// claimActor is RFC 8693 section 4.1's actor claim.
const claimActor = "act"

// maxActorDepth bounds how many exchanges a token may pass through: each
// nests the previous act claim one level deeper.
const maxActorDepth = 8

// checkTokenExchangeRequest checks the parameters of a token exchange
// (RFC 8693 section 2.1) before fosite sees the request; a missing or
// unsupported one is invalid_request (section 2.2.2).
func checkTokenExchangeRequest(form url.Values) error {
	switch {
	case form.Get("subject_token") == "":
		return errInvalidRequest("The subject_token parameter is missing.")
	case form.Get("subject_token_type") == "":
		return errInvalidRequest("The subject_token_type parameter is missing.")
	case !slices.Contains(subjectTokenTypes(), form.Get("subject_token_type")):
		return errInvalidRequest("The subject_token_type is not supported: Gatehouse exchanges access_token, jwt and id_token (RFC 8693 section 3).")
	case form.Has("actor_token") || form.Has("actor_token_type"):
		// The actor is always the authenticated client (act names it);
		// section 2.1 lets the server refuse an actor token.
		return errInvalidRequest("Actor tokens are not accepted: the authenticated client is the actor.")
	}
	if _, ok := issuedTokenType(form); !ok {
		return errInvalidRequest("The requested_token_type is not supported: Gatehouse issues " + TokenTypeAccessToken + " (a JWT).")
	}
	return nil
}

// issuedTokenType is the issued_token_type of the response (RFC 8693
// section 2.2.1) for the requested_token_type: an access token, which is
// a JWT (RFC 9068), so both names describe it.
func issuedTokenType(form url.Values) (string, bool) {
	switch rt := form.Get("requested_token_type"); rt {
	case "", TokenTypeAccessToken:
		return TokenTypeAccessToken, true
	case TokenTypeJWT:
		return TokenTypeJWT, true
	default:
		return "", false
	}
}

// errSubjectToken is the one answer for a subject token that fails any
// check, so that the answer says nothing about which (RFC 8693 section
// 2.2.2: invalid_request).
var errSubjectToken = fosite.ErrInvalidRequest.WithHint("The subject_token is invalid, expired, revoked, or not for this client.")

// tokenExchangeClaims grants a token exchange (RFC 8693) of a user's
// Gatehouse access token by the service c, for a downstream audience, and
// sets its claims. The subject token is checked as introspection checks
// it (verifyAccessToken) and must have been issued for c: its aud names
// c's client id, or c is the client it was issued to. The new token keeps
// the user as sub, names c in act (section 4.1, nesting the subject
// token's act), and can only narrow: scopes within the subject token's,
// roles within the subject token's and the user's current ones, expiry no
// later than the subject token's, audiences from c's registered ones.
func (s *Server) tokenExchangeClaims(ctx context.Context, ar fosite.AccessRequester, c storage.Client, sess *Session, now time.Time) error {
	form := ar.GetRequestForm()
	if iss, err := unverifiedIssuer(form.Get("subject_token")); err == nil && iss != s.cfg.Issuer {
		return s.externalExchangeClaims(ctx, ar, c, sess, now)
	}
	if form.Get("subject_token_type") != TokenTypeAccessToken {
		return errInvalidRequest("Gatehouse's own tokens are exchanged as subject_token_type " + TokenTypeAccessToken + ".")
	}
	at, err := s.verifyAccessToken(ctx, form.Get("subject_token"))
	if errors.Is(err, storage.ErrUnavailable) {
		return err
	}
	if err != nil || !at.Expiry.After(now) {
		return errSubjectToken
	}
	if !slices.Contains(at.Audience, c.ID) && at.ClientID != c.ID {
		return errSubjectToken
	}
	if at.Subject == at.ClientID {
		// A client's own token (client_credentials): no user to act for.
		return errInvalidRequest("The subject_token does not represent a user.")
	}
	act, err := actorClaim(c.ID, at.Claims[claimActor])
	if err != nil {
		return err
	}
	u, err := s.store.GetUser(ctx, at.Subject)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		return errSubjectToken
	}
	if err != nil {
		return err
	}
	if err := grantExchange(ar, c, at.Scope, true); err != nil {
		return err
	}

	setClaims(sess, c, &u, at.Family, now)
	// Roles the user held when the subject token was issued and still
	// holds: a role removed since is dropped, one added since is not
	// carried.
	roles := []string{}
	for _, r := range at.Roles {
		if slices.Contains(u.Roles, r) && !slices.Contains(roles, r) {
			roles = append(roles, r)
		}
	}
	sess.JWTClaims.Extra[claimRoles] = roles
	sess.JWTClaims.Extra[claimActor] = act
	sess.notAfter = at.Expiry
	return nil
}

// grantExchange grants the scopes and audiences of a token exchange.
// When bounded, scopes must be within the subject token's (and, as fosite
// checked, the client's); without a scope parameter the token keeps the
// subject token's scopes that the client may request. Unbounded (a
// trusted issuer's token that carries no scope), they are the client's,
// as for client_credentials. offline_access is never granted: the
// exchange issues no refresh token. Audiences must be
// registered for the client explicitly (the issuer fallback of client.go
// does not count): that list is the per-client policy of which downstream
// audiences a service may exchange tokens for. Without an audience or
// resource parameter, the token is for all of them.
func grantExchange(ar fosite.AccessRequester, c storage.Client, subjectScopes []string, bounded bool) error {
	requested := ar.GetRequestedScopes()
	for _, sc := range requested {
		if bounded && !slices.Contains(subjectScopes, sc) {
			return fosite.ErrInvalidScope.WithHintf("Scope %q is not in the subject token: an exchange can only narrow.", sc)
		}
	}
	if len(requested) == 0 {
		if !bounded {
			subjectScopes = c.Scopes
		}
		for _, sc := range subjectScopes {
			if slices.Contains(c.Scopes, sc) {
				requested = append(requested, sc)
			}
		}
	}
	aud := ar.GetRequestedAudience()
	for _, a := range aud {
		if !slices.Contains(c.Audiences, a) {
			return errInvalidTarget.WithHintf("Audience %q is not registered for this client.", a)
		}
	}
	if len(aud) == 0 {
		if len(c.Audiences) == 0 {
			return errInvalidTarget.WithHint("The client has no registered audiences to exchange tokens for.")
		}
		aud = c.Audiences
	}
	for _, sc := range requested {
		if sc != ScopeOfflineAccess && !ar.GetGrantedScopes().Has(sc) {
			ar.GrantScope(sc)
		}
	}
	for _, a := range aud {
		if !ar.GetGrantedAudience().Has(a) {
			ar.GrantAudience(a)
		}
	}
	return nil
}

// actorClaim is the act claim of a token that client obtains by exchange
// for a subject token whose act claim is prev (RFC 8693 section 4.1: the
// current actor at the top, earlier ones nested).
func actorClaim(client string, prev any) (map[string]any, error) {
	act := map[string]any{"sub": client}
	if prev == nil {
		return act, nil
	}
	depth := 0
	for p := prev; p != nil; depth++ {
		m, ok := p.(map[string]any)
		if !ok || depth >= maxActorDepth {
			return nil, errInvalidRequest("The subject_token has passed through too many exchanges.")
		}
		p = m[claimActor]
	}
	act[claimActor] = prev
	return act, nil
}

// errExternalSubject is the answer for a trusted issuer's subject token
// that fails a check (RFC 8693 section 2.2.2: invalid_request); the
// verifier's reason stays in the wrapped error, for the log.
var errExternalSubject = fosite.ErrInvalidRequest.WithHint("The subject_token is not a valid token of a trusted issuer, or was already exchanged.")

// externalExchangeClaims grants the exchange of a trusted issuer's token
// (design D14) for a Gatehouse token. verifyTrusted checks it (the
// issuer's keys, algorithms, typ, audiences, times and maximum age) and
// maps its subject to an enabled Gatehouse user or client. The new token's
// sub is that user or client; its roles are the token's roles through the
// issuer's allow-list when the issuer maps roles, otherwise the Gatehouse
// subject's own; its scopes are within the token's scope or scp when it
// has one; its expiry is no later than the token's; act names the client
// when it is not the subject itself. Each external token is exchanged
// once: its jti is recorded until its exp, after every other check
// passed, so a refused request burns nothing.
func (s *Server) externalExchangeClaims(ctx context.Context, ar fosite.AccessRequester, c storage.Client, sess *Session, now time.Time) error {
	// As for Gatehouse's own tokens, the token must have been meant for
	// the exchanging service (its aud names the client) or for Gatehouse:
	// a token one service received cannot be exchanged by another.
	id, err := s.verifyTrusted(ctx, ar.GetRequestForm().Get("subject_token"), func(id ExternalIdentity) error {
		if !slices.Contains(id.Audience, c.ID) && !s.namesGatehouse(id.Audience) {
			return fosite.ErrInvalidGrant.WithHint("The token was meant neither for this client nor for Gatehouse.")
		}
		// The scope bound, checked again by grantExchange, is checked
		// here too so that a request refused for it provisions nobody.
		for _, sc := range ar.GetRequestedScopes() {
			if id.Scoped && !slices.Contains(id.Scopes, sc) {
				return fosite.ErrInvalidScope.WithHintf("Scope %q is not in the subject token: an exchange can only narrow.", sc)
			}
		}
		return nil
	})
	if err != nil {
		return s.externalSubjectError(ctx, err)
	}
	if !id.ExpiresAt.After(now) {
		return errExternalSubject
	}
	var (
		u     *storage.User
		roles []string
	)
	if id.UserID != "" {
		user, err := s.store.GetUser(ctx, id.UserID)
		if errors.Is(err, storage.ErrNotFound) || err == nil && user.Disabled {
			return errExternalSubject
		} else if err != nil {
			return err
		}
		u, roles = &user, user.Roles
	} else {
		sc, err := s.store.GetClient(ctx, id.ClientID)
		if errors.Is(err, storage.ErrNotFound) || err == nil && sc.Disabled {
			return errExternalSubject
		} else if err != nil {
			return err
		}
		roles = sc.Roles
	}
	if id.Issuer.RolesClaim != "" && len(id.Issuer.RoleMap) > 0 {
		roles = id.Roles
	}
	if err := grantExchange(ar, c, id.Scopes, id.Scoped); err != nil {
		return err
	}
	err = s.useTrusted(ctx, id, now)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return errExternalSubject
	} else if err != nil {
		return err
	}

	setClaims(sess, c, u, "", now)
	if u == nil {
		sess.JWTClaims.Subject, sess.Subject = id.ClientID, id.ClientID
	}
	if sess.Subject != c.ID {
		sess.JWTClaims.Extra[claimActor] = map[string]any{"sub": c.ID}
	}
	sess.JWTClaims.Extra[claimRoles] = slices.Compact(slices.Sorted(slices.Values(roles)))
	if len(roles) == 0 {
		sess.JWTClaims.Extra[claimRoles] = []string{}
	}
	sess.notAfter = id.ExpiresAt
	return nil
}

// externalSubjectError is the RFC 8693 answer for verifyTrusted's error:
// an unreachable issuer or store stays a 503, anything else about the
// token is invalid_request. The reason goes to the log only: the answer
// does not tell a client whether a username is known to Gatehouse.
func (s *Server) externalSubjectError(ctx context.Context, err error) error {
	if errors.Is(err, storage.ErrUnavailable) || fosite.ErrorToRFC6749Error(err).CodeField >= 500 || errors.Is(err, fosite.ErrInvalidScope) {
		return err
	}
	s.logger.InfoContext(ctx, "token exchange: subject token refused", "reason", fosite.ErrorToRFC6749Error(err).HintField)
	return errExternalSubject.WithWrap(err)
}
