package oauth

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// GrantTypes are the grants Gatehouse serves, each in its own file:
// grant_authorization_code.go, grant_client_credentials.go,
// grant_password.go, grant_refresh.go, grant_jwt_bearer.go,
// grant_token_exchange.go.
func GrantTypes() []string {
	return []string{"authorization_code", "client_credentials", "password", "refresh_token", GrantTypeJWTBearer,
		GrantTypeTokenExchange}
}

// AuthMethods are the client authentication methods of the token,
// introspection and revocation endpoints; private_key_jwt assertions may
// be signed with AssertionAlgorithms.
func AuthMethods() []string {
	return []string{"client_secret_basic", "client_secret_post", "private_key_jwt"}
}

// Token serves the token endpoint (RFC 6749 section 3.2) for the
// authorization_code (4.1), client_credentials (4.4), password (4.3) and
// refresh_token (6) grants, the JWT bearer grant (RFC 7523 section 2.1)
// and token exchange (RFC 8693).
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	err := s.token(w, r)
	if err != nil {
		s.writeError(w, r, err)
	}
	s.obs.TokenRequest(r.Context(), grantLabel(r.PostForm.Get("grant_type")), outcome(err))
}

// token is the path every grant shares: checks fosite leaves out, fosite's
// access request (client authentication and the grant's own handler), the
// grant's claims, fosite's response.
func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	form := r.PostForm
	gt := form.Get("grant_type")
	switch {
	case gt == "":
		return errInvalidRequest("The grant_type parameter is missing.")
	case !slices.Contains(GrantTypes(), gt):
		// fosite answers invalid_request; RFC 6749 section 5.2 wants this.
		return fosite.ErrUnsupportedGrantType.WithHintf("Grant type %q is not supported.", gt)
	}
	if err := checkClientAuthMethods(r); err != nil {
		return err
	}
	if err := s.checkGrantRequest(gt, form); err != nil {
		return err
	}
	if err := mergeResources(form); err != nil {
		return err
	}

	st := &requestState{allowDisabled: true, secretPresented: presentsSecret(r)}
	if gt == "password" {
		// The throttle counts attempts by client address (design D5).
		st.clientAddr = s.clientAddr(r)
	}
	ctx := withState(r.Context(), st)
	ar, err := s.provider.NewAccessRequest(ctx, r, newSession())
	if ar != nil && ar.GetClient() != nil {
		s.obs.ClientAuthenticated(ctx, ar.GetClient().GetID())
	}
	if err != nil {
		return s.accessRequestFailed(ctx, gt, err)
	}
	c, ok := clientRecord(ar.GetClient())
	if !ok {
		return fosite.ErrServerError.WithDebug("client of unexpected type")
	}

	if c.Disabled {
		if gt == "refresh_token" {
			return fosite.ErrInvalidGrant.WithHint("The client is disabled.")
		}
		return fosite.ErrInvalidClient.WithHint("The client is disabled.")
	}
	sess, err := sessionOf(ar)
	if err != nil {
		return err
	}
	now := s.now()
	switch gt {
	case "client_credentials":
		err = s.clientCredentialsClaims(ar, c, sess, now)
	case "password":
		err = s.passwordClaims(ar, c, st.authenticatedUser(), sess, now)
	case "refresh_token":
		err = s.refreshClaims(r, ar, c, sess, now)
	case "authorization_code":
		err = s.codeClaims(ctx, ar, c, st, sess, now)
	case GrantTypeJWTBearer:
		err = s.jwtBearerClaims(ctx, form, ar, c, sess, now)
	case GrantTypeTokenExchange:
		err = s.tokenExchangeClaims(ctx, ar, c, sess, now)
	default:
		// A grant without claims issues nothing (grant_handler.go).
		err = fosite.ErrServerError.WithDebugf("no claims for grant %q", gt)
	}
	if err != nil {
		return err
	}

	// fosite stamped exp from the wall clock; make it agree with iat.
	lifetime := fosite.GetEffectiveLifespan(ar.GetClient(), fosite.GrantType(gt), fosite.AccessToken, s.cfg.AccessTokenLifetime)
	exp := now.UTC().Truncate(time.Second).Add(lifetime)
	if !sess.notAfter.IsZero() && sess.notAfter.Before(exp) {
		exp = sess.notAfter.UTC()
	}
	sess.SetExpiresAt(fosite.AccessToken, exp)

	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		switch gt {
		case "refresh_token":
			return s.refreshResponseFailed(r, ar, err)
		case "authorization_code":
			return s.codeResponseFailed(r, ar, err)
		}
		return err
	}
	if gt == GrantTypeTokenExchange {
		// RFC 8693 section 2.2.1: required in the response.
		issued, _ := issuedTokenType(form)
		resp.SetExtra("issued_token_type", issued)
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
	s.obs.TokenIssued(ctx, gt, "access_token")
	if resp.GetExtra("refresh_token") != nil {
		s.obs.TokenIssued(ctx, gt, "refresh_token")
	}
	return nil
}

// checkGrantRequest checks what a grant's request must carry before
// fosite sees it.
func (s *Server) checkGrantRequest(gt string, form url.Values) error {
	if gt == GrantTypeJWTBearer {
		return checkJWTBearerRequest(form)
	}
	if gt == "refresh_token" && form.Get("refresh_token") == "" {
		// fosite answers invalid_grant; a missing parameter is
		// invalid_request (RFC 6749 section 5.2).
		return errInvalidRequest("The refresh_token parameter is missing.")
	}
	if gt == GrantTypeTokenExchange {
		return checkTokenExchangeRequest(form)
	}
	return nil
}

// accessRequestFailed is the answer to a failed fosite access request.
func (s *Server) accessRequestFailed(ctx context.Context, gt string, err error) error {
	if gt == "refresh_token" {
		return s.refreshRequestFailed(ctx, err)
	}
	return err
}

// presentsSecret reports whether the request carries client credentials
// with a secret (Basic, or client_secret in the body).
func presentsSecret(r *http.Request) bool {
	_, _, basic := r.BasicAuth()
	return basic || r.PostForm.Has("client_secret")
}

// checkClientAuthMethods refuses a request without client authentication
// (fosite says invalid_request; RFC 6749 section 5.2 says invalid_client)
// or with two methods at once (section 2.3): Basic, client_secret in the
// body, or a client assertion (RFC 7523 section 2.2), which needs no
// client_id.
func checkClientAuthMethods(r *http.Request) error {
	_, _, basic := r.BasicAuth()
	secret := r.PostForm.Get("client_secret") != ""
	switch {
	case hasAssertion(r.PostForm) && (basic || secret):
		return errInvalidRequest("Use one client authentication method: a client assertion, Basic or client_secret in the body, not two.")
	case hasAssertion(r.PostForm):
		return nil
	case !basic && r.PostForm.Get("client_id") == "":
		return fosite.ErrInvalidClient.WithHint("No client authentication was included.")
	case basic && secret:
		return errInvalidRequest("Use one client authentication method: Basic or client_secret in the body, not both.")
	}
	return nil
}

// mergeResources adds RFC 8707 resource indicators to the audiences fosite
// checks against the client's registered audiences.
func mergeResources(form url.Values) error {
	res := form["resource"]
	if len(res) == 0 {
		return nil
	}
	for _, v := range res {
		u, err := url.Parse(v)
		if err != nil || !u.IsAbs() || u.Fragment != "" {
			return errInvalidTarget.WithHint("A resource must be an absolute URI without a fragment.")
		}
	}
	form["audience"] = append(fosite.GetAudiences(form), res...)
	return nil
}

// grantRequested grants the requested scopes and audiences, which fosite
// has already checked against the client's registration. With no scope
// requested, the client's scopes are the default (RFC 6749 section 3.3);
// with no audience, the client's audiences (or the issuer, see client).
// offline_access is granted only to a password-grant client that may use
// refresh_token (fosite would issue a refresh token without that check).
func (s *Server) grantRequested(ar fosite.AccessRequester, c storage.Client, userGrant bool) {
	scopes := ar.GetRequestedScopes()
	if len(scopes) == 0 {
		scopes = fosite.Arguments(slices.DeleteFunc(slices.Clone(c.Scopes), func(sc string) bool { return sc == ScopeOfflineAccess }))
	}
	for _, sc := range scopes {
		if sc == ScopeOfflineAccess && !(userGrant && slices.Contains(c.GrantTypes, "refresh_token")) {
			continue
		}
		ar.GrantScope(sc)
	}
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = ar.GetClient().GetAudience()
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}
}
