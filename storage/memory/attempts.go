package memory

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/gatehouse/gatehouse/storage"
)

// MaxAttemptCounters bounds the login-attempt counters the memory store
// keeps. Past it, the least recently used counter is forgotten: memory
// stays bounded (about 20 MiB) whatever an attacker sends, at the price
// that a flood of distinct usernames can make dev mode forget a counter.
// The PostgreSQL store forgets nothing before its window ends.
const MaxAttemptCounters = 100_000

type attemptValue struct {
	count, limit int
	windowEnd    time.Time
}

// attempts is a bounded LRU of counters. Its zero value is ready: the LRU
// is made on first use.
type attempts struct {
	mu  sync.Mutex
	lru *simplelru.LRU[storage.AttemptKey, attemptValue]
}

func (a *attempts) cache() *simplelru.LRU[storage.AttemptKey, attemptValue] {
	if a.lru == nil {
		a.lru, _ = simplelru.NewLRU[storage.AttemptKey, attemptValue](MaxAttemptCounters, nil) // size > 0: no error
	}
	return a.lru
}

// AddAttempts adds one to each counter under the counters' lock.
func (s *Store) AddAttempts(ctx context.Context, now time.Time, adds []storage.AttemptAdd) ([]storage.AttemptCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cache()
	out := make([]storage.AttemptCount, len(adds))
	for i, add := range adds {
		v, ok := c.Get(add.Key)
		if !ok || !v.windowEnd.After(now) {
			v = attemptValue{windowEnd: now.Add(add.Window)}
		}
		v.count++
		v.limit = add.Limit
		c.Add(add.Key, v)
		out[i] = storage.AttemptCount{Key: add.Key, Count: v.count, Limit: v.limit, WindowEnd: v.windowEnd}
	}
	return out, nil
}

// RemoveAttempts takes one back from each counter still in the same window.
func (s *Store) RemoveAttempts(ctx context.Context, counts []storage.AttemptCount) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cache()
	for _, ac := range counts {
		v, ok := c.Peek(ac.Key)
		if !ok || !v.windowEnd.Equal(ac.WindowEnd) || v.count == 0 {
			continue
		}
		v.count--
		c.Add(ac.Key, v)
	}
	return nil
}

// GetAttempts returns the open counters among keys.
func (s *Store) GetAttempts(ctx context.Context, now time.Time, keys ...storage.AttemptKey) ([]storage.AttemptCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cache()
	var out []storage.AttemptCount
	for _, k := range keys {
		if v, ok := c.Peek(k); ok && v.windowEnd.After(now) {
			out = append(out, storage.AttemptCount{Key: k, Count: v.count, Limit: v.limit, WindowEnd: v.windowEnd})
		}
	}
	return out, nil
}

// ListBlockedAttempts scans the counters (at most MaxAttemptCounters) for
// the ones at their limit; it serves an operator, not requests.
func (s *Store) ListBlockedAttempts(ctx context.Context, now time.Time, limit int) ([]storage.AttemptCount, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	a := &s.attempts
	a.mu.Lock()
	c := a.cache()
	var out []storage.AttemptCount
	for _, k := range c.Keys() {
		v, _ := c.Peek(k)
		if v.windowEnd.After(now) && v.limit > 0 && v.count >= v.limit {
			out = append(out, storage.AttemptCount{Key: k, Count: v.count, Limit: v.limit, WindowEnd: v.windowEnd})
		}
	}
	a.mu.Unlock()
	slices.SortFunc(out, func(x, y storage.AttemptCount) int { return y.WindowEnd.Compare(x.WindowEnd) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// ClearAttempts deletes the counters of keys.
func (s *Store) ClearAttempts(ctx context.Context, keys ...storage.AttemptKey) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cache()
	n := 0
	for _, k := range keys {
		if c.Remove(k) {
			n++
		}
	}
	return n, nil
}

// DeleteExpiredAttempts deletes up to limit counters whose window ended,
// least recently used first.
func (s *Store) DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	a := &s.attempts
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.cache()
	n := 0
	for _, k := range c.Keys() {
		if n >= limit {
			break
		}
		if v, _ := c.Peek(k); !v.windowEnd.After(before) {
			c.Remove(k)
			n++
		}
	}
	return n, nil
}
