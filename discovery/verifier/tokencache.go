package verifier

import (
	"sync"
	"time"
)

// tokenCache remembers verified tokens so that a client presenting the same
// token again costs a map lookup instead of a signature check. It is keyed
// by the full token string, so only a byte-identical token hits. Entries
// never outlive the token's "exp"; when full, an arbitrary entry (Go's map
// iteration order) is evicted, preferring expired ones.
type tokenCache struct {
	size int

	mu      sync.RWMutex
	entries map[string]*Claims
}

func newTokenCache(size int) *tokenCache {
	return &tokenCache{size: size, entries: make(map[string]*Claims, size)}
}

// get returns a copy of the cached claims for token if they are still valid
// at now. The copy shares slices and Extra with the cached entry.
func (c *tokenCache) get(token string, now time.Time, leeway time.Duration) (*Claims, bool) {
	c.mu.RLock()
	e, ok := c.entries[token]
	c.mu.RUnlock()
	if !ok {
		return nil, false
	}
	// No leeway on exp here: a cached entry dies at exp and the token is
	// then verified afresh (where the leeway applies).
	if !now.Before(e.Expiry) || (!e.NotBefore.IsZero() && now.Add(leeway).Before(e.NotBefore)) {
		return nil, false
	}
	cp := *e
	return &cp, true
}

// put caches claims for token, evicting to stay within size.
func (c *tokenCache) put(token string, claims *Claims, now time.Time) {
	if !now.Before(claims.Expiry) {
		return // valid only thanks to leeway: not worth caching
	}
	cp := *claims // the caller may modify its copy
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[token]; !ok && len(c.entries) >= c.size {
		c.evict(now)
	}
	c.entries[token] = &cp
}

// evict removes expired entries among a few sampled, or else one arbitrary
// entry. Callers hold c.mu.
func (c *tokenCache) evict(now time.Time) {
	const samples = 8
	n, removed := 0, false
	var victim string
	for k, e := range c.entries {
		if !now.Before(e.Expiry) {
			delete(c.entries, k)
			removed = true
		} else if n == 0 {
			victim = k
		}
		if n++; n == samples {
			break
		}
	}
	if !removed {
		delete(c.entries, victim)
	}
}

func (c *tokenCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.entries)
}

func (c *tokenCache) len() int {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.entries)
}
