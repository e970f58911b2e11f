package oauth

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
)

// UserInfo serves the OpenID Connect userinfo endpoint (OIDC Core 1.0
// section 5.3): for an access token that was granted openid, the claims of
// its user as they are now, by scope (section 5.4): sub and roles always;
// preferred_username and name with profile; email and email_verified with
// email. The token comes in the Authorization
// header (RFC 6750 section 2.1) or, with POST, in the form (section 2.2);
// errors are RFC 6750 section 3 challenges.
func (s *Server) UserInfo(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		h.Set("Allow", "GET, POST")
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	tok := bearer(r)
	if tok == "" && r.Method == http.MethodPost {
		if err := s.parseForm(w, r); err != nil {
			bearerError(w, http.StatusBadRequest, "invalid_request", "The request is malformed.")
			return
		}
		tok = r.PostForm.Get("access_token")
	}
	if tok == "" {
		// RFC 6750 section 3.1: no error code when no token was sent.
		h.Set("WWW-Authenticate", `Bearer realm="`+s.cfg.Issuer+`"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if len(tok) > maxTokenBytes {
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid.")
		return
	}
	at, err := s.verifyAccessToken(r.Context(), tok)
	switch {
	case errors.Is(err, storage.ErrUnavailable):
		s.writeError(w, r, err)
		return
	case err != nil:
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token is invalid, expired or revoked.")
		return
	case !slices.Contains(at.Scope, ScopeOpenID):
		bearerError(w, http.StatusForbidden, "insufficient_scope", "The access token was not granted openid.")
		return
	}
	u, err := s.store.GetUser(r.Context(), at.Subject)
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && u.Disabled:
		// A client's own token, or a user who is gone: no user to describe.
		bearerError(w, http.StatusUnauthorized, "invalid_token", "The access token does not name an active user.")
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	claims := map[string]any{"sub": u.ID, "roles": nonNil(u.Roles)}
	if slices.Contains(at.Scope, "profile") {
		claims["preferred_username"] = u.Username
		if u.Name != "" {
			claims["name"] = u.Name
		}
	}
	if slices.Contains(at.Scope, "email") && u.Email != "" {
		claims["email"] = u.Email
		claims["email_verified"] = u.EmailVerified
	}
	h.Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(claims)
}

// bearerError writes an RFC 6750 section 3 error with its challenge.
func bearerError(w http.ResponseWriter, status int, code, description string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="`+code+`", error_description="`+strings.ReplaceAll(description, `"`, "'")+`"`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(errorBody{Error: code, Description: description})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
