package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// clientFrom returns an HTTP client whose connections come from addr, an
// address of 127.0.0.0/8 (every one reaches the loopback interface on
// Linux), so that tests can play many client addresses.
func clientFrom(addr string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 4}}
}

var pwClient = storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}}

// login makes one password grant from client and returns the status and
// Retry-After.
func login(t *testing.T, ts *testServer, client *http.Client, secret, username, password string, header ...string) (int, string) {
	t.Helper()
	form := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("app", secret)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Errorf("password grant: %v", err)
		return 0, ""
	}
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

func withLimits(perUserAddr, perUser, perAddr uint, slow time.Duration) func(*Config) {
	return func(c *Config) {
		c.ThrottlePerUserAddress, c.ThrottlePerUser, c.ThrottlePerAddress, c.ThrottleSlowInterval = perUserAddr, perUser, perAddr, slow
	}
}

// TestThrottleConcurrentGuessesTwoInstances sends 100 concurrent wrong
// guesses for one user, from one address, spread over two instances on one
// PostgreSQL: no more than the limit are evaluated (design D5, D10).
// Checking the block before the hash and counting after it, or counting
// per instance, lets far more through.
func TestThrottleConcurrentGuessesTwoInstances(t *testing.T) {
	dbURL := pgtest.URL(t)
	a := startServer(t, func(c *Config) { withPostgres(dbURL)(c); withLimits(10, 1000, 1000, 10*time.Second)(c) })
	b := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		withLimits(10, 1000, 1000, 10*time.Second)(c)
		c.Issuer = a.issuer
	})
	secret := a.addClient(t, pwClient)
	a.addUser(t, "u-1", "hana", "pw-hana-123", "user")

	client := clientFrom("127.0.0.1")
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 100 {
		ts := a
		if i%2 == 1 {
			ts = b
		}
		wg.Go(func() {
			code, _ := login(t, ts, client, secret, "hana", fmt.Sprintf("wrong-%d", i))
			mu.Lock()
			codes[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if codes[400] > 10 || codes[400]+codes[429] != 100 {
		t.Fatalf("100 concurrent wrong guesses on two instances: %v; want at most 10 evaluated (400), the rest 429", codes)
	}
	// The owner, from another address, logs in at either instance.
	for _, ts := range []*testServer{a, b} {
		if code, _ := login(t, ts, clientFrom("127.0.0.9"), secret, "hana", "pw-hana-123"); code != 200 {
			t.Fatalf("owner from a clean address: %d; want 200", code)
		}
	}
}

// TestThrottleOwnerFromAnotherAddress: attackers at many addresses of
// 127.0.0.0/8 exhaust the per-address and per-username limits; the owner,
// with the right password from an address with no failures, is at most
// slowed by seconds, never locked out for the window.
func TestThrottleOwnerFromAnotherAddress(t *testing.T) {
	ts := startServer(t, withLimits(3, 10, 50, 5*time.Second))
	secret := ts.addClient(t, pwClient)
	ts.addUser(t, "u-1", "ivan", "pw-ivan-123", "user")

	// One attacker address: 3 guesses, then 429 until the window ends.
	attacker := clientFrom("127.0.0.2")
	for i := range 3 {
		if code, _ := login(t, ts, attacker, secret, "ivan", "wrong"); code != 400 {
			t.Fatalf("guess %d: %d; want 400", i+1, code)
		}
	}
	code, retry := login(t, ts, attacker, secret, "ivan", "pw-ivan-123")
	if n, _ := strconv.Atoi(retry); code != 429 || n < 800 {
		t.Fatalf("attacker address past its limit, even with the right password: %d Retry-After %q; want 429 for the window", code, retry)
	}
	// The owner elsewhere is not refused.
	if code, _ := login(t, ts, clientFrom("127.0.0.50"), secret, "ivan", "pw-ivan-123"); code != 200 {
		t.Fatalf("owner from another address: %d; want 200", code)
	}

	// Many attacker addresses: the username's total is reached.
	evaluated := 3
	for i := 3; i < 30; i++ {
		c := clientFrom(fmt.Sprintf("127.0.1.%d", i))
		for range 3 {
			if code, _ := login(t, ts, c, secret, "ivan", "wrong"); code == 400 {
				evaluated++
			}
		}
	}
	// PerUser, plus at most one slow-lane guess in this interval.
	if evaluated > 11 {
		t.Fatalf("distributed guesses evaluated: %d; want at most 10 + 1", evaluated)
	}
	// The owner, from a clean address: 200, or 429 with a Retry-After of
	// seconds; after it, 200.
	owner := clientFrom("127.0.0.51")
	code, retry = login(t, ts, owner, secret, "ivan", "pw-ivan-123")
	if code == 429 {
		n, _ := strconv.Atoi(retry)
		if n < 1 || n > 5 {
			t.Fatalf("owner during the attack: 429 Retry-After %q; want at most the slow interval (5s)", retry)
		}
		ts.advance(time.Duration(n) * time.Second)
		code, _ = login(t, ts, owner, secret, "ivan", "pw-ivan-123")
	}
	if code != 200 {
		t.Fatalf("owner during the attack, after Retry-After: %d; want 200", code)
	}
}

// TestThrottleSpoofedForwardedFor: a forwarding header counts only from a
// trusted proxy; from anyone else, a spoofed header changes nothing.
func TestThrottleSpoofedForwardedFor(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		withLimits(3, 100, 100, 5*time.Second)(c)
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	secret := ts.addClient(t, pwClient)
	ts.addUser(t, "u-1", "jana", "pw-jana-123", "user")

	// An untrusted client claims a new address with every guess: all are
	// counted under its own address.
	attacker := clientFrom("127.0.0.3")
	for i := range 6 {
		code, _ := login(t, ts, attacker, secret, "jana", "wrong", "X-Forwarded-For", fmt.Sprintf("127.0.9.%d", i), "Forwarded", fmt.Sprintf("for=127.0.8.%d", i))
		if want := map[bool]int{true: 400, false: 429}[i < 3]; code != want {
			t.Fatalf("spoofing guess %d: %d; want %d", i+1, code, want)
		}
	}
	// Through the trusted proxy, the address it appends counts: the
	// blocked client is blocked, another is not, whatever the client
	// put to the left.
	proxy := clientFrom("127.0.0.1")
	if code, _ := login(t, ts, proxy, secret, "jana", "pw-jana-123", "X-Forwarded-For", "127.0.0.4, 127.0.0.3"); code != 429 {
		t.Fatalf("blocked client through the proxy: %d; want 429", code)
	}
	if code, _ := login(t, ts, proxy, secret, "jana", "pw-jana-123", "X-Forwarded-For", "127.0.0.3, 127.0.0.4"); code != 200 {
		t.Fatalf("another client through the proxy: %d; want 200", code)
	}
}

// TestThrottleCLI: an operator lists a block, shows it by username and
// address, and clears it, against the database the server uses; the clear
// is an audit event.
func TestThrottleCLI(t *testing.T) {
	dbURL := pgtest.URL(t)
	ts := startServer(t, func(c *Config) { withPostgres(dbURL)(c); withLimits(3, 100, 100, 5*time.Second)(c) })
	secret := ts.addClient(t, pwClient)
	ts.addUser(t, "u-1", "karl", "pw-karl-123", "user")
	c := clientFrom("127.0.0.6")
	for range 3 {
		login(t, ts, c, secret, "karl", "wrong")
	}
	if code, _ := login(t, ts, c, secret, "karl", "pw-karl-123"); code != 429 {
		t.Fatalf("after 3 failures: %d; want 429", code)
	}
	cli := func(args ...string) (string, string) {
		t.Helper()
		var out, errOut bytes.Buffer
		environ := []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_ARGON2_MEMORY_KIB=8192", "GATEHOUSE_ARGON2_ITERATIONS=1", "GATEHOUSE_LOG_FORMAT=json"}
		if err := run(t.Context(), args, environ, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, _ := cli("throttle", "list", "--json")
	list := decodeCLIJSON[[]admin.ThrottleCounter](t, out)
	if len(list) != 1 || list[0].Kind != "user_address" || !list[0].Blocked || list[0].Count != 3 {
		t.Fatalf("throttle list = %+v; want the one blocked user_address counter", list)
	}
	out, _ = cli("throttle", "show", "--username", "KARL", "--address", "127.0.0.6")
	if !strings.Contains(out, list[0].Key) || !strings.Contains(out, "user_address") {
		t.Fatalf("throttle show:\n%s\nwant the blocked counter %s", out, list[0].Key)
	}
	out, errOut := cli("throttle", "clear", "--username", "karl", "--address", "127.0.0.6")
	if !strings.Contains(out, "cleared=3") || !strings.Contains(errOut, `"action":"throttle.clear"`) {
		t.Fatalf("throttle clear: stdout %q stderr %q; want cleared=3 and audit events", out, errOut)
	}
	if code, _ := login(t, ts, c, secret, "karl", "pw-karl-123"); code != 200 {
		t.Fatalf("after the clear: %d; want 200", code)
	}
}

// TestPasswordHashingBounded: with one hashing slot and a queue of one,
// concurrent logins beyond them get 503 temporarily_unavailable with
// Retry-After at once, as do logins whose deadline passes while they wait;
// none of them counts as a guess, and none is a 500.
func TestPasswordHashingBounded(t *testing.T) {
	for _, tc := range []struct {
		name           string
		queue          uint
		requestTimeout time.Duration
	}{
		{"queue full", 1, 5 * time.Second},
		{"deadline while waiting", 100, 150 * time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, func(c *Config) {
				c.Argon2MemoryKiB, c.Argon2Iterations = 32*1024, 2 // tens of ms per hash
				c.PasswordHashConcurrency, c.PasswordHashQueue = 1, tc.queue
				c.RequestTimeout = tc.requestTimeout
			})
			secret := ts.addClient(t, pwClient)
			ts.addUser(t, "u-1", "lena", "pw-lena-123", "user")
			var mu sync.Mutex
			codes := map[string]int{}
			var wg sync.WaitGroup
			for i := range 12 {
				wg.Go(func() {
					code, retry := login(t, ts, clientFrom(fmt.Sprintf("127.0.2.%d", i+1)), secret, "lena", "pw-lena-123")
					mu.Lock()
					codes[fmt.Sprintf("%d retry=%s", code, retry)]++
					mu.Unlock()
				})
			}
			wg.Wait()
			if codes["503 retry=1"] == 0 || codes["200 retry="] == 0 || codes["503 retry=1"]+codes["200 retry="] != 12 {
				t.Fatalf("12 concurrent logins with 1 hashing slot: %v; want some 200, the rest 503 with Retry-After: 1", codes)
			}
			// Nothing was counted: every attempt succeeded or was never
			// evaluated.
			cs, err := ts.app.store.GetAttempts(t.Context(), ts.now(), oauth.ThrottleKeys("lena", "")...)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cs {
				if c.Count != 0 {
					t.Errorf("counter %x = %d after successes and refusals; want 0", c.Key[:1], c.Count)
				}
			}
		})
	}
}

// TestThrottleConfig: trusted proxies are CIDRs or addresses; anything else,
// an unknown header or a nonsensical limit stops start-up with the flag's
// name.
func TestThrottleConfig(t *testing.T) {
	parse := func(args ...string) (*Config, error) {
		return parseConfig(func(string) string { return "" }, args, false)
	}
	cfg, err := parse("--trusted-proxies", "10.0.0.0/8, 192.0.2.7,2001:db8::/32")
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(cfg.TrustedProxies, want) {
		t.Errorf("TrustedProxies = %v; want %v", cfg.TrustedProxies, want)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.example"}, "--trusted-proxies"},
		{[]string{"--forwarded-header", "X-Real-IP"}, "--forwarded-header"},
		{[]string{"--throttle-per-user", "0"}, "--throttle-per-user"},
		{[]string{"--throttle-slow-interval", "1h"}, "--throttle-slow-interval"},
	} {
		if _, err := parse(tc.args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%q) = %v; want an error naming %s", tc.args, err, tc.want)
		}
	}
}
