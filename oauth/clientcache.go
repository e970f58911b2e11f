package oauth

import (
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// clientCache keeps client records for a short time, so the
// client_credentials hot path reads no database. Its TTL bounds how long a
// change made on another instance (disabling or deleting a client,
// rotating its secret) takes to apply here; changes made through this
// process call Forget and apply at once. A zero TTL disables it.
type clientCache struct {
	ttl      time.Duration
	capacity int
	mu       sync.RWMutex
	entries  map[string]cachedClient
}

type cachedClient struct {
	c       storage.Client
	expires time.Time
}

func newClientCache(ttl time.Duration) *clientCache {
	return &clientCache{ttl: ttl, capacity: 10_000, entries: map[string]cachedClient{}}
}

func (cc *clientCache) get(id string, now time.Time) (storage.Client, bool) {
	if cc.ttl <= 0 {
		return storage.Client{}, false
	}
	cc.mu.RLock()
	e, ok := cc.entries[id]
	cc.mu.RUnlock()
	if !ok || !now.Before(e.expires) {
		return storage.Client{}, false
	}
	return e.c, true
}

func (cc *clientCache) put(c storage.Client, now time.Time) {
	if cc.ttl <= 0 {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if len(cc.entries) >= cc.capacity {
		for id, e := range cc.entries {
			if !now.Before(e.expires) || len(cc.entries) >= cc.capacity {
				delete(cc.entries, id)
			}
		}
	}
	cc.entries[c.ID] = cachedClient{c: c, expires: now.Add(cc.ttl)}
}

func (cc *clientCache) forget(id string) {
	cc.mu.Lock()
	delete(cc.entries, id)
	cc.mu.Unlock()
}
