package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

// fakeTokenServer is a token endpoint that issues sequential refresh
// tokens and fails the test if one is ever presented twice or was never
// issued.
type fakeTokenServer struct {
	t *testing.T
	// failRefreshEvery, when positive, answers every nth refresh with
	// invalid_grant (after spending the token), to break chains.
	failRefreshEvery int

	mu       sync.Mutex
	next     int
	live     map[string]bool // issued and not yet used
	used     map[string]bool
	byGrant  map[string]int
	refreshN int
}

func newFakeTokenServer(t *testing.T) *fakeTokenServer {
	return &fakeTokenServer{t: t, live: map[string]bool{}, used: map[string]bool{}, byGrant: map[string]int{}}
}

func (f *fakeTokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/oauth2/token" {
		f.t.Errorf("request %s %s; want POST /oauth2/token", r.Method, r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-www-form-urlencoded" {
		f.t.Errorf("Content-Type = %q; want application/x-www-form-urlencoded", ct)
	}
	id, secret, ok := basicCredentials(r)
	if !ok || id != "cid" || secret != "s e/cret" {
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	gt := r.PostForm.Get("grant_type")
	f.byGrant[gt]++
	resp := map[string]any{"access_token": fmt.Sprintf("at-%d", f.next), "token_type": "bearer", "expires_in": 600}
	f.next++
	switch gt {
	case "client_credentials":
	case "password":
		if r.PostForm.Get("username") != "alice" || r.PostForm.Get("password") != "pw" {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if strings.Contains(r.PostForm.Get("scope"), "offline_access") {
			resp["refresh_token"] = f.issue()
		}
	case "refresh_token":
		rt := r.PostForm.Get("refresh_token")
		if f.used[rt] {
			f.t.Errorf("refresh token %q presented twice", rt)
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		if !f.live[rt] {
			f.t.Errorf("refresh token %q was never issued", rt)
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		delete(f.live, rt)
		f.used[rt] = true
		f.refreshN++
		if f.failRefreshEvery > 0 && f.refreshN%f.failRefreshEvery == 0 {
			oauthError(w, http.StatusBadRequest, "invalid_grant")
			return
		}
		resp["refresh_token"] = f.issue()
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(resp)
}

func (f *fakeTokenServer) issue() string {
	rt := fmt.Sprintf("rt-%d", f.next)
	f.next++
	f.live[rt] = true
	return rt
}

func (f *fakeTokenServer) counts() map[string]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]int{}
	for k, v := range f.byGrant {
		m[k] = v
	}
	return m
}

// fakeArgs are the credentials fakeTokenServer accepts. The secret has a
// space and a slash to exercise RFC 6749 section 2.3.1 encoding.
func fakeArgs(url string, more ...string) []string {
	return append([]string{"--url", url, "--client-id", "cid", "--client-secret", "s e/cret", "--username", "alice", "--password", "pw"}, more...)
}

// testDeps uses real loopback dialling and refuses to resolve names.
func testDeps(t *testing.T) deps {
	return deps{
		lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
			t.Errorf("unexpected lookup of %q", host)
			return nil, fmt.Errorf("no lookup in tests")
		},
		dial: defaultDial(),
		proc: osProc(),
	}
}

// runJSON runs the tool with --json and decodes its output into v.
func runJSON(t *testing.T, d deps, args []string, v any) {
	t.Helper()
	var out, errOut strings.Builder
	err := runWith(t.Context(), append(args, "--json"), func(string) string { return "" }, &out, &errOut, d)
	if err != nil {
		t.Fatalf("run(%q) = %v; stderr %s", args, err, errOut.String())
	}
	if err := json.Unmarshal([]byte(out.String()), v); err != nil {
		t.Fatalf("run(%q) printed no JSON: %v\n%s", args, err, out.String())
	}
}

// noDial fails the test if any connection is attempted.
func noDial(t *testing.T) dialFunc {
	return func(_ context.Context, network, addr string) (net.Conn, error) {
		t.Errorf("dialled %s %s; want no connection attempt", network, addr)
		return nil, fmt.Errorf("no dialling in this test")
	}
}

func newFake(t *testing.T, h http.Handler) *httptest.Server {
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}
