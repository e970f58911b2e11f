package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// scrape reads the admin listener's /metrics as series -> value, each
// series written as Prometheus prints it: name{label="v",...}.
func scrape(t *testing.T, adminURL string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestMetrics drives the server on PostgreSQL and checks that each
// counter moves by what was done (design D12), that latency is labelled by
// route template, and that no label carries a client id or a username.
func TestMetrics(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	adminURL, adminToken := adminAPI(t, ts)
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	before := scrape(t, adminURL)

	tok := func(form url.Values, user, pass string) map[string]any {
		t.Helper()
		_, body := ts.post(t, "/oauth2/token", form, user, pass)
		return body
	}
	// 2 client_credentials tokens, 1 wrong secret.
	at := tok(url.Values{"grant_type": {"client_credentials"}}, "app", secret)["access_token"].(string)
	tok(url.Values{"grant_type": {"client_credentials"}}, "app", secret)
	tok(url.Values{"grant_type": {"client_credentials"}}, "app", "wrong")
	// 1 password grant with a refresh token, 1 refresh, 1 reuse of the
	// rotated token, 1 refresh without refresh_token.
	rt := passwordLogin(t, ts, "app", secret)["refresh_token"].(string)
	tok(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
	if body := tok(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret); body["error"] != "invalid_grant" {
		t.Fatalf("reuse: %v", body)
	}
	tok(url.Values{"grant_type": {"refresh_token"}}, "app", secret)
	// 1 revocation of an access token.
	if resp, _ := ts.post(t, "/oauth2/revoke", url.Values{"token": {at}}, "app", secret); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	// 10 failed logins for one username, then a blocked one.
	for range 10 {
		tok(url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"guess"}}, "app", secret)
	}
	if resp, _ := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"mallory"}, "password": {"guess"}}, "app", secret); resp.StatusCode != 429 {
		t.Fatalf("11th failed login: %d; want 429", resp.StatusCode)
	}
	// An admin API request for one user, by id.
	req, _ := http.NewRequest(http.MethodGet, adminURL+"/admin/v1/users/u-1", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, _ := do(t, req); resp.StatusCode != 200 {
		t.Fatalf("admin GET user: %d", resp.StatusCode)
	}
	// The janitor, one expired denial to delete.
	st := ts.app.store.(storage.ExpiryDeleter)
	if err := ts.app.store.Deny(context.Background(), "expired-entry", time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := (&storage.Janitor{Store: st, Deleted: ts.app.metrics.janitorDeletedFunc}).Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}

	after := scrape(t, adminURL)
	moved := func(series string) float64 { return after[series] - before[series] }
	for series, want := range map[string]float64{
		`gatehouse_token_requests_total{grant_type="client_credentials",outcome="ok"}`:                                         2,
		`gatehouse_token_requests_total{grant_type="client_credentials",outcome="invalid_client"}`:                             1,
		`gatehouse_token_requests_total{grant_type="password",outcome="ok"}`:                                                   1,
		`gatehouse_token_requests_total{grant_type="password",outcome="invalid_grant"}`:                                        10,
		`gatehouse_token_requests_total{grant_type="password",outcome="invalid_request"}`:                                      1, // the 429
		`gatehouse_token_requests_total{grant_type="refresh_token",outcome="ok"}`:                                              1,
		`gatehouse_token_requests_total{grant_type="refresh_token",outcome="invalid_grant"}`:                                   1,
		`gatehouse_token_requests_total{grant_type="refresh_token",outcome="invalid_request"}`:                                 1,
		`gatehouse_tokens_issued_total{grant_type="client_credentials",token_type="access_token"}`:                             2,
		`gatehouse_tokens_issued_total{grant_type="password",token_type="refresh_token"}`:                                      1,
		`gatehouse_tokens_issued_total{grant_type="refresh_token",token_type="refresh_token"}`:                                 1,
		`gatehouse_refresh_token_reuse_detected_total`:                                                                         1,
		`gatehouse_revocations_total{token_type="access_token"}`:                                                               1,
		`gatehouse_throttle_blocks_total{kind="user_address"}`:                                                                 1,
		`gatehouse_janitor_deleted_total{kind="denial"}`:                                                                       1,
		`gatehouse_http_request_duration_seconds_count{code="200",listener="public",method="POST",route="/oauth2/revoke"}`:     1,
		`gatehouse_http_request_duration_seconds_count{code="200",listener="admin",method="GET",route="/admin/v1/users/{id}"}`: 1,
	} {
		if got := moved(series); got != want {
			t.Errorf("%s moved by %v; want %v", series, got, want)
		}
	}
	// 1 password grant and 10 failed ones hashed (the blocked one did not).
	if got := moved(`gatehouse_password_hash_wait_seconds_count{outcome="ok"}`); got != 11 {
		t.Errorf("password hashes observed: %v; want 11", got)
	}
	for _, series := range []string{"gatehouse_db_pool_max_connections", "gatehouse_signing_key_next_rotation_seconds"} {
		if after[series] <= 0 {
			t.Errorf("%s = %v; want > 0", series, after[series])
		}
	}
	if age := after["gatehouse_signing_key_age_seconds"]; age < 0 || age > 3600 {
		t.Errorf("gatehouse_signing_key_age_seconds = %v; want a fresh key's age", age)
	}
	if after[`gatehouse_db_pool_acquires_total`] <= before[`gatehouse_db_pool_acquires_total`] {
		t.Errorf("gatehouse_db_pool_acquires_total did not move")
	}
	buildInfo := false
	label := regexp.MustCompile(`="([^"]*)"`)
	for series := range after {
		if strings.HasPrefix(series, "gatehouse_build_info{") && after[series] == 1 {
			buildInfo = true
		}
		if !strings.HasPrefix(series, "gatehouse_") && !strings.HasPrefix(series, "go_") && !strings.HasPrefix(series, "process_") && !strings.HasPrefix(series, "promhttp_") {
			t.Errorf("series %s lacks the gatehouse_ prefix", series)
		}
		for _, m := range label.FindAllStringSubmatch(series, -1) {
			if v := m[1]; v == "app" || v == "frank" || v == "mallory" || v == "u-1" || strings.HasPrefix(v, "/admin/v1/users/u-") {
				t.Errorf("series %s has an unbounded label value %q", series, v)
			}
		}
	}
	if !buildInfo {
		t.Error("no gatehouse_build_info series with value 1")
	}
}

// syncLog collects log output from concurrent handlers.
type syncLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *syncLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *syncLog) lines(t *testing.T) []map[string]any {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(l.b.String()), "\n") {
		m := map[string]any{}
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func (l *syncLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startLoggedServer is a dev-mode server whose log, as serve builds it
// (JSON, with request ids), goes to the returned buffer.
func startLoggedServer(t *testing.T, mutate func(*Config)) (*testServer, *syncLog) {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	ts := &testServer{Server: hs}
	cfg := testConfig(t)
	cfg.Addr = hs.Listener.Addr().String()
	cfg.Issuer = "http://" + cfg.Addr
	cfg.LogFormat = "json"
	if mutate != nil {
		mutate(cfg)
	}
	out := &syncLog{}
	a, err := newApp(context.Background(), cfg, newLogger(cfg, out))
	if err != nil {
		t.Fatal(err)
	}
	ts.app, ts.issuer = a, cfg.Issuer
	hs.Config.Handler = a.handler
	hs.Start()
	t.Cleanup(func() { hs.Close(); a.Close() })
	return ts, out
}

// TestAccessLog checks the access log (design D12): one line per request
// with method, route template, status, duration, request id and the
// authenticated client; the request id from a well-formed X-Request-Id or
// generated, returned in the response and on every log line of the
// request; and no token, secret, password or Authorization header.
func TestAccessLog(t *testing.T) {
	ts, logs := startLoggedServer(t, nil)
	secret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token", "client_credentials"}, Scopes: []string{"read", "offline_access"}})
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	adminURL, adminToken := adminAPI(t, ts)

	send := func(method, u, reqID, body, user, pass, bearer string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, u, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if strings.HasPrefix(body, "{") {
				req.Header.Set("Content-Type", "application/json")
			}
		}
		if reqID != "" {
			req.Header.Set(RequestIDHeader, reqID)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return resp, string(b)
	}
	form := url.Values{"grant_type": {"password"}, "username": {"frank"}, "password": {"pw-frank-123"}, "scope": {"read offline_access"}}.Encode()
	resp, body := send("POST", ts.URL+"/oauth2/token", "req-login-1", form, "app", secret, "")
	if resp.StatusCode != 200 || resp.Header.Get(RequestIDHeader) != "req-login-1" {
		t.Fatalf("login: %d, X-Request-Id %q: %s", resp.StatusCode, resp.Header.Get(RequestIDHeader), body)
	}
	var tokens map[string]any
	json.Unmarshal([]byte(body), &tokens)
	// A malformed id is replaced.
	for _, bad := range []string{"has space", strings.Repeat("x", 129), "quote\"", "<script>"} {
		resp, _ = send("GET", ts.URL+"/.well-known/jwks.json", bad, "", "", "", "")
		if got := resp.Header.Get(RequestIDHeader); got == bad || !regexp.MustCompile(`^[0-9a-f]{24}$`).MatchString(got) {
			t.Errorf("X-Request-Id %q answered %q; want a generated id", bad, got)
		}
	}
	// No id: generated, and two requests get two ids.
	r1, _ := send("GET", ts.URL+"/nope/secret-path", "", "", "", "", "")
	r2, _ := send("GET", ts.URL+"/nope/secret-path", "", "", "", "", "")
	if a, b := r1.Header.Get(RequestIDHeader), r2.Header.Get(RequestIDHeader); a == "" || a == b {
		t.Errorf("generated ids %q and %q; want two different ids", a, b)
	}
	// A refresh and an introspection carry tokens in the body; an admin
	// change writes an audit line in the same request.
	send("POST", ts.URL+"/oauth2/token", "req-refresh", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens["refresh_token"].(string)}}.Encode(), "app", secret, "")
	send("POST", ts.URL+"/oauth2/introspect", "req-introspect", url.Values{"token": {tokens["access_token"].(string)}}.Encode(), "app", secret, "")
	resp, body = send("POST", adminURL+"/admin/v1/users", "req-admin-1", `{"username":"gina","password":"pw-gina-1234"}`, "", "", adminToken)
	if resp.StatusCode != 201 {
		t.Fatalf("admin create user: %d %s", resp.StatusCode, body)
	}

	text := logs.String()
	for what, secretValue := range map[string]string{
		"client secret": secret, "password": "pw-frank-123", "admin-set password": "pw-gina-1234",
		"access token": tokens["access_token"].(string), "refresh token": tokens["refresh_token"].(string),
		"admin token": adminToken, "raw path": "secret-path",
	} {
		if strings.Contains(text, secretValue) {
			t.Errorf("the log holds the %s", what)
		}
	}
	if strings.Contains(strings.ToLower(text), "authorization") || strings.Contains(text, "Basic ") {
		t.Error("the log mentions an Authorization header")
	}

	_, adminClaims := jwtParts(t, adminToken)
	adminClientID := adminClaims["client_id"].(string)
	byID := map[string][]map[string]any{}
	for _, l := range logs.lines(t) {
		id, _ := l["request_id"].(string)
		byID[id] = append(byID[id], l)
	}
	for _, tt := range []struct {
		id, route, client string
		status            float64
		lines             int // log lines of the request, the access line included
	}{
		{"req-login-1", "/oauth2/token", "app", 200, 1},
		{"req-refresh", "/oauth2/token", "app", 200, 1},
		{"req-introspect", "/oauth2/introspect", "app", 200, 1},
		{"req-admin-1", "/admin/v1/users", adminClientID, 201, 2}, // the audit line too
	} {
		lines := byID[tt.id]
		if len(lines) != tt.lines {
			t.Errorf("request %s: %d log lines %v; want %d", tt.id, len(lines), lines, tt.lines)
			continue
		}
		var access []map[string]any
		for _, l := range lines {
			if l["msg"] == "request" {
				access = append(access, l)
			}
		}
		if len(access) != 1 {
			t.Errorf("request %s: %d access lines; want 1", tt.id, len(access))
			continue
		}
		a := access[0]
		if a["route"] != tt.route || a["status"] != tt.status || a["method"] != "POST" || a["duration"] == nil {
			t.Errorf("request %s: access line %v; want route %s status %v", tt.id, a, tt.route, tt.status)
		}
		if c, _ := a["client_id"].(string); c != tt.client {
			t.Errorf("request %s: client_id %q; want %q", tt.id, c, tt.client)
		}
	}
	// The unmatched paths are logged by no raw path.
	if n := len(byID[r1.Header.Get(RequestIDHeader)]); n != 1 || byID[r1.Header.Get(RequestIDHeader)][0]["route"] != "unmatched" {
		t.Errorf("unmatched request: %v; want one line with route unmatched", byID[r1.Header.Get(RequestIDHeader)])
	}
}

// TestPprof checks that profiles are off by default and, when enabled,
// only for admin tokens (design D12).
func TestPprof(t *testing.T) {
	get := func(u, token string) int {
		req, _ := http.NewRequest(http.MethodGet, u, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	off := startServer(t, nil)
	offURL, offToken := adminAPI(t, off)
	if code := get(offURL+"/debug/pprof/heap", offToken); code != 404 {
		t.Errorf("pprof without --pprof: %d; want 404", code)
	}

	on := startServer(t, func(c *Config) { c.Pprof = true })
	onURL, adminToken := adminAPI(t, on)
	secret := on.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	_, body := on.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secret)
	plainToken := body["access_token"].(string)
	for _, tt := range []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"not admin", plainToken, 403},
		{"admin", adminToken, 200},
	} {
		if code := get(onURL+"/debug/pprof/heap", tt.token); code != tt.want {
			t.Errorf("pprof heap, %s: %d; want %d", tt.name, code, tt.want)
		}
	}
	if code := get(onURL+"/debug/pprof/", adminToken); code != 200 {
		t.Errorf("pprof index, admin: %d; want 200", code)
	}
}
