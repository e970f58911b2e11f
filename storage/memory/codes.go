package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneCode(c storage.AuthorizationCode) storage.AuthorizationCode {
	c.Digest = slices.Clone(c.Digest)
	c.RequestedScopes = slices.Clone(c.RequestedScopes)
	c.GrantedScopes = slices.Clone(c.GrantedScopes)
	c.RequestedAudiences = slices.Clone(c.RequestedAudiences)
	c.GrantedAudiences = slices.Clone(c.GrantedAudiences)
	c.Session = slices.Clone(c.Session)
	return c
}

// CreateAuthorizationCode stores a new code; its digest must be unused.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c storage.AuthorizationCode) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.codes[string(c.Digest)]; ok {
		return fmt.Errorf("create authorization code: %w", storage.ErrAlreadyExists)
	}
	return setMap(ctx, s.codes, string(c.Digest), cloneCode(c))
}

// GetAuthorizationCode returns the code, with storage.ErrInvalidatedCode
// when it was redeemed.
func (s *Store) GetAuthorizationCode(ctx context.Context, digest []byte) (storage.AuthorizationCode, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.codes[string(digest)]
	if !ok {
		return storage.AuthorizationCode{}, fmt.Errorf("get authorization code: %w", storage.ErrNotFound)
	}
	if !c.Active {
		return cloneCode(c), fmt.Errorf("get authorization code: %w", storage.ErrInvalidatedCode)
	}
	return cloneCode(c), nil
}

// InvalidateAuthorizationCode marks an active code used; the store's lock
// makes the check and the write one step.
func (s *Store) InvalidateAuthorizationCode(ctx context.Context, digest []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.codes[string(digest)]
	if !ok || !c.Active {
		return fmt.Errorf("invalidate authorization code: %w", storage.ErrNotFound)
	}
	c = cloneCode(c)
	c.Active = false
	return setMap(ctx, s.codes, string(digest), c)
}

// DeleteExpiredAuthorizationCodes deletes up to limit codes that expired
// before before.
func (s *Store) DeleteExpiredAuthorizationCodes(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, c := range s.codes {
		if n >= limit {
			break
		}
		if c.ExpiresAt.Before(before) {
			if err := deleteMap(ctx, s.codes, k); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
