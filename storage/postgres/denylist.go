package postgres

import (
	"context"
	"fmt"
	"time"
)

// Deny puts id on the deny list until the given time; denying an id twice
// keeps the later time (design D2).
func (s *Store) Deny(ctx context.Context, id string, until time.Time) error {
	op := fmt.Sprintf("deny %q", id)
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	_, err = q.Exec(ctx, `INSERT INTO deny_list (id, expires_at) VALUES ($1, $2)
		ON CONFLICT (id) DO UPDATE SET expires_at = GREATEST(deny_list.expires_at, EXCLUDED.expires_at)`, id, until)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// Denied reports whether any of ids is denied at time now.
func (s *Store) Denied(ctx context.Context, now time.Time, ids ...string) (bool, error) {
	if len(ids) == 0 {
		return false, nil
	}
	const op = "check deny list"
	q, release, err := s.conn(ctx)
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var denied bool
	err = q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM deny_list WHERE id = ANY($1) AND expires_at > $2)`,
		ids, now).Scan(&denied)
	if err != nil {
		return false, s.wrap(err, op)
	}
	return denied, nil
}

// DeniedUntil returns the entries of ids that are on the list.
func (s *Store) DeniedUntil(ctx context.Context, ids ...string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(ids) == 0 {
		return out, nil
	}
	const op = "read deny list"
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, `SELECT id, expires_at FROM deny_list WHERE id = ANY($1)`, ids)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var until time.Time
		if err := rows.Scan(&id, &until); err != nil {
			return nil, s.wrap(err, op)
		}
		out[id] = until.UTC()
	}
	if err := rows.Err(); err != nil {
		return nil, s.wrap(err, op)
	}
	return out, nil
}

// DeleteExpiredDenials deletes up to limit entries whose time is not after
// before, skipping rows other requests hold locked.
func (s *Store) DeleteExpiredDenials(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete expired denials", `DELETE FROM deny_list WHERE id IN (
		SELECT id FROM deny_list WHERE expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
}
