package memory

import (
	"context"
	"time"
)

// Deny puts id on the deny list until the given time.
func (s *Store) Deny(ctx context.Context, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.denied[id]; ok && old.After(until) {
		return nil
	}
	return setMap(ctx, s.denied, id, until)
}

// Denied reports whether any of ids is denied at now.
func (s *Store) Denied(ctx context.Context, now time.Time, ids ...string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range ids {
		if until, ok := s.denied[id]; ok && until.After(now) {
			return true, nil
		}
	}
	return false, nil
}

// DeniedUntil returns the entries of ids that are on the list.
func (s *Store) DeniedUntil(ctx context.Context, ids ...string) (map[string]time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]time.Time{}
	for _, id := range ids {
		if until, ok := s.denied[id]; ok {
			out[id] = until
		}
	}
	return out, nil
}

// DeleteExpiredDenials deletes up to limit entries whose time passed.
func (s *Store) DeleteExpiredDenials(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, until := range s.denied {
		if n >= limit {
			break
		}
		if !until.After(before) {
			if err := deleteMap(ctx, s.denied, id); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
