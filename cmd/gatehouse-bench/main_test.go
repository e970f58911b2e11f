package main

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
)

// checkResult checks what every result must satisfy: counts add up and
// percentiles are ordered.
func checkResult(t *testing.T, r *result) {
	t.Helper()
	if r.OK+r.Errors != r.Requests {
		t.Errorf("ok %d + errors %d != requests %d", r.OK, r.Errors, r.Requests)
	}
	responses := 0
	for _, n := range r.Status {
		responses += n
	}
	noResponse := 0
	for _, n := range r.TransportErrors {
		noResponse += n
	}
	if other := r.OtherErrors["bootstrap_failed"]; responses+noResponse+other != r.Requests {
		t.Errorf("status %v + transport %v + bootstrap failures %d != requests %d", r.Status, r.TransportErrors, other, r.Requests)
	}
	perGrant := 0
	for _, g := range r.Grants {
		perGrant += g.Requests
	}
	if perGrant != r.Requests {
		t.Errorf("grants %v add up to %d; want %d", r.Grants, perGrant, r.Requests)
	}
	l := r.Latency
	if r.OK > 0 && !(0 < l.P50 && l.P50 <= l.P90 && l.P90 <= l.P99 && l.P99 <= l.Max) {
		t.Errorf("latency %+v; want 0 < p50 <= p90 <= p99 <= max", l)
	}
	if r.ConnectionsOpened > r.Connections {
		t.Errorf("opened %d connections; want at most %d (keep-alive)", r.ConnectionsOpened, r.Connections)
	}
}

func TestBaselineInProcess(t *testing.T) {
	var r result
	runJSON(t, testDeps(t), []string{"--baseline", "--requests", "200", "-c", "4", "--duration", "1m"}, &r)
	checkResult(t, &r)
	if r.Requests != 200 || r.OK != 200 || r.Status["200"] != 200 || r.StoppedBy != "requests" {
		t.Errorf("requests %d ok %d status %v stopped by %q; want 200 ok, stopped by requests", r.Requests, r.OK, r.Status, r.StoppedBy)
	}
	if r.Note == "" || r.Client == nil {
		t.Errorf("in-process baseline result lacks its note or client CPU: %+v", r)
	}
}

func TestStatusErrorsCounted(t *testing.T) {
	var n, unauthorized atomic.Int64
	ts := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1)%3 == 0 {
			unauthorized.Add(1)
			oauthError(w, http.StatusUnauthorized, "invalid_client")
			return
		}
		w.Write([]byte(`{"access_token":"x","token_type":"bearer"}`))
	}))
	var r result
	runJSON(t, testDeps(t), fakeArgs(ts.URL, "--requests", "300", "-c", "4"), &r)
	checkResult(t, &r)
	if r.Requests != 300 || int64(r.Requests) != n.Load() {
		t.Errorf("requests %d, server saw %d; want 300 both", r.Requests, n.Load())
	}
	if got, want := r.Status["401"], int(unauthorized.Load()); got != want || r.Errors != want || want != 100 {
		t.Errorf("status 401 = %d, errors = %d; want %d (server sent %d)", got, r.Errors, 100, want)
	}
	if r.Status["200"] != 200 || r.OK != 200 {
		t.Errorf("status 200 = %d, ok = %d; want 200", r.Status["200"], r.OK)
	}
	if !strings.Contains(r.ErrorSamples["status 401"], "invalid_client") {
		t.Errorf("error samples %v; want the 401 body", r.ErrorSamples)
	}
}

func TestRefusesNonLoopbackBeforeConnecting(t *testing.T) {
	names := map[string][]string{
		"auth.example":   {"10.1.2.3"},
		"mixed.example":  {"127.0.0.1", "192.0.2.7"},
		"v6.example":     {"::1", "2001:db8::1"},
		"mapped.example": {"::ffff:10.0.0.1"},
	}
	lookups := 0
	d := deps{
		lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			lookups++
			var out []netip.Addr
			for _, s := range names[host] {
				out = append(out, netip.MustParseAddr(s))
			}
			return out, nil
		},
		dial: noDial(t),
		proc: osProc(),
	}
	creds := []string{"--client-secret", "x", "--requests", "10"}
	for _, args := range [][]string{
		{"--url", "http://10.1.2.3"},
		{"--url", "http://10.1.2.3:8080", "--scenario", "refresh", "--password", "pw"},
		{"--url", "http://auth.example:8080"},
		{"--url", "http://mixed.example"},
		{"--url", "http://v6.example"},
		{"--url", "http://mapped.example"},
		{"--url", "https://[2001:db8::1]:443"},
		{"--url", "http://127.0.0.1:1", "--compare", "--baseline-url", "http://auth.example"},
		{"--baseline-serve", "10.1.2.3:0"},
		{"--baseline-serve", ":0"},
	} {
		args = append(args, creds...)
		err := runWith(t.Context(), args, func(string) string { return "" }, &strings.Builder{}, &strings.Builder{}, d)
		if !errors.Is(err, errNotLoopback) {
			t.Errorf("run(%q) = %v; want %v", args, err, errNotLoopback)
		}
	}
	if lookups == 0 {
		t.Error("the injected resolver was never asked")
	}
}

func TestResolveTargetPinsLoopback(t *testing.T) {
	lookup := func(_ context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("::1")}, nil
	}
	tg, err := resolveTarget(t.Context(), lookup, "http://gatehouse.test:8080/base", "/oauth2/token", false)
	if err != nil {
		t.Fatal(err)
	}
	if tg.tokenURL != "http://gatehouse.test:8080/base/oauth2/token" || len(tg.addrs) != 2 || tg.addrs[1].String() != "[::1]:8080" {
		t.Errorf("resolveTarget = %+v; want token URL under /base and both addresses on port 8080", tg)
	}
	if _, err := tg.pinnedDial(noDial(t))(t.Context(), "tcp", "elsewhere.test:8080"); err == nil {
		t.Error("pinned dial to another host succeeded; want refusal")
	}
	remote := func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("10.1.2.3")}, nil
	}
	if _, err := resolveTarget(t.Context(), remote, "http://far.test", "/t", true); err != nil {
		t.Errorf("with --allow-non-loopback: %v; want accepted", err)
	}
	for _, bad := range []string{"ftp://127.0.0.1", "http://", "http://u:p@127.0.0.1", "127.0.0.1:8080", "http://127.0.0.1/?q=1"} {
		if _, err := resolveTarget(t.Context(), lookup, bad, "/t", false); err == nil {
			t.Errorf("resolveTarget(%q) accepted; want an error", bad)
		}
	}
}

func TestRefreshFollowsChain(t *testing.T) {
	for _, tc := range []struct {
		name      string
		failEvery int
	}{
		{"unbroken", 0},
		{"chains break and restart", 25},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeTokenServer(t)
			f.failRefreshEvery = tc.failEvery
			ts := newFake(t, f)
			var r result
			runJSON(t, testDeps(t), fakeArgs(ts.URL, "--scenario", "refresh", "--requests", "200", "-c", "4"), &r)
			checkResult(t, &r)
			c := f.counts()
			if r.Requests != 200 || c["refresh_token"] != 200 {
				t.Errorf("requests %d, server refreshes %d; want 200", r.Requests, c["refresh_token"])
			}
			wantErrors := 0
			if tc.failEvery > 0 {
				wantErrors = 200 / tc.failEvery
			}
			if r.Errors != wantErrors || r.Status["400"] != wantErrors {
				t.Errorf("errors %d (status %v); want %d", r.Errors, r.Status, wantErrors)
			}
			// One password grant starts each worker's chain, one more each
			// broken chain that was refreshed again.
			if c["password"] != 4+r.Rebootstraps || r.Rebootstraps > wantErrors || (wantErrors > 0 && r.Rebootstraps == 0) {
				t.Errorf("password grants %d, restarts %d; want 4 + restarts, restarts <= %d", c["password"], r.Rebootstraps, wantErrors)
			}
		})
	}
}

func TestMixAndWarmup(t *testing.T) {
	f := newFakeTokenServer(t)
	ts := newFake(t, f)
	var r result
	runJSON(t, testDeps(t), fakeArgs(ts.URL, "--scenario", "mix", "--mix", "client_credentials=60,password=20,refresh=20",
		"--requests", "500", "-c", "3", "--warmup", "50ms"), &r)
	checkResult(t, &r)
	if r.Requests != 500 || r.OK != 500 || r.WarmupRequests == 0 {
		t.Errorf("requests %d ok %d warmup %d; want 500 ok after some warmup", r.Requests, r.OK, r.WarmupRequests)
	}
	for _, g := range grantNames {
		if r.Grants[g].Requests == 0 {
			t.Errorf("grant %s never sent in the mix: %v", g, r.Grants)
		}
	}
	c := f.counts()
	total := c["client_credentials"] + c["password"] + c["refresh_token"]
	// Setup sends one password grant per worker; warmup is not counted.
	if want := 500 + r.WarmupRequests + 3; total != want {
		t.Errorf("server saw %d requests (%v); want measured 500 + warmup %d + 3 chain starts", total, c, r.WarmupRequests)
	}
}

func TestCompareJSON(t *testing.T) {
	ts := newFake(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"access_token":"x","token_type":"bearer"}`))
	}))
	var c comparison
	runJSON(t, testDeps(t), fakeArgs(ts.URL, "--compare", "--requests", "100", "-c", "2"), &c)
	if c.Baseline == nil || c.Target == nil {
		t.Fatalf("comparison = %+v; want both results", c)
	}
	checkResult(t, c.Baseline)
	checkResult(t, c.Target)
	if c.Baseline.OK != 100 || c.Target.OK != 100 || c.Ratio <= 0 {
		t.Errorf("baseline ok %d, target ok %d, ratio %v; want 100, 100, > 0", c.Baseline.OK, c.Target.OK, c.Ratio)
	}
}

func TestTextOutput(t *testing.T) {
	var out strings.Builder
	err := runWith(t.Context(), []string{"--baseline", "--requests", "50", "-c", "2"}, func(string) string { return "" }, &out, &strings.Builder{}, testDeps(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"throughput", "req/s", "p50", "p99", "status      200=50", "loadgen"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestConfigRefusesUnbounded(t *testing.T) {
	getenv := func(k string) string {
		return map[string]string{"GATEHOUSE_BENCH_CLIENT_SECRET": "s", "GATEHOUSE_BENCH_PASSWORD": "p"}[k]
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--requests", "0"}, "--requests 0"},
		{[]string{"--duration", "0s"}, "--duration 0s"},
		{[]string{"--duration", "-1s"}, "--duration -1s"},
		{[]string{"--requests", "100000000"}, "--requests 100000000"},
		{[]string{"-c", "0"}, "--connections 0"},
		{[]string{"--scenario", "implicit"}, "--scenario \"implicit\""},
		{[]string{"--baseline", "--scenario", "password"}, "only client_credentials"},
		{[]string{"--compare", "--scenario", "refresh"}, "only client_credentials"},
		{[]string{"--mix", "password=0"}, "sum to zero"},
		{[]string{"--mix", "implicit=3"}, "--mix"},
		{[]string{"--baseline-url", "http://127.0.0.1:1"}, "needs --compare"},
	} {
		_, err := parseConfig(tc.args, getenv, &strings.Builder{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parseConfig(%q) = %v; want an error containing %q", tc.args, err, tc.want)
		}
	}
	// Every problem is reported at once.
	_, err := parseConfig([]string{"--requests", "0", "--duration", "0s", "-c", "0"}, func(string) string { return "" }, &strings.Builder{})
	for _, want := range []string{"--requests", "--duration", "--connections", "--client-secret"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseConfig with four problems = %v; want one mentioning %s", err, want)
		}
	}
	c, err := parseConfig(nil, getenv, &strings.Builder{})
	if err != nil || c.Duration <= 0 || c.Requests <= 0 || c.URL != "http://127.0.0.1:8080" {
		t.Errorf("defaults = %+v, %v; want bounded, loopback", c, err)
	}
}
