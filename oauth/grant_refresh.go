package oauth

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// refreshRequestFailed is the answer to a refresh that fosite refused: a
// refused family says why (refreshRefusal), and a reused token was
// counted.
func (s *Server) refreshRequestFailed(ctx context.Context, err error) error {
	if errors.Is(err, fosite.ErrInactiveToken) {
		s.obs.RefreshReuse(ctx) // fosite revoked the family
	}
	var refused refreshRefusal
	if errors.As(err, &refused) {
		return fosite.ErrInvalidGrant.WithHint(string(refused))
	}
	return err
}

// refreshClaims sets a refresh's claims (RFC 6749 section 6) from the
// client and the user as they are now: the user came with the family, in
// the session, and the storage adapter refused the refresh if the user is
// gone or disabled.
func (s *Server) refreshClaims(r *http.Request, ar fosite.AccessRequester, c storage.Client, sess *Session, now time.Time) error {
	if err := narrowRefresh(r, ar); err != nil {
		return err
	}
	u := sess.user
	if u == nil || u.Disabled {
		return fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
	}
	if sess.userLinked {
		if err := s.rereadUpstream(r, ar.GetID(), u); err != nil {
			return err
		}
	}
	setClaims(sess, c, u, ar.GetID(), now)
	return nil
}

// refreshResponseFailed is the answer to a refresh whose rotation failed.
// A lost compare-and-swap means another request rotated this token a
// moment ago: a replay (RFC 9700 section 4.14.2), so the family is
// revoked, as for reuse.
func (s *Server) refreshResponseFailed(r *http.Request, ar fosite.AccessRequester, err error) error {
	if !errors.Is(err, errRefreshRace) {
		return err
	}
	s.revokeFamily(r, ar.GetID())
	s.obs.RefreshReuse(r.Context())
	return fosite.ErrInvalidGrant.WithHint("The refresh token was already used.")
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
	s.denyFamily(r, familyID)
}

// revokeFamilyForSubject revokes a family because its user was removed or
// disabled upstream (reason RevokedSubject, as when an operator disables
// the user), and denies its access tokens.
func (s *Server) revokeFamilyForSubject(r *http.Request, familyID string) {
	ctx := r.Context()
	if err := s.store.RevokeRefreshFamily(ctx, familyID, storage.RevokedSubject, s.now().UTC()); err != nil && !errors.Is(err, storage.ErrNotFound) {
		s.logger.ErrorContext(ctx, "revoke refresh family", "family_id", familyID, "err", err)
	}
	s.denyFamily(r, familyID)
}

func (s *Server) denyFamily(r *http.Request, familyID string) {
	if err := s.adapter.RevokeAccessToken(r.Context(), familyID); err != nil {
		s.logger.ErrorContext(r.Context(), "deny refresh family", "family_id", familyID, "err", err)
	}
}
