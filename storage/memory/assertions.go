package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// UseAssertion records digest as used until expiresAt.
func (s *Store) UseAssertion(ctx context.Context, digest []byte, expiresAt, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := string(digest)
	if until, ok := s.assertions[k]; ok && until.After(now) {
		return fmt.Errorf("use assertion: %w", storage.ErrAlreadyExists)
	}
	return setMap(ctx, s.assertions, k, expiresAt)
}

// DeleteExpiredAssertions deletes up to limit records that expired before
// before.
func (s *Store) DeleteExpiredAssertions(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k, until := range s.assertions {
		if n >= limit {
			break
		}
		if until.Before(before) {
			if err := deleteMap(ctx, s.assertions, k); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
