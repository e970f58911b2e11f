package oauth

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/gatehouse/gatehouse/storage"
)

// Logout serves OpenID Connect RP-Initiated Logout 1.0: it ends the
// browser's login session and, with Config.LogoutRevokesFamilies, revokes
// the refresh families issued in it. With an id_token_hint Gatehouse
// issued, the user is signed out at once and sent to the
// post_logout_redirect_uri, which must be registered for the client the
// ID token was for (section 2), with state; without one the user confirms
// on a page first (section 2: logout requests without a hint may come
// from anyone).
func (s *Server) Logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil || checkText(r.Form) != nil {
		s.errorPage(w, http.StatusBadRequest, "The sign-out request could not be read.")
		return
	}
	hint := r.Form.Get("id_token_hint")
	confirmed := r.Method == http.MethodPost && r.PostForm.Has("csrf_token") && s.csrfOK(r)
	if r.Method == http.MethodPost && r.PostForm.Has("csrf_token") && !confirmed {
		s.errorPage(w, http.StatusForbidden, "This form has expired or did not come from this site.")
		return
	}
	var redirect *url.URL
	if hint != "" {
		clientID, err := s.hintClient(r.Context(), hint)
		if err != nil {
			s.errorPage(w, http.StatusBadRequest, "The sign-out request names an ID token this server did not issue.")
			return
		}
		if raw := r.Form.Get("post_logout_redirect_uri"); raw != "" {
			c, err := s.adapter.loadClient(r.Context(), clientID)
			if err != nil || !slices.Contains(c.PostLogoutRedirectURIs, raw) {
				s.errorPage(w, http.StatusBadRequest, "The address to return to after signing out is not registered for this application.")
				return
			}
			redirect, _ = url.Parse(raw)
		}
	} else if !confirmed {
		s.renderPage(w, http.StatusOK, page{Kind: "logout", Title: "Sign out?", Action: LogoutPath, CSRF: s.csrfToken(w, r)})
		return
	}
	if err := s.endLoginSession(w, r); err != nil {
		s.errorPage(w, http.StatusServiceUnavailable, "Signing out failed. Try again in a moment.")
		return
	}
	if redirect == nil {
		s.renderPage(w, http.StatusOK, page{Kind: "message", Title: "Signed out", Message: "You are signed out."})
		return
	}
	if st := r.Form.Get("state"); st != "" {
		q := redirect.Query()
		q.Set("state", st)
		redirect.RawQuery = q.Encode()
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, redirect.String(), http.StatusSeeOther)
}

// hintClient verifies an id_token_hint (signature by kid, typ JWT, issuer;
// an expired one is accepted, section 2) and returns the client it was
// issued to.
func (s *Server) hintClient(ctx context.Context, hint string) (string, error) {
	if len(hint) > maxTokenBytes {
		return "", errors.New("id_token_hint too long")
	}
	t, err := (&signer{ring: s.ring, idTokens: true}).Decode(ctx, hint)
	if err != nil {
		return "", err
	}
	if iss, _ := t.Claims["iss"].(string); iss != s.cfg.Issuer {
		return "", errors.New("id_token_hint from another issuer")
	}
	if azp, _ := t.Claims["azp"].(string); azp != "" {
		return azp, nil
	}
	switch aud := t.Claims["aud"].(type) {
	case string:
		return aud, nil
	case []any:
		if len(aud) == 1 {
			if c, ok := aud[0].(string); ok {
				return c, nil
			}
		}
	}
	return "", errors.New("id_token_hint names no single client")
}

// endLoginSession ends the browser's login session, if any, and revokes
// its refresh families when configured to.
func (s *Server) endLoginSession(w http.ResponseWriter, r *http.Request) error {
	sess, _, err := s.loginSession(r.Context(), r)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(sessionCookie), Value: "", Path: "/", MaxAge: -1, HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode})
	if sess.ID == "" {
		return nil
	}
	ck, _ := r.Cookie(s.cookieName(sessionCookie))
	digest := sha256.Sum256([]byte(ck.Value))
	if err := s.store.DeleteLoginSession(r.Context(), digest[:]); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	if !s.cfg.LogoutRevokesFamilies {
		return nil
	}
	families, err := s.store.RevokeLoginSessionRefreshFamilies(r.Context(), sess.ID, s.now())
	if err != nil {
		return err
	}
	for _, f := range families {
		if err := s.store.Deny(r.Context(), f, s.now().Add(DenyTTL)); err != nil {
			return err
		}
	}
	return nil
}
