package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneConnector(c storage.Connector) storage.Connector {
	if c.OIDC != nil {
		o := *c.OIDC
		o.Scopes = slices.Clone(o.Scopes)
		c.OIDC = &o
	}
	if c.LDAP != nil {
		l := *c.LDAP
		c.LDAP = &l
	}
	c.SecretEnc = slices.Clone(c.SecretEnc)
	c.RoleMap = maps.Clone(c.RoleMap)
	c.EmailDomains = slices.Clone(c.EmailDomains)
	return c
}

func cloneLink(l storage.IdentityLink) storage.IdentityLink {
	l.RefreshTokenEnc = slices.Clone(l.RefreshTokenEnc)
	return l
}

// linkKey keys a link by connector and subject; NUL separates them, and
// neither may hold one (storage.ValidText).
func linkKey(connectorID, subject string) string { return connectorID + "\x00" + subject }

// GetConnector returns the connector with the given id.
func (s *Store) GetConnector(ctx context.Context, id string) (storage.Connector, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.connectors[id]
	if !ok {
		return storage.Connector{}, fmt.Errorf("get connector %q: %w", id, storage.ErrNotFound)
	}
	return cloneConnector(c), nil
}

// CreateConnector stores a new connector.
func (s *Store) CreateConnector(ctx context.Context, c storage.Connector) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.connectors[c.ID]; ok {
		return fmt.Errorf("create connector %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	return setMap(ctx, s.connectors, c.ID, cloneConnector(c))
}

// UpdateConnector applies fn to the stored connector under the store's lock.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(storage.Connector) (storage.Connector, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.connectors[id]
	if !ok {
		return fmt.Errorf("update connector %q: %w", id, storage.ErrNotFound)
	}
	c, err := fn(cloneConnector(old))
	if err != nil {
		return err
	}
	c.ID = id
	return setMap(ctx, s.connectors, id, cloneConnector(c))
}

// DeleteConnector removes a connector and its identity links.
func (s *Store) DeleteConnector(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.connectors[id]; !ok {
		return fmt.Errorf("delete connector %q: %w", id, storage.ErrNotFound)
	}
	for k := range s.links {
		if strings.HasPrefix(k, id+"\x00") {
			if err := deleteMap(ctx, s.links, k); err != nil {
				return err
			}
		}
	}
	return deleteMap(ctx, s.connectors, id)
}

// ListConnectors returns every connector ordered by id.
func (s *Store) ListConnectors(ctx context.Context) ([]storage.Connector, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedValues(s.connectors, cloneConnector), nil
}

// GetIdentityLink returns the link of (connectorID, subject).
func (s *Store) GetIdentityLink(ctx context.Context, connectorID, subject string) (storage.IdentityLink, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	l, ok := s.links[linkKey(connectorID, subject)]
	if !ok {
		return storage.IdentityLink{}, fmt.Errorf("get identity link of connector %q: %w", connectorID, storage.ErrNotFound)
	}
	return cloneLink(l), nil
}

// CreateIdentityLink stores l and, when user is not nil, creates the user,
// both under the store's lock.
func (s *Store) CreateIdentityLink(ctx context.Context, l storage.IdentityLink, user *storage.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	op := fmt.Sprintf("create identity link of connector %q", l.ConnectorID)
	k := linkKey(l.ConnectorID, l.Subject)
	if _, ok := s.links[k]; ok {
		return fmt.Errorf("%s: %w", op, storage.ErrAlreadyExists)
	}
	if _, ok := s.connectors[l.ConnectorID]; !ok {
		return fmt.Errorf("%s: connector: %w", op, storage.ErrNotFound)
	}
	if user != nil {
		if _, ok := s.users[user.ID]; ok {
			return fmt.Errorf("%s: user %q: %w", op, user.ID, storage.ErrAlreadyExists)
		}
		if _, ok := s.usernames[user.Username]; ok {
			return fmt.Errorf("%s: username: %w", op, storage.ErrAlreadyExists)
		}
		if err := setMap(ctx, s.users, user.ID, cloneUser(*user)); err != nil {
			return err
		}
		if err := setMap(ctx, s.usernames, user.Username, user.ID); err != nil {
			return err
		}
	} else if _, ok := s.users[l.UserID]; !ok {
		return fmt.Errorf("%s: user %q: %w", op, l.UserID, storage.ErrNotFound)
	} else {
		for _, other := range s.links {
			if other.ConnectorID == l.ConnectorID && other.UserID == l.UserID {
				return fmt.Errorf("%s: user %q is linked through it already: %w", op, l.UserID, storage.ErrAlreadyExists)
			}
		}
	}
	return setMap(ctx, s.links, k, cloneLink(l))
}

// UpdateIdentityLink applies fn to the stored link under the store's lock.
func (s *Store) UpdateIdentityLink(ctx context.Context, connectorID, subject string, fn func(storage.IdentityLink) (storage.IdentityLink, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := linkKey(connectorID, subject)
	old, ok := s.links[k]
	if !ok {
		return fmt.Errorf("update identity link of connector %q: %w", connectorID, storage.ErrNotFound)
	}
	l, err := fn(cloneLink(old))
	if err != nil {
		return err
	}
	l.ConnectorID, l.Subject, l.UserID = old.ConnectorID, old.Subject, old.UserID
	return setMap(ctx, s.links, k, cloneLink(l))
}

// ListUserIdentityLinks returns the user's links.
func (s *Store) ListUserIdentityLinks(ctx context.Context, userID string) ([]storage.IdentityLink, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []storage.IdentityLink
	for _, l := range s.links {
		if l.UserID == userID {
			out = append(out, cloneLink(l))
		}
	}
	sort.Slice(out, func(i, j int) bool {
		return linkKey(out[i].ConnectorID, out[i].Subject) < linkKey(out[j].ConnectorID, out[j].Subject)
	})
	return out, nil
}

// ConnectorHasIdentityLinks reports whether the connector has a link.
func (s *Store) ConnectorHasIdentityLinks(ctx context.Context, connectorID string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, l := range s.links {
		if l.ConnectorID == connectorID {
			return true, nil
		}
	}
	return false, nil
}

// FindUsersByEmail returns the users whose email is exactly email.
func (s *Store) FindUsersByEmail(ctx context.Context, email string) ([]storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []storage.User
	if email == "" {
		return out, nil
	}
	for _, u := range s.users {
		if u.Email == email {
			out = append(out, cloneUser(u))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// deleteUserLinks deletes the user's links; callers hold s.mu.
func (s *Store) deleteUserLinks(ctx context.Context, userID string) error {
	for k, l := range s.links {
		if l.UserID == userID {
			if err := deleteMap(ctx, s.links, k); err != nil {
				return err
			}
		}
	}
	return nil
}
