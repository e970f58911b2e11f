package oauth

import (
	"net"
	"net/http"
	"sync"
	"time"
)

// throttle counts failed password logins per username and per client
// address within a window (design D5), so that guessing is slow even
// though a single check is not. It is per instance and bounded in memory:
// when full, it forgets the oldest windows first.
type throttle struct {
	mu       sync.Mutex
	window   time.Duration
	maxUser  int
	maxAddr  int
	capacity int
	entries  map[string]*failures
}

type failures struct {
	count int
	start time.Time
}

func newThrottle() *throttle {
	return &throttle{window: 15 * time.Minute, maxUser: 10, maxAddr: 100, capacity: 100_000, entries: map[string]*failures{}}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// blocked reports whether username or addr has failed too often, and how
// long until the window ends.
func (t *throttle) blocked(now time.Time, username, addr string) (bool, time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range []struct {
		key string
		max int
	}{{"u:" + username, t.maxUser}, {"a:" + addr, t.maxAddr}} {
		f, ok := t.entries[k.key]
		if !ok {
			continue
		}
		if now.Sub(f.start) >= t.window {
			delete(t.entries, k.key)
			continue
		}
		if f.count >= k.max {
			return true, t.window - now.Sub(f.start)
		}
	}
	return false, 0
}

// fail records a failed login.
func (t *throttle) fail(now time.Time, username, addr string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, key := range []string{"u:" + username, "a:" + addr} {
		f, ok := t.entries[key]
		if !ok || now.Sub(f.start) >= t.window {
			if !ok && len(t.entries) >= t.capacity {
				t.evict(now)
			}
			t.entries[key] = &failures{count: 1, start: now}
			continue
		}
		f.count++
	}
}

// succeed forgets a username's failures.
func (t *throttle) succeed(username string) {
	t.mu.Lock()
	delete(t.entries, "u:"+username)
	t.mu.Unlock()
}

// evict drops expired windows, or the oldest one if none expired.
func (t *throttle) evict(now time.Time) {
	var oldest string
	var oldestStart time.Time
	for k, f := range t.entries {
		if now.Sub(f.start) >= t.window {
			delete(t.entries, k)
			continue
		}
		if oldest == "" || f.start.Before(oldestStart) {
			oldest, oldestStart = k, f.start
		}
	}
	if len(t.entries) >= t.capacity && oldest != "" {
		delete(t.entries, oldest)
	}
}
