package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// Token serves the token endpoint (RFC 6749 section 3.2) for the
// client_credentials (4.4), password (4.3) and refresh_token (6) grants.
func (s *Server) Token(w http.ResponseWriter, r *http.Request) {
	err := s.token(w, r)
	if err != nil {
		s.writeError(w, r, err)
	}
	s.obs.TokenRequest(r.Context(), grantLabel(r.PostForm.Get("grant_type")), outcome(err))
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) error {
	if err := s.parseForm(w, r); err != nil {
		return err
	}
	form := r.PostForm
	gt := form.Get("grant_type")
	switch {
	case gt == "":
		return errInvalidRequest("The grant_type parameter is missing.")
	case !slices.Contains(GrantTypes, gt):
		// fosite answers invalid_request; RFC 6749 section 5.2 wants this.
		return fosite.ErrUnsupportedGrantType.WithHintf("Grant type %q is not supported.", gt)
	}
	if err := checkClientAuthMethods(r); err != nil {
		return err
	}
	if gt == "refresh_token" && form.Get("refresh_token") == "" {
		// RFC 6749 section 5.2: a missing required parameter.
		return errInvalidRequest("The refresh_token parameter is missing.")
	}
	if err := mergeResources(form); err != nil {
		return err
	}

	st := &reqState{allowDisabled: true}
	ctx := withState(r.Context(), st)
	if gt == "password" {
		// The throttle counts attempts by client address (design D5).
		ctx = withClientAddr(ctx, s.clientAddr(r))
	}
	ar, err := s.provider.NewAccessRequest(ctx, r, newSession())
	if ar != nil && ar.GetClient() != nil {
		s.obs.ClientAuthenticated(ctx, ar.GetClient().GetID())
	}
	if gt == "refresh_token" && errors.Is(err, fosite.ErrInactiveToken) {
		s.obs.RefreshReuse(ctx) // fosite revoked the family
	}
	var refused refreshRefusal
	if errors.As(err, &refused) {
		return fosite.ErrInvalidGrant.WithHint(string(refused))
	}
	if err != nil {
		return err
	}
	st.mu.Lock()
	c, user := st.clients[ar.GetClient().GetID()], st.user
	st.mu.Unlock()
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
		s.grantRequested(ar, c, false)
		setClaims(sess, c, nil, "", now)
	case "password":
		s.grantRequested(ar, c, true)
		family := ""
		if ar.GetGrantedScopes().Has(ScopeOfflineAccess) {
			family = ar.GetID()
		}
		if user == nil {
			return fosite.ErrServerError.WithDebug("authenticated user missing")
		}
		setClaims(sess, c, user, family, now)
	case "refresh_token":
		if err := narrowRefresh(r, ar); err != nil {
			return err
		}
		// The user was read together with the refresh family; the storage
		// adapter refused the refresh if the user is gone or disabled.
		var u *storage.User
		if sess.Subject != c.ID {
			st.mu.Lock()
			read := st.subjectRead
			u = st.subjectUser
			st.mu.Unlock()
			if !read {
				return fosite.ErrServerError.WithDebug("refresh token's user was not read")
			}
			if u == nil || u.Disabled {
				return fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
			}
		}
		setClaims(sess, c, u, ar.GetID(), now)
	}

	// fosite stamped exp from the wall clock; make it agree with iat.
	lifetime := fosite.GetEffectiveLifespan(ar.GetClient(), fosite.GrantType(gt), fosite.AccessToken, s.cfg.AccessTokenLifetime)
	sess.SetExpiresAt(fosite.AccessToken, now.UTC().Truncate(time.Second).Add(lifetime))

	resp, err := s.provider.NewAccessResponse(ctx, ar)
	if err != nil {
		if gt == "refresh_token" && errors.Is(err, errRefreshRace) {
			// Another request rotated this token a moment ago: a replay
			// (RFC 9700 section 4.14.2). Revoke the family, as for reuse.
			s.revokeFamily(r, ar.GetID())
			s.obs.RefreshReuse(ctx)
			return fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
		}
		return err
	}
	s.provider.WriteAccessResponse(ctx, w, ar, resp)
	s.obs.TokenIssued(ctx, gt, "access_token")
	if resp.GetExtra("refresh_token") != nil {
		s.obs.TokenIssued(ctx, gt, "refresh_token")
	}
	return nil
}

// checkClientAuthMethods refuses a request without client authentication
// (fosite says invalid_request; RFC 6749 section 5.2 says invalid_client)
// or with two methods at once (section 2.3).
func checkClientAuthMethods(r *http.Request) error {
	_, _, basic := r.BasicAuth()
	switch {
	case !basic && r.PostForm.Get("client_id") == "":
		return fosite.ErrInvalidClient.WithHint("No client authentication was included.")
	case basic && r.PostForm.Get("client_secret") != "":
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

// narrowRefresh applies what fosite's refresh handler leaves out: a scope
// parameter may narrow the new access token but not widen the grant (RFC
// 6749 section 6). The family keeps its grant: a rotation never rewrites
// it.
func narrowRefresh(r *http.Request, ar fosite.AccessRequester) error {
	requested := fosite.Arguments(strings.Fields(r.PostForm.Get("scope")))
	for _, sc := range requested {
		if !ar.GetGrantedScopes().Has(sc) {
			return fosite.ErrInvalidScope.WithHintf("Scope %q was not granted originally.", sc)
		}
	}
	if req, ok := ar.(*fosite.AccessRequest); ok && len(requested) > 0 {
		req.GrantedScope = slices.Compact(slices.Sorted(slices.Values(requested)))
	}
	return nil
}

// revokeFamily revokes a refresh family and denies its access tokens, as
// fosite does on reuse.
func (s *Server) revokeFamily(r *http.Request, familyID string) {
	ctx := r.Context()
	if err := s.adapter.RevokeRefreshToken(ctx, familyID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.ErrorContext(ctx, "revoke refresh family", "family_id", familyID, "err", err)
	}
	if err := s.adapter.RevokeAccessToken(ctx, familyID); err != nil {
		s.logger.ErrorContext(ctx, "deny refresh family", "family_id", familyID, "err", err)
	}
}
