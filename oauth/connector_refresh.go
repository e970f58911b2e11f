package oauth

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// rereadUpstream re-reads a refreshing user upstream through each of its
// identity links (issue 16 point 4: the upstream is the source of truth
// for a linked user's roles and existence), before the refresh's claims
// are set from the user:
//
//   - a link whose connector is gone, disabled, or of a kind without an
//     UpstreamRereader is skipped;
//   - a kind answering ErrUpstreamRevoked (the user removed or disabled
//     upstream, an upstream refresh answering invalid_grant, no upstream
//     refresh token to ask with) refuses the refresh with invalid_grant
//     and revokes the family;
//   - any other failure is an outage: 503 temporarily_unavailable, and
//     the family lives;
//   - otherwise the mapped roles are written to the user (SyncUpstreamRoles)
//     and the new token carries them.
//
// It runs only for a user with links (Session.userLinked, read in the
// same query as the family), so other refreshes pay nothing for it.
func (s *Server) rereadUpstream(r *http.Request, familyID string, u *storage.User) error {
	ctx := r.Context()
	links, err := s.store.ListUserIdentityLinks(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("refresh: identity links: %w", err)
	}
	for _, l := range links {
		c, err := s.store.GetConnector(ctx, l.ConnectorID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("refresh: connector: %w", err)
		}
		rr := s.rereaders[c.Kind]
		if c.Disabled || rr == nil {
			continue
		}
		id, next, err := rr.Reread(ctx, c, l)
		if errors.Is(err, ErrUpstreamRevoked) {
			s.logger.InfoContext(ctx, "refresh refused upstream", "connector", c.ID, "user_id", u.ID, "err", err)
			s.revokeFamilyForSubject(r, familyID)
			return fosite.ErrInvalidGrant.WithHintf("%s no longer vouches for the user; sign in again.", c.Name)
		}
		if err != nil {
			s.logger.WarnContext(ctx, "refresh: upstream unavailable", "connector", c.ID, "err", err)
			return fmt.Errorf("refresh: connector %s: %w: %w", c.ID, storage.ErrUnavailable, err)
		}
		if id.Subject != l.Subject {
			s.revokeFamilyForSubject(r, familyID)
			return fosite.ErrInvalidGrant.WithHintf("%s answered for another user; sign in again.", c.Name)
		}
		now := s.now().UTC()
		user, err := SyncUpstreamRoles(ctx, s.store, c, u.ID, id.Roles, now)
		if errors.Is(err, ErrUserDisabled) {
			return fosite.ErrInvalidGrant.WithHint("The user no longer exists or is disabled.")
		}
		if err != nil {
			return fmt.Errorf("refresh: %w", err)
		}
		*u = user
		if err := s.store.UpdateIdentityLink(ctx, l.ConnectorID, l.Subject, func(cur storage.IdentityLink) (storage.IdentityLink, error) {
			cur.LastLoginAt, cur.RefreshTokenEnc = now, next.RefreshTokenEnc
			return cur, nil
		}); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("refresh: identity link: %w", err)
		}
	}
	return nil
}
