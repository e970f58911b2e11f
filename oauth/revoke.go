package oauth

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// Revoke serves RFC 7009 token revocation. Revoking a refresh token revokes
// its whole family and denies the family's access tokens; revoking an
// access token puts its jti on the deny list until it expires (design D2).
// Unknown and already revoked tokens get 200 (RFC 7009 section 2.2).
func (s *Server) Revoke(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if err := checkClientAuthMethods(r); err != nil {
		s.writeError(w, r, err)
		return
	}
	st := &requestState{revocation: true, secretPresented: presentsSecret(r)}
	ctx := withState(r.Context(), st)
	if err := s.preverify(ctx, st, r.PostForm.Get("token")); err != nil {
		s.writeError(w, r, err)
		return
	}
	err := s.provider.NewRevocationRequest(ctx, r)
	if errors.Is(err, storage.ErrUnavailable) || errors.Is(err, fosite.ErrTemporarilyUnavailable) {
		// Nothing may be reported revoked that was not (fosite would say
		// 200 for some storage failures).
		s.writeError(w, r, storage.ErrUnavailable)
		return
	}
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.obs.ClientAuthenticated(ctx, revokingClient(r, st))
	s.obs.Revoked(ctx, revokedType(st, r.PostForm.Get("token")))
	s.provider.WriteRevocationResponse(ctx, w, nil)
}

// revokingClient is the client that authenticated a successful revocation
// (a client assertion, Basic, form-encoded per RFC 6749 section 2.3.1, or
// client_id in the body).
func revokingClient(r *http.Request, st *requestState) string {
	if id := st.asserted(); id != "" {
		return id
	}
	if id, _, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(id)
		return id
	}
	return r.PostForm.Get("client_id")
}

// revokedType is "access_token" when tok was verified as one, else "other".
func revokedType(st *requestState, tok string) string {
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.verified[tok[strings.LastIndexByte(tok, '.')+1:]]; ok {
		return "access_token"
	}
	return "other"
}
