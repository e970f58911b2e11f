package oauth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// codeClaims sets the claims of an authorization code's tokens (RFC 6749
// section 4.1.3): fosite has granted what the authorization request was
// granted; the user is read as it is now, and becomes the user a refresh
// family created here records.
func (s *Server) codeClaims(ctx context.Context, ar fosite.AccessRequester, c storage.Client, st *requestState, sess *Session, now time.Time) error {
	u, err := s.adapter.codeUser(ctx, sess)
	if err != nil {
		return err
	}
	st.setUser(u)
	// fid is the request id whether or not a refresh family comes with
	// it, so that a second use of the code denies these access tokens too.
	setClaims(sess, c, u, ar.GetID(), now)
	return nil
}

// codeResponseFailed is the answer to a code redemption that lost the race
// to another redemption of the same code, found out when fosite read the
// code again or when the invalidation's compare-and-swap failed:
// invalid_grant, and what the winner got is revoked, as for any second use
// (RFC 6749 section 4.1.2).
func (s *Server) codeResponseFailed(r *http.Request, ar fosite.AccessRequester, err error) error {
	if !errors.Is(err, fosite.ErrInvalidatedAuthorizeCode) {
		return err
	}
	s.revokeFamily(r, ar.GetID())
	return fosite.ErrInvalidGrant.WithHint("The authorization code has already been used.")
}
