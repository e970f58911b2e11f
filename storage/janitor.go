package storage

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ExpiryDeleter is what a Janitor needs from a store.
type ExpiryDeleter interface {
	DeleteDeadRefreshFamilies(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error)
	DeleteExpiredDenials(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredAuthorizationCodes(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredLoginSessions(ctx context.Context, before time.Time, limit int) (int, error)
	DeleteExpiredAssertions(ctx context.Context, before time.Time, limit int) (int, error)
}

// DefaultCodeRetention is how long the janitor keeps an expired
// authorization code when Janitor.CodeRetention is zero.
const DefaultCodeRetention = 10 * time.Minute

// Janitor deletes dead refresh families (expired, or revoked longer ago
// than RevokedRetention), expired deny-list entries, authorization codes
// expired longer ago than CodeRetention, expired login sessions and used
// assertions past their expiry, which no request needs any more, so that
// the tables stay the size of the live set.
// Every instance may run one: the stores delete in batches and skip rows
// another janitor holds.
type Janitor struct {
	Store ExpiryDeleter
	// RevokedRetention is how long a revoked refresh family is kept: as
	// long as the access tokens issued from it live.
	RevokedRetention time.Duration
	// CodeRetention is how long an authorization code is kept after it
	// expired, so that a late second use is still recognised as reuse and
	// revokes the tokens of the first (RFC 6749 section 4.1.2); zero means
	// DefaultCodeRetention.
	CodeRetention time.Duration
	// Interval between sweeps; zero means one minute.
	Interval time.Duration
	// Batch is the most rows one delete statement removes; zero means
	// 1000. A sweep repeats full batches up to MaxBatches times.
	Batch int
	// MaxBatches bounds the batches of one kind in one sweep, so that a
	// large backlog is worked off over several sweeps; zero means 100.
	MaxBatches int
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// Deleted, if set, is told how many entries of a kind
	// ("refresh_family", "denial", "authorization_code", "login_session",
	// "assertion", "login_attempt") each sweep deleted.
	Deleted func(kind string, n int)
}

// Run sweeps at once and then every Interval until ctx is done, and then
// returns nil. A failed sweep is logged and retried at the next tick.
func (j *Janitor) Run(ctx context.Context) error {
	if j.Store == nil {
		return errors.New("janitor: no store")
	}
	interval := j.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		if _, _, err := j.Sweep(ctx); err != nil && ctx.Err() == nil {
			j.logger().Warn("janitor: sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
		}
	}
}

// Sweep deletes what expired before Now, in batches, and returns how many
// refresh families and denials it deleted; the other kinds are logged and
// reported to Deleted.
func (j *Janitor) Sweep(ctx context.Context) (refresh, denials int, err error) {
	now := time.Now
	if j.Now != nil {
		now = j.Now
	}
	t := now()
	refresh, err = j.sweep(ctx, t, func(ctx context.Context, before time.Time, limit int) (int, error) {
		return j.Store.DeleteDeadRefreshFamilies(ctx, before, before.Add(-j.RevokedRetention), limit)
	})
	if err != nil {
		return refresh, 0, err
	}
	denials, err = j.sweep(ctx, t, j.Store.DeleteExpiredDenials)
	if refresh > 0 || denials > 0 {
		j.logger().Info("janitor: deleted expired entries", "refresh_families", refresh, "denials", denials)
	}
	j.deleted("refresh_family", refresh)
	j.deleted("denial", denials)
	if err != nil {
		return refresh, denials, err
	}
	retention := j.CodeRetention
	if retention <= 0 {
		retention = DefaultCodeRetention
	}
	codes, err := j.sweep(ctx, t.Add(-retention), j.Store.DeleteExpiredAuthorizationCodes)
	j.deleted("authorization_code", codes)
	if err != nil {
		return refresh, denials, err
	}
	sessions, err := j.sweep(ctx, t, j.Store.DeleteExpiredLoginSessions)
	j.deleted("login_session", sessions)
	if err != nil {
		return refresh, denials, err
	}
	assertions, err := j.sweep(ctx, t, j.Store.DeleteExpiredAssertions)
	j.deleted("assertion", assertions)
	if codes > 0 || sessions > 0 || assertions > 0 {
		j.logger().Info("janitor: deleted expired entries", "authorization_codes", codes, "login_sessions", sessions,
			"assertions", assertions)
	}
	if err != nil {
		return refresh, denials, err
	}
	if a, ok := j.Store.(attemptExpiryDeleter); ok {
		n, aerr := j.sweep(ctx, t, a.DeleteExpiredAttempts)
		if n > 0 {
			j.logger().Info("janitor: deleted expired login-attempt counters", "counters", n)
		}
		j.deleted("login_attempt", n)
		err = aerr
	}
	return refresh, denials, err
}

func (j *Janitor) deleted(kind string, n int) {
	if j.Deleted != nil {
		j.Deleted(kind, n)
	}
}

// attemptExpiryDeleter is the part of AttemptStore a janitor uses; a store
// that has it gets its ended login-attempt counters deleted too.
type attemptExpiryDeleter interface {
	DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error)
}

func (j *Janitor) sweep(ctx context.Context, before time.Time, del func(context.Context, time.Time, int) (int, error)) (int, error) {
	batch, maxBatches := j.Batch, j.MaxBatches
	if batch <= 0 {
		batch = 1000
	}
	if maxBatches <= 0 {
		maxBatches = 100
	}
	total := 0
	for range maxBatches {
		n, err := del(ctx, before, batch)
		total += n
		if err != nil {
			return total, err
		}
		if n < batch {
			break
		}
	}
	return total, nil
}

func (j *Janitor) logger() *slog.Logger {
	if j.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return j.Logger
}
