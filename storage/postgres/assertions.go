package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// UseAssertion records digest as used until expiresAt. The insert replaces
// only an expired row, so of concurrent uses of one digest exactly one
// inserts; the others find the row live and get ErrAlreadyExists.
func (s *Store) UseAssertion(ctx context.Context, digest []byte, expiresAt, now time.Time) error {
	const op = "use assertion"
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, `INSERT INTO used_assertions (digest, expires_at) VALUES ($1, $2)
		ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at
		WHERE used_assertions.expires_at <= $3`, digest, expiresAt, now)
	if err != nil {
		return s.wrap(err, op)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrAlreadyExists)
	}
	return nil
}

// DeleteExpiredAssertions deletes up to limit records that expired before
// before, skipping rows other requests hold locked.
func (s *Store) DeleteExpiredAssertions(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete expired assertions", `DELETE FROM used_assertions
		WHERE digest IN (SELECT digest FROM used_assertions WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		before, limit)
}
