package storage

import (
	"context"
	"time"
)

// AttemptKey names one login-attempt counter: a kind byte (which limit it
// serves) and a 16-byte digest of what it counts (a normalised username, a
// client address, or both). It has a fixed size, so a flood of long
// usernames costs no more to keep than a flood of short ones (design D5).
type AttemptKey [17]byte

// AttemptAdd asks for one attempt on a counter whose window has the given
// length. Limit is recorded with the counter so that blocks can be listed;
// stores do not enforce it.
type AttemptAdd struct {
	Key    AttemptKey
	Window time.Duration
	Limit  int
}

// AttemptCount is a counter as a store last saw it.
type AttemptCount struct {
	Key       AttemptKey
	Count     int
	Limit     int
	WindowEnd time.Time
}

// AttemptStore keeps login-attempt counters, shared by every instance on
// one store, so that limits hold across instances and under concurrency:
// an attempt is added before the password is checked, and each add is one
// atomic step, so N concurrent adds see N distinct counts.
type AttemptStore interface {
	// AddAttempts adds one to each counter and returns each counter after
	// its add, in order. A counter whose window ended at or before now (or
	// that does not exist) starts over at 1 with a window ending at
	// now+Window. Each counter's add is atomic; the adds of one call are
	// not one transaction.
	AddAttempts(ctx context.Context, now time.Time, adds []AttemptAdd) ([]AttemptCount, error)
	// RemoveAttempts takes back one attempt from each counter whose window
	// still ends at the given WindowEnd (an attempt that was refused, or
	// that succeeded); a counter whose window has since restarted is left
	// alone, and no counter goes below zero.
	RemoveAttempts(ctx context.Context, counts []AttemptCount) error
	// GetAttempts returns the counters among keys whose window ends after
	// now.
	GetAttempts(ctx context.Context, now time.Time, keys ...AttemptKey) ([]AttemptCount, error)
	// ListBlockedAttempts returns up to limit counters whose window ends
	// after now and whose count has reached their limit, latest window end
	// first.
	ListBlockedAttempts(ctx context.Context, now time.Time, limit int) ([]AttemptCount, error)
	// ClearAttempts deletes the counters of keys and returns how many
	// there were.
	ClearAttempts(ctx context.Context, keys ...AttemptKey) (int, error)
	// DeleteExpiredAttempts deletes up to limit counters whose window
	// ended at or before before.
	DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error)
}
