package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

// Counters are locked in key order by every statement that locks more
// than one, so that concurrent adds and removes never deadlock.

// AddAttempts adds one to each counter in one statement: an upsert per
// counter, each atomic under its row lock (design D5).
func (s *Store) AddAttempts(ctx context.Context, now time.Time, adds []storage.AttemptAdd) ([]storage.AttemptCount, error) {
	const op = "add login attempts"
	if len(adds) == 0 {
		return nil, nil
	}
	keys := make([][]byte, len(adds))
	limits := make([]int32, len(adds))
	windows := make([]int64, len(adds))
	for i, a := range adds {
		keys[i], limits[i], windows[i] = a.Key[:], int32(a.Limit), a.Window.Microseconds()
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, `INSERT INTO login_attempts AS a (key, count, lim, window_end)
		SELECT k, 1, l, $1::timestamptz + w * interval '1 microsecond'
		FROM unnest($2::bytea[], $3::int[], $4::bigint[]) AS t(k, l, w) ORDER BY k
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN a.window_end <= $1 THEN 1 ELSE a.count + 1 END,
			lim = EXCLUDED.lim,
			window_end = CASE WHEN a.window_end <= $1 THEN EXCLUDED.window_end ELSE a.window_end END
		RETURNING key, count, lim, window_end`, now, keys, limits, windows)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	got, err := pgx.CollectRows(rows, scanAttempt)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	byKey := make(map[storage.AttemptKey]storage.AttemptCount, len(got))
	for _, c := range got {
		byKey[c.Key] = c
	}
	out := make([]storage.AttemptCount, len(adds))
	for i, a := range adds {
		c, ok := byKey[a.Key]
		if !ok {
			return nil, fmt.Errorf("%s: counter %x not returned", op, a.Key[:])
		}
		out[i] = c
	}
	return out, nil
}

func scanAttempt(row pgx.CollectableRow) (storage.AttemptCount, error) {
	var c storage.AttemptCount
	var key []byte
	if err := row.Scan(&key, &c.Count, &c.Limit, &c.WindowEnd); err != nil {
		return c, err
	}
	if len(key) != len(c.Key) {
		return c, fmt.Errorf("login attempt key of %d bytes", len(key))
	}
	copy(c.Key[:], key)
	c.WindowEnd = c.WindowEnd.UTC()
	return c, nil
}

// RemoveAttempts takes one back from each counter still in its window.
func (s *Store) RemoveAttempts(ctx context.Context, counts []storage.AttemptCount) error {
	const op = "remove login attempts"
	if len(counts) == 0 {
		return nil
	}
	keys := make([][]byte, len(counts))
	ends := make([]time.Time, len(counts))
	for i, c := range counts {
		keys[i], ends[i] = c.Key[:], c.WindowEnd
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	_, err = q.Exec(ctx, `WITH locked AS (
			SELECT a.key FROM login_attempts a
			JOIN unnest($1::bytea[], $2::timestamptz[]) AS t(k, we) ON a.key = t.k AND a.window_end = t.we
			ORDER BY a.key FOR UPDATE OF a)
		UPDATE login_attempts SET count = GREATEST(count - 1, 0) WHERE key IN (SELECT key FROM locked)`, keys, ends)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// GetAttempts returns the open counters among keys.
func (s *Store) GetAttempts(ctx context.Context, now time.Time, keys ...storage.AttemptKey) ([]storage.AttemptCount, error) {
	ks := make([][]byte, len(keys))
	for i := range keys {
		ks[i] = keys[i][:]
	}
	return s.queryAttempts(ctx, "get login attempts",
		`SELECT key, count, lim, window_end FROM login_attempts WHERE key = ANY($1) AND window_end > $2 ORDER BY key`, ks, now)
}

// ListBlockedAttempts returns open counters at their limit.
func (s *Store) ListBlockedAttempts(ctx context.Context, now time.Time, limit int) ([]storage.AttemptCount, error) {
	return s.queryAttempts(ctx, "list blocked login attempts",
		`SELECT key, count, lim, window_end FROM login_attempts
		WHERE window_end > $1 AND lim > 0 AND count >= lim ORDER BY window_end DESC LIMIT $2`, now, limit)
}

func (s *Store) queryAttempts(ctx context.Context, op, sql string, args ...any) ([]storage.AttemptCount, error) {
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	out, err := pgx.CollectRows(rows, scanAttempt)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return out, nil
}

// ClearAttempts deletes the counters of keys.
func (s *Store) ClearAttempts(ctx context.Context, keys ...storage.AttemptKey) (int, error) {
	const op = "clear login attempts"
	ks := make([][]byte, len(keys))
	for i := range keys {
		ks[i] = keys[i][:]
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, `DELETE FROM login_attempts WHERE key = ANY($1)`, ks)
	if err != nil {
		return 0, s.wrap(err, op)
	}
	return int(tag.RowsAffected()), nil
}

// DeleteExpiredAttempts deletes up to limit ended counters, skipping rows
// other requests hold locked.
func (s *Store) DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error) {
	const op = "delete expired login attempts"
	if limit <= 0 {
		return 0, nil
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, `DELETE FROM login_attempts WHERE key IN (
		SELECT key FROM login_attempts WHERE window_end <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
	if err != nil {
		return 0, s.wrap(err, op)
	}
	return int(tag.RowsAffected()), nil
}
