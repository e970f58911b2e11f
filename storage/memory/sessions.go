package memory

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneSession(ls storage.LoginSession) storage.LoginSession {
	ls.Digest = slices.Clone(ls.Digest)
	ls.AMR = slices.Clone(ls.AMR)
	return ls
}

// CreateLoginSession stores a new session; its id and digest must be
// unused.
func (s *Store) CreateLoginSession(ctx context.Context, ls storage.LoginSession) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[ls.ID]; ok {
		return fmt.Errorf("create login session: %w", storage.ErrAlreadyExists)
	}
	if _, ok := s.sessionDigests[string(ls.Digest)]; ok {
		return fmt.Errorf("create login session: digest: %w", storage.ErrAlreadyExists)
	}
	if err := setMap(ctx, s.sessions, ls.ID, cloneSession(ls)); err != nil {
		return err
	}
	return setMap(ctx, s.sessionDigests, string(ls.Digest), ls.ID)
}

// liveSession returns the session whose current digest is digest and that
// has not expired at now. Callers hold s.mu.
func (s *Store) liveSession(digest []byte, now time.Time) (storage.LoginSession, bool) {
	id, ok := s.sessionDigests[string(digest)]
	if !ok {
		return storage.LoginSession{}, false
	}
	ls, ok := s.sessions[id]
	if !ok || !ls.ExpiresAt.After(now) {
		return storage.LoginSession{}, false
	}
	return ls, true
}

// GetLoginSession returns the live session whose current digest is digest.
func (s *Store) GetLoginSession(ctx context.Context, digest []byte, now time.Time) (storage.LoginSession, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ls, ok := s.liveSession(digest, now)
	if !ok {
		return storage.LoginSession{}, fmt.Errorf("get login session: %w", storage.ErrNotFound)
	}
	return cloneSession(ls), nil
}

// RotateLoginSession gives a live session a new digest under the store's
// lock.
func (s *Store) RotateLoginSession(ctx context.Context, r storage.LoginSessionRotation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ls, ok := s.liveSession(r.Digest, r.Now)
	if !ok {
		return fmt.Errorf("rotate login session: %w", storage.ErrNotFound)
	}
	if _, taken := s.sessionDigests[string(r.NextDigest)]; taken {
		return fmt.Errorf("rotate login session: digest: %w", storage.ErrAlreadyExists)
	}
	ls = cloneSession(ls)
	ls.Digest = slices.Clone(r.NextDigest)
	ls.AuthTime, ls.AMR, ls.ExpiresAt = r.AuthTime, slices.Clone(r.AMR), r.ExpiresAt
	if err := deleteMap(ctx, s.sessionDigests, string(r.Digest)); err != nil {
		return err
	}
	if err := setMap(ctx, s.sessionDigests, string(ls.Digest), ls.ID); err != nil {
		return err
	}
	return setMap(ctx, s.sessions, ls.ID, ls)
}

// deleteSession removes a session and its digest. Callers hold s.mu.
func (s *Store) deleteSession(ctx context.Context, ls storage.LoginSession) error {
	if err := deleteMap(ctx, s.sessionDigests, string(ls.Digest)); err != nil {
		return err
	}
	return deleteMap(ctx, s.sessions, ls.ID)
}

// DeleteLoginSession ends the session whose current digest is digest.
func (s *Store) DeleteLoginSession(ctx context.Context, digest []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.sessionDigests[string(digest)]
	if !ok {
		return fmt.Errorf("delete login session: %w", storage.ErrNotFound)
	}
	return s.deleteSession(ctx, s.sessions[id])
}

// DeleteUserLoginSessions ends every session of the user.
func (s *Store) DeleteUserLoginSessions(ctx context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ls := range s.sessions {
		if ls.UserID != userID {
			continue
		}
		if err := s.deleteSession(ctx, ls); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// DeleteExpiredLoginSessions deletes up to limit sessions that expired
// before before.
func (s *Store) DeleteExpiredLoginSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ls := range s.sessions {
		if n >= limit {
			break
		}
		if ls.ExpiresAt.Before(before) {
			if err := s.deleteSession(ctx, ls); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
