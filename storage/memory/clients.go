package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneClient(c storage.Client) storage.Client {
	c.SecretHash = slices.Clone(c.SecretHash)
	c.PreviousSecretHash = slices.Clone(c.PreviousSecretHash)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.Audiences = slices.Clone(c.Audiences)
	c.Roles = slices.Clone(c.Roles)
	c.Claims = maps.Clone(c.Claims)
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	c.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	c.WebOrigins = slices.Clone(c.WebOrigins)
	c.JWKS = slices.Clone(c.JWKS)
	c.AuthSigningAlgs = slices.Clone(c.AuthSigningAlgs)
	return c
}

// GetClient returns the client with the given id.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, fmt.Errorf("get client %q: %w", id, storage.ErrNotFound)
	}
	return cloneClient(c), nil
}

// CreateClient stores a new client; its id and name must be unused.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("create client %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	if c.Name != "" {
		for _, o := range s.clients {
			if o.Name == c.Name {
				return fmt.Errorf("create client name %q: %w", c.Name, storage.ErrAlreadyExists)
			}
		}
	}
	return setMap(ctx, s.clients, c.ID, cloneClient(c))
}

// UpdateClient applies fn to the stored client under the store's lock.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("update client %q: %w", id, storage.ErrNotFound)
	}
	c, err := fn(cloneClient(old))
	if err != nil {
		return err
	}
	c.ID = id
	if c.Name != "" && c.Name != old.Name {
		for oid, o := range s.clients {
			if oid != id && o.Name == c.Name {
				return fmt.Errorf("update client name %q: %w", c.Name, storage.ErrAlreadyExists)
			}
		}
	}
	return setMap(ctx, s.clients, id, cloneClient(c))
}

// DeleteClient removes a client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("delete client %q: %w", id, storage.ErrNotFound)
	}
	return deleteMap(ctx, s.clients, id)
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedValues(s.clients, cloneClient), nil
}
