package oauth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/storage"
)

// rereadUpstream re-reads user u of refresh family f at each upstream it
// is linked through (issue 16: roles are re-read at every refresh, and a
// user removed upstream cannot refresh). For each link whose connector is
// enabled and whose kind can re-read, the kind's UpstreamRereader answers:
// the roles it returns replace u's (when the connector has a role map), in
// the store and in u, which the refresh's claims are built from; an
// ErrUpstreamRevoked revokes the family and refuses the refresh; any other
// error is an outage (503) and the family lives.
func (s *fositeStore) rereadUpstream(ctx context.Context, f storage.RefreshFamily, u *storage.User) error {
	links, err := s.store.ListUserIdentityLinks(ctx, u.ID)
	if err != nil || len(links) == 0 {
		return err
	}
	for _, link := range links {
		c, err := s.store.GetConnector(ctx, link.ConnectorID)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		rr := s.rereader(c.Kind)
		if c.Disabled || rr == nil {
			continue
		}
		id, _, err := rr.Reread(ctx, c, link)
		if errors.Is(err, ErrUpstreamRevoked) {
			now := s.now().UTC()
			s.logger.InfoContext(ctx, "upstream user removed; refresh family revoked",
				"connector_id", c.ID, "user_id", u.ID, "family_id", f.ID, "err", err)
			if rerr := s.store.RevokeRefreshFamily(ctx, f.ID, storage.RevokedSubject, now); rerr != nil {
				return rerr
			}
			if derr := s.store.Deny(ctx, f.ID, now.Add(DenyTTL)); derr != nil {
				return derr
			}
			return refuse("The user was removed at the identity provider.")
		}
		if err != nil {
			return fmt.Errorf("re-read user %s at connector %s: %w", u.ID, c.ID, err)
		}
		updated, err := SyncUpstreamRoles(ctx, s.store, c, u.ID, id.Roles, s.now().UTC())
		if errors.Is(err, ErrUserDisabled) {
			return refuse("The user is disabled.")
		}
		if err != nil {
			return err
		}
		*u = updated
	}
	return nil
}

// rereader is the UpstreamRereader of a connector kind, or nil.
func (s *fositeStore) rereader(kind string) UpstreamRereader {
	if kind == storage.ConnectorLDAP {
		return s.ldap
	}
	return nil
}
