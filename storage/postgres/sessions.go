package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// CreateLoginSession stores a new session; its id and digest must be
// unused.
func (s *Store) CreateLoginSession(ctx context.Context, ls storage.LoginSession) error {
	const op = "create login session"
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	_, err = q.Exec(ctx, `INSERT INTO login_sessions (id, digest, user_id, auth_time, amr, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		ls.ID, notNull(ls.Digest), ls.UserID, ls.AuthTime, list(ls.AMR), ls.CreatedAt, ls.ExpiresAt)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// GetLoginSession returns the live session whose current digest is digest.
func (s *Store) GetLoginSession(ctx context.Context, digest []byte, now time.Time) (storage.LoginSession, error) {
	const op = "get login session"
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.LoginSession{}, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var ls storage.LoginSession
	err = q.QueryRow(ctx, `SELECT id, digest, user_id, auth_time, amr, created_at, expires_at
		FROM login_sessions WHERE digest = $1 AND expires_at > $2`, digest, now).
		Scan(&ls.ID, &ls.Digest, &ls.UserID, &ls.AuthTime, &ls.AMR, &ls.CreatedAt, &ls.ExpiresAt)
	if err != nil {
		return storage.LoginSession{}, s.wrap(err, op)
	}
	ls.AuthTime, ls.CreatedAt, ls.ExpiresAt = ls.AuthTime.UTC(), ls.CreatedAt.UTC(), ls.ExpiresAt.UTC()
	return ls, nil
}

// RotateLoginSession gives a live session a new digest in one conditional
// statement: of concurrent rotations of one digest, the first to lock the
// row changes it and the others find another digest and change nothing.
func (s *Store) RotateLoginSession(ctx context.Context, r storage.LoginSessionRotation) error {
	return s.execOne(ctx, "rotate login session", `UPDATE login_sessions
		SET digest = $2, auth_time = $3, amr = $4, expires_at = $5
		WHERE digest = $1 AND expires_at > $6`,
		r.Digest, notNull(r.NextDigest), r.AuthTime, list(r.AMR), r.ExpiresAt, r.Now)
}

// DeleteLoginSession ends the session whose current digest is digest.
func (s *Store) DeleteLoginSession(ctx context.Context, digest []byte) error {
	return s.execOne(ctx, "delete login session", `DELETE FROM login_sessions WHERE digest = $1`, digest)
}

// DeleteUserLoginSessions ends every session of the user.
func (s *Store) DeleteUserLoginSessions(ctx context.Context, userID string) (int, error) {
	op := fmt.Sprintf("delete login sessions of user %q", userID)
	q, release, err := s.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, `DELETE FROM login_sessions WHERE user_id = $1`, userID)
	if err != nil {
		return 0, s.wrap(err, op)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpiredLoginSessions deletes up to limit sessions that expired
// before before, skipping rows other requests hold locked.
func (s *Store) DeleteExpiredLoginSessions(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete expired login sessions", `DELETE FROM login_sessions
		WHERE id IN (SELECT id FROM login_sessions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		before, limit)
}
