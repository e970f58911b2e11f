package oauth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage/memory"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

func testThrottle(limits ThrottleLimits) (*throttle, *fakeClock, *countingObserver) {
	limits.setDefaults()
	clk := &fakeClock{t: time.Unix(1_000_000, 0)}
	obs := &countingObserver{}
	return &throttle{store: memory.New(), limits: limits, now: clk.now, logger: slog.New(slog.NewJSONHandler(&obs.log, nil)), observer: obs}, clk, obs
}

// guess makes one wrong-password attempt: reserved and kept.
func guess(th *throttle, user, addr string) error {
	_, err := th.reserve(context.Background(), user, addr)
	return err
}

func retryAfter(err error) (byte, time.Duration) {
	var te *ThrottleError
	if !errors.As(err, &te) {
		return 0, 0
	}
	return te.Kind, te.RetryAfter
}

// TestThrottlePolicy checks each limit of design D5 and that none of them
// turns into a lockout of the owner.
func TestThrottlePolicy(t *testing.T) {
	limits := ThrottleLimits{Window: 15 * time.Minute, PerUserAddress: 5, PerUser: 20, PerAddress: 30, SlowInterval: 10 * time.Second}

	t.Run("one address against one user", func(t *testing.T) {
		th, clk, obs := testThrottle(limits)
		for i := range 5 {
			if err := guess(th, "alice", "127.0.0.2"); err != nil {
				t.Fatalf("guess %d: %v; want allowed", i+1, err)
			}
		}
		err := guess(th, "alice", "127.0.0.2")
		if kind, wait := retryAfter(err); kind != KindUserAddress || wait != 15*time.Minute {
			t.Fatalf("guess 6 = %v; want refused by the user-address limit until the window ends", err)
		}
		if obs.blocked["user_address"] != 1 {
			t.Errorf("blocks observed %v; want one user_address", obs.blocked)
		}
		// The block is an audit event naming the counter, not the user.
		if log := obs.log.String(); strings.Count(log, `"action":"throttle.block"`) != 1 || !strings.Contains(log, `"kind":"user_address"`) ||
			!strings.Contains(log, FormatAttemptKey(attemptKey(KindUserAddress, "alice", "127.0.0.2"))) || strings.Contains(log, "alice") {
			t.Errorf("audit log:\n%s\nwant one throttle.block event for the counter, without the username", log)
		}
		// The owner from another address is not refused.
		r, err := th.reserve(context.Background(), "alice", "127.0.0.9")
		if err != nil {
			t.Fatalf("owner from a clean address: %v; want allowed", err)
		}
		th.release(context.Background(), r)
		clk.t = clk.t.Add(15 * time.Minute)
		if err := guess(th, "alice", "127.0.0.2"); err != nil {
			t.Fatalf("after the window: %v; want allowed", err)
		}
	})

	t.Run("many addresses against one user", func(t *testing.T) {
		th, clk, _ := testThrottle(limits)
		allowed := 0
		// 200 addresses, 5 guesses each, all within one slow interval.
		for a := range 200 {
			for range 5 {
				if guess(th, "bob", fmt.Sprintf("127.0.%d.%d", a/250, a%250+1)) == nil {
					allowed++
				}
			}
		}
		// PerUser, plus one slow-lane attempt in this interval.
		if allowed != 21 {
			t.Fatalf("distributed guesses allowed in one interval: %d; want %d", allowed, 21)
		}
		// The owner, right password, from a clean address: slowed by
		// seconds, never locked out for the window.
		_, err := th.reserve(context.Background(), "bob", "127.0.200.1")
		kind, wait := retryAfter(err)
		if kind != KindSlow || wait <= 0 || wait > 10*time.Second {
			t.Fatalf("owner during the attack = %v; want a Retry-After of at most the slow interval", err)
		}
		clk.t = clk.t.Add(wait)
		r, err := th.reserve(context.Background(), "bob", "127.0.200.1")
		if err != nil {
			t.Fatalf("owner after Retry-After: %v; want allowed", err)
		}
		th.release(context.Background(), r)
		// Over a whole window the attacker gets PerUser + Window/SlowInterval.
		for clk.t = clk.t.Add(time.Second); allowed < 1000 && clk.t.Before(time.Unix(1_000_000, 0).Add(15*time.Minute)); clk.t = clk.t.Add(time.Second) {
			for a := 200; a < 210; a++ {
				if guess(th, "bob", fmt.Sprintf("127.1.%d.%d", clk.t.Unix()%200, a)) == nil {
					allowed++
				}
			}
		}
		if max := 20 + int(15*time.Minute/(10*time.Second)); allowed > max {
			t.Fatalf("distributed guesses allowed in one window: %d; want at most %d", allowed, max)
		}
	})

	t.Run("address spraying usernames", func(t *testing.T) {
		th, _, obs := testThrottle(limits)
		allowed := 0
		for u := range 100 {
			if guess(th, fmt.Sprintf("user%d", u), "127.0.0.3") == nil {
				allowed++
			}
		}
		if allowed != 30 {
			t.Fatalf("spraying from one address allowed %d; want %d", allowed, 30)
		}
		if obs.blocked["address"] != 1 {
			t.Errorf("blocks observed %v; want one address", obs.blocked)
		}
		// Other addresses are unaffected.
		if err := guess(th, "user1", "127.0.0.4"); err != nil {
			t.Fatalf("another address: %v", err)
		}
	})

	t.Run("success and refusals are taken back", func(t *testing.T) {
		th, _, _ := testThrottle(limits)
		for range 50 {
			r, err := th.reserve(context.Background(), "carol", "127.0.0.5")
			if err != nil {
				t.Fatalf("successful logins refused: %v", err)
			}
			th.release(context.Background(), r)
		}
		for range 5 {
			if err := guess(th, "carol", "127.0.0.5"); err != nil {
				t.Fatal(err)
			}
		}
		for range 20 {
			if guess(th, "carol", "127.0.0.5") == nil {
				t.Fatal("guess past the limit allowed")
			}
		}
		cs, _ := th.store.GetAttempts(context.Background(), th.now(), ThrottleKeys("carol", "127.0.0.5")...)
		for _, c := range cs {
			if c.Key[0] != KindSlow && c.Count != 5 {
				t.Errorf("%s counter %d; want the 5 failures only", KindName(c.Key[0]), c.Count)
			}
		}
	})
}

// TestThrottleKeysNormalise: one user, however typed, and an IPv6 /64 are
// one counter; keys have a fixed size whatever the input.
func TestThrottleKeysNormalise(t *testing.T) {
	a := ThrottleKeys("Stra\u00dfe", "2001:db8::1")
	b := ThrottleKeys("STRASSE", "2001:db8::ffff:1")
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("key %d differs between spellings of one user and one /64", i)
		}
	}
	if ThrottleKeys("x", "::ffff:127.0.0.1")[3] != ThrottleKeys("x", "127.0.0.1")[3] {
		t.Error("IPv4-mapped address counted apart from IPv4")
	}
	k := ThrottleKeys(string(make([]byte, 60000)), "")[0]
	if got, err := ParseAttemptKey(FormatAttemptKey(k)); err != nil || got != k {
		t.Errorf("ParseAttemptKey(FormatAttemptKey) = %v, %v", got, err)
	}
}

// TestThrottleMemoryBounded floods the dev-mode store with 1,000,000
// distinct usernames (and addresses): the heap stays under 64 MiB, since
// counters are fixed-size digests in an LRU of MaxAttemptCounters.
func TestThrottleMemoryBounded(t *testing.T) {
	th, clk, _ := testThrottle(ThrottleLimits{})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ctx := context.Background()
	long := string(make([]byte, 200))
	for i := range 1_000_000 {
		if i%1000 == 0 {
			clk.t = clk.t.Add(time.Millisecond)
		}
		name := fmt.Sprintf("%s%d", long, i)
		if _, err := th.reserve(ctx, name, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)); err != nil {
			var te *ThrottleError
			if !errors.As(err, &te) {
				t.Fatal(err)
			}
		}
	}
	var after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(th)
	const bound = 64 << 20
	grew := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew by %.1f MiB after 1,000,000 usernames", float64(grew)/(1<<20))
	if grew > bound {
		t.Fatalf("heap grew by %d bytes; want under %d", grew, bound)
	}
}

// TestClientAddr: forwarding headers count only from trusted proxies, read
// from the right; a spoofed header from anyone else changes nothing.
func TestClientAddr(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, peer, xff, fwd, header string
		trusted                      []netip.Prefix
		want                         string
	}{
		{"no proxies configured: peer", "127.0.0.2:5000", "1.2.3.4", "", "", nil, "127.0.0.2"},
		{"untrusted peer spoofing X-Forwarded-For", "127.0.0.2:5000", "127.0.0.9", "", "", trusted, "127.0.0.2"},
		{"untrusted peer spoofing Forwarded", "127.0.0.2:5000", "", "for=127.0.0.9", HeaderForwarded, trusted, "127.0.0.2"},
		{"trusted proxy", "127.0.0.1:5000", "127.0.0.7", "", "", trusted, "127.0.0.7"},
		{"client-sent entries left of the proxy's", "127.0.0.1:5000", "6.6.6.6, 127.0.0.7", "", "", trusted, "127.0.0.7"},
		{"two trusted hops skipped", "127.0.0.1:5000", "6.6.6.6, 127.0.0.7, 10.1.1.1", "", "", trusted, "127.0.0.7"},
		{"every hop trusted: leftmost", "127.0.0.1:5000", "10.0.0.5, 10.1.1.1", "", "", trusted, "10.0.0.5"},
		{"trusted proxy without header: peer", "127.0.0.1:5000", "", "", "", trusted, "127.0.0.1"},
		{"Forwarded, quoted IPv6 with port", "127.0.0.1:5000", "", `for=6.6.6.6, for="[2001:db8::7]:4711";proto=https`, HeaderForwarded, trusted, "2001:db8::7"},
		{"Forwarded ignored when X-Forwarded-For is the header", "127.0.0.1:5000", "127.0.0.7", "for=6.6.6.6", "", trusted, "127.0.0.7"},
		{"X-Forwarded-For ignored when Forwarded is the header", "127.0.0.1:5000", "6.6.6.6", "for=127.0.0.7", HeaderForwarded, trusted, "127.0.0.7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{TrustedProxies: tc.trusted, ForwardedHeader: tc.header}, logger: slog.New(slog.DiscardHandler)}
			if s.cfg.ForwardedHeader == "" {
				s.cfg.ForwardedHeader = HeaderXForwardedFor
			}
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			r.RemoteAddr = tc.peer
			if tc.xff != "" {
				r.Header.Set(HeaderXForwardedFor, tc.xff)
			}
			if tc.fwd != "" {
				r.Header.Set(HeaderForwarded, tc.fwd)
			}
			if got := s.clientAddr(r); got != tc.want {
				t.Errorf("clientAddr = %q; want %q", got, tc.want)
			}
		})
	}
}
