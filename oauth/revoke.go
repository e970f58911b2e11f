package oauth

import (
	"errors"
	"net/http"

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
	st := &reqState{revocation: true}
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
	s.provider.WriteRevocationResponse(ctx, w, nil)
}
