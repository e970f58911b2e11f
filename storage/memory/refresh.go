package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneFamily(f storage.RefreshFamily) storage.RefreshFamily {
	f.Scopes = slices.Clone(f.Scopes)
	f.Audiences = slices.Clone(f.Audiences)
	f.FamilyDigest = slices.Clone(f.FamilyDigest)
	f.TokenDigest = slices.Clone(f.TokenDigest)
	f.Session = slices.Clone(f.Session)
	return f
}

// CreateRefreshFamily stores a new family; its id must be unused.
func (s *Store) CreateRefreshFamily(ctx context.Context, f storage.RefreshFamily) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.refresh[f.ID]; ok {
		return fmt.Errorf("create refresh family: %w", storage.ErrAlreadyExists)
	}
	f = cloneFamily(f)
	if f.IdleExpiresAt.After(f.ExpiresAt) {
		f.IdleExpiresAt = f.ExpiresAt
	}
	return setMap(ctx, s.refresh, f.ID, f)
}

// GetRefreshFamily returns the family and its subject's user, if any.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (storage.RefreshFamily, *storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	f, ok := s.refresh[id]
	if !ok {
		return storage.RefreshFamily{}, nil, fmt.Errorf("get refresh family: %w", storage.ErrNotFound)
	}
	if u, ok := s.users[f.Subject]; ok {
		u = cloneUser(u)
		f = cloneFamily(f)
		for _, l := range s.links {
			if l.UserID == u.ID {
				f.SubjectLinked = true
				break
			}
		}
		return f, &u, nil
	}
	return cloneFamily(f), nil, nil
}

// RotateRefreshFamily is the compare-and-swap of the family's current
// token; the store's lock makes it atomic.
func (s *Store) RotateRefreshFamily(ctx context.Context, r storage.RefreshRotation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.refresh[r.FamilyID]
	if !ok || !canRotate(f, r) {
		return fmt.Errorf("rotate refresh family: %w", storage.ErrNotFound)
	}
	if c, ok := s.clients[f.ClientID]; !ok || c.Disabled {
		return fmt.Errorf("rotate refresh family: client: %w", storage.ErrNotFound)
	}
	if u, ok := s.users[f.Subject]; !ok || u.Disabled || u.CredentialsVersion != f.SubjectVersion {
		return fmt.Errorf("rotate refresh family: subject: %w", storage.ErrNotFound)
	}
	f = cloneFamily(f)
	f.TokenDigest = slices.Clone(r.NextDigest)
	f.Generation++
	f.IdleExpiresAt = r.IdleExpiresAt
	if f.IdleExpiresAt.After(f.ExpiresAt) {
		f.IdleExpiresAt = f.ExpiresAt
	}
	return setMap(ctx, s.refresh, f.ID, f)
}

func canRotate(f storage.RefreshFamily, r storage.RefreshRotation) bool {
	return f.Generation == r.Generation && bytes.Equal(f.TokenDigest, r.TokenDigest) && f.RevokedAt.IsZero() &&
		f.ExpiresAt.After(r.Now) && f.IdleExpiresAt.After(r.Now)
}

// RevokeRefreshFamily marks the family revoked; the first revocation's
// time and reason stay.
func (s *Store) RevokeRefreshFamily(ctx context.Context, id, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.refresh[id]
	if !ok {
		return fmt.Errorf("revoke refresh family: %w", storage.ErrNotFound)
	}
	if !f.RevokedAt.IsZero() {
		return nil
	}
	f = cloneFamily(f)
	f.RevokedAt, f.RevokedReason = at, reason
	return setMap(ctx, s.refresh, id, f)
}

// RevokeSubjectRefreshFamilies revokes every live family whose subject or
// client is subject.
func (s *Store) RevokeSubjectRefreshFamilies(ctx context.Context, subject string, at time.Time) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, f := range s.refresh {
		if (f.Subject != subject && f.ClientID != subject) || !f.RevokedAt.IsZero() {
			continue
		}
		f = cloneFamily(f)
		f.RevokedAt, f.RevokedReason = at, storage.RevokedSubject
		if err := setMap(ctx, s.refresh, id, f); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// RevokeLoginSessionRefreshFamilies revokes every live family begun in
// the login session.
func (s *Store) RevokeLoginSessionRefreshFamilies(ctx context.Context, sessionID string, at time.Time) ([]string, error) {
	if sessionID == "" {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for id, f := range s.refresh {
		if f.LoginSessionID != sessionID || !f.RevokedAt.IsZero() {
			continue
		}
		f = cloneFamily(f)
		f.RevokedAt, f.RevokedReason = at, storage.RevokedLogout
		if err := setMap(ctx, s.refresh, id, f); err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids, nil
}

// DeleteDeadRefreshFamilies deletes up to limit expired or long-revoked
// families.
func (s *Store) DeleteDeadRefreshFamilies(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, f := range s.refresh {
		if n >= limit {
			break
		}
		revoked := !f.RevokedAt.IsZero() && f.RevokedAt.Before(revokedBefore)
		if revoked || f.ExpiresAt.Before(expiredBefore) || f.IdleExpiresAt.Before(expiredBefore) {
			if err := deleteMap(ctx, s.refresh, id); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
