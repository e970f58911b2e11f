package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// GrantTypeJWTBearer is the JWT bearer authorization grant (RFC 7523
// section 2.1).
const GrantTypeJWTBearer = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// checkJWTBearerRequest checks the grant's one parameter before fosite
// sees the request (RFC 7523 section 2.1: "assertion" is REQUIRED and
// holds a single JWT).
func checkJWTBearerRequest(form url.Values) error {
	if form.Get("assertion") == "" {
		return errInvalidRequest("The assertion parameter is missing.")
	}
	return nil
}

// jwtBearerClaims grants a JWT bearer request (RFC 7523 section 2.1) from
// a client that fosite has authenticated and found allowed the grant
// (grant_handler.go). The assertion must be a token of an enabled trusted
// issuer that verifyTrusted accepts (signature, typ, iss, aud = Gatehouse's
// issuer or token endpoint or the issuer's own audiences, exp/nbf/iat,
// maximum age, a jti, a subject that names an enabled user or client), and
// its jti must not have been used (RFC 7523 section 3 item 7). The access
// token is the subject's:
//
//   - sub is the mapped user's id or the mapped client's id; client_id is
//     the client that presented the assertion;
//   - roles are the subject's Gatehouse roles plus the roles the issuer's
//     allow-list maps from the assertion (never fewer than the subject's
//     own, never an upstream role the map does not name);
//   - scopes are the requested ones within the presenting client's (its
//     scopes by default), not the assertion's, which were granted for
//     another audience;
//   - aud comes from the presenting client's registration (or the
//     requested audience within it), never from the assertion's aud;
//   - no refresh token (RFC 7523 section 2.1 grants are repeated instead).
//
// Every refusal is invalid_grant (RFC 7523 section 3.1); the jti is
// recorded only after every other check passed, so a refused assertion
// never burns it.
func (s *Server) jwtBearerClaims(ctx context.Context, form url.Values, ar fosite.AccessRequester, c storage.Client, sess *Session, now time.Time) error {
	id, err := s.verifyTrusted(ctx, form.Get("assertion"), func(id ExternalIdentity) error {
		if !s.namesGatehouse(id.Audience) {
			// RFC 7523 section 3 item 3: the authorization server MUST
			// reject a JWT that does not name it as an audience, whatever
			// else the issuer's accepted audiences allow (token exchange
			// may accept a service's audience; an assertion must be for
			// Gatehouse).
			return fosite.ErrInvalidGrant.WithHint("The assertion's aud does not name Gatehouse (its issuer or token endpoint).")
		}
		return nil
	})
	if err != nil {
		return err
	}
	var (
		user  *storage.User
		roles []string
	)
	switch {
	case id.UserID != "":
		u, err := s.store.GetUser(ctx, id.UserID)
		if err != nil {
			return subjectGone(err)
		}
		user, roles = &u, u.Roles
	case id.ClientID != "":
		sc, err := s.store.GetClient(ctx, id.ClientID)
		if err != nil {
			return subjectGone(err)
		}
		roles = sc.Roles
	}
	s.grantRequested(ar, c, false)
	setClaims(sess, c, user, "", now)
	if user == nil {
		sess.JWTClaims.Subject, sess.Subject = id.ClientID, id.ClientID
	}
	merged := slices.Clone(roles)
	for _, r := range id.Roles {
		if !slices.Contains(merged, r) {
			merged = append(merged, r)
		}
	}
	if merged == nil {
		merged = []string{}
	}
	sess.JWTClaims.Extra[claimRoles] = merged

	err = s.useTrusted(ctx, id, now)
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return fosite.ErrInvalidGrant.WithHint("The assertion was already used.")
	case err != nil:
		return fmt.Errorf("record assertion: %w", err)
	}
	return nil
}

// subjectGone is the answer when the mapped subject vanished between the
// mapping and the claims.
func subjectGone(err error) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fosite.ErrInvalidGrant.WithHint("The assertion's subject is not known to Gatehouse.")
	}
	return fmt.Errorf("read subject: %w", err)
}
