package main

import (
	"context"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

const testSecrets = "test-master-secret-0123456789abcdef-0123456789"

// withPostgres configures a server on the database at dbURL.
func withPostgres(dbURL string) func(*Config) {
	return func(c *Config) {
		c.DatabaseURL = dbURL
		c.Dev = false
		c.Migrate = true
		c.Secrets = testSecrets
		c.RequestTimeout = 2 * time.Second
		c.DBConnectTimeout = 500 * time.Millisecond
	}
}

func passwordLogin(t *testing.T, ts *testServer, clientID, secret string) map[string]any {
	t.Helper()
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"frank"}, "password": {"pw-frank-123"}, "scope": {"read offline_access"}}, clientID, secret)
	if resp.StatusCode != 200 {
		t.Fatalf("password grant: %d %v", resp.StatusCode, body)
	}
	return body
}

var appClient = storage.Client{ID: "app", Name: "app", GrantTypes: []string{"client_credentials", "password", "refresh_token"}, Scopes: []string{"read", "offline_access"}, Audiences: []string{"api"}, Roles: []string{"service"}}

// TestTwoInstancesOneDatabase runs two servers on one PostgreSQL, as behind
// a load balancer (design D10).
func TestTwoInstancesOneDatabase(t *testing.T) {
	dbURL := pgtest.URL(t)
	a := startServer(t, withPostgres(dbURL))
	b := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		c.Issuer = a.issuer // one issuer behind a load balancer
	})
	secret := a.addClient(t, appClient)
	a.addUser(t, "u-1", "frank", "pw-frank-123", "user")

	// A token from A verifies with B's JWKS.
	body := passwordLogin(t, a, "app", secret)
	at := body["access_token"].(string)
	ctx := context.Background()
	if _, err := oidc.NewRemoteKeySet(ctx, b.URL+"/.well-known/jwks.json").VerifySignature(ctx, at); err != nil {
		t.Fatalf("A's token does not verify with B's JWKS: %v", err)
	}
	// A refresh token from A refreshes at B.
	resp, rb := b.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh at B of A's token: %d %v", resp.StatusCode, rb)
	}
	// A revocation at B shows at A's introspection.
	if _, ib := a.post(t, "/oauth2/introspect", url.Values{"token": {rb["access_token"].(string)}}, "app", secret); ib["active"] != true {
		t.Fatalf("A's introspection of B's token: %v; want active", ib)
	}
	if resp, _ := b.post(t, "/oauth2/revoke", url.Values{"token": {rb["refresh_token"].(string)}}, "app", secret); resp.StatusCode != 200 {
		t.Fatalf("revoke at B: %d", resp.StatusCode)
	}
	for _, tok := range []string{rb["access_token"].(string), rb["refresh_token"].(string)} {
		if _, ib := a.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "app", secret); ib["active"] != false {
			t.Errorf("A's introspection after revocation at B: %v; want inactive", ib)
		}
	}

	// Clocks a few seconds apart: a token from an instance running ahead
	// is active at one running behind (leeway, not fosite's zero-leeway iat).
	a.advance(5 * time.Second)
	_, cc := a.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "app", secret)
	if _, ib := b.post(t, "/oauth2/introspect", url.Values{"token": {cc["access_token"].(string)}}, "app", secret); ib["active"] != true {
		t.Errorf("B's introspection of a token from A, whose clock is 5s ahead: %v; want active", ib)
	}
}

// TestRestartKeepsTokens restarts the server on the same database: access
// and refresh tokens issued before still work.
func TestRestartKeepsTokens(t *testing.T) {
	dbURL := pgtest.URL(t)
	first := startServer(t, withPostgres(dbURL))
	secret := first.addClient(t, appClient)
	first.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	body := passwordLogin(t, first, "app", secret)
	first.Close()

	second := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		c.Issuer = first.issuer
	})
	if _, ib := second.post(t, "/oauth2/introspect", url.Values{"token": {body["access_token"].(string)}}, "app", secret); ib["active"] != true {
		t.Errorf("access token from before the restart: %v; want active", ib)
	}
	if resp, rb := second.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "app", secret); resp.StatusCode != 200 {
		t.Errorf("refresh token from before the restart: %d %v", resp.StatusCode, rb)
	}
}

// TestDatabaseOutage stops PostgreSQL under a running server: requests
// that need it answer 503 promptly, nothing is lost, and the same process
// serves again when the database is back.
func TestDatabaseOutage(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	ts := startServer(t, withPostgres(cluster.URL(t)))
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	body := passwordLogin(t, ts, "app", secret)
	rt := body["refresh_token"].(string)

	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	for name, form := range map[string]url.Values{
		"client_credentials": {"grant_type": {"client_credentials"}},
		"password":           {"grant_type": {"password"}, "username": {"frank"}, "password": {"pw-frank-123"}},
		"refresh":            {"grant_type": {"refresh_token"}, "refresh_token": {rt}},
	} {
		start := time.Now()
		resp, rb := ts.post(t, "/oauth2/token", form, "app", secret)
		elapsed := time.Since(start)
		if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" || rb["error"] != "temporarily_unavailable" || rb["access_token"] != nil {
			t.Errorf("%s with the database down: %d %v (Retry-After %q); want 503 temporarily_unavailable",
				name, resp.StatusCode, rb, resp.Header.Get("Retry-After"))
		}
		if elapsed > 3*time.Second {
			t.Errorf("%s with the database down took %v; want under the 2s request timeout plus slack", name, elapsed)
		}
	}
	if resp, _ := ts.post(t, "/oauth2/introspect", url.Values{"token": {body["access_token"].(string)}}, "app", secret); resp.StatusCode != 503 {
		t.Errorf("introspection with the database down: %d; want 503", resp.StatusCode)
	}
	if resp, body := do(t, mustGet(t, ts.URL+"/readyz")); resp.StatusCode != 503 || body["checks"].(map[string]any)["store"] != "unavailable" {
		t.Errorf("readyz with the database down: %d %v; want 503 naming the store", resp.StatusCode, body)
	}
	// Liveness never asks the database: an outage must not restart the
	// server (design D12).
	if resp, body := do(t, mustGet(t, ts.URL+"/livez")); resp.StatusCode != 200 || body["status"] != "ok" {
		t.Errorf("livez with the database down: %d %v; want 200", resp.StatusCode, body)
	}

	if err := cluster.Start(); err != nil {
		t.Fatal(err)
	}
	// The same process serves again, and the refresh token that failed
	// during the outage was not consumed.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, _ := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "app", secret)
		if resp.StatusCode == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not recover after the database came back: last status %d", resp.StatusCode)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp, rb := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret); resp.StatusCode != 200 {
		t.Errorf("refresh after recovery: %d %v; want 200", resp.StatusCode, rb)
	}
	if resp, body := do(t, mustGet(t, ts.URL+"/readyz")); resp.StatusCode != 200 || body["status"] != "ok" {
		t.Errorf("readyz after recovery: %d %v; want 200", resp.StatusCode, body)
	}
}

// TestConcurrentRefreshOneWinner presents one refresh token 50 times at
// once: exactly one request gets a new token, and the family is then
// revoked as reuse (RFC 9700 section 4.14.2).
func TestConcurrentRefreshOneWinner(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	rt := passwordLogin(t, ts, "app", secret)["refresh_token"].(string)

	const n = 50
	type result struct {
		code int
		body map[string]any
	}
	results := make(chan result, n)
	start := make(chan struct{})
	for range n {
		go func() {
			<-start
			resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
			results <- result{resp.StatusCode, body}
		}()
	}
	close(start)
	var winner string
	codes := map[int]int{}
	for range n {
		r := <-results
		codes[r.code]++
		if r.code == 200 {
			winner, _ = r.body["refresh_token"].(string)
		} else if r.body["error"] != "invalid_grant" {
			t.Errorf("loser got %d %v; want 400 invalid_grant", r.code, r.body)
		}
	}
	if codes[200] != 1 || winner == "" {
		t.Fatalf("status counts %v; want exactly one 200", codes)
	}
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {winner}}, "app", secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("the winner's token after concurrent reuse: %d %v; want invalid_grant (family revoked)", resp.StatusCode, body)
	}
}

func TestServeRefusesSchemaBehind(t *testing.T) {
	dbURL := pgtest.URL(t)
	cfg := testConfig(t)
	withPostgres(dbURL)(cfg)
	cfg.Migrate = false
	_, err := newApp(context.Background(), cfg, slogDiscard())
	if err == nil || !strings.Contains(err.Error(), "gatehouse migrate") {
		t.Fatalf("newApp on an empty database = %v; want an error naming `gatehouse migrate`", err)
	}
}

func TestMigrateCommand(t *testing.T) {
	dbURL := pgtest.URL(t)
	env := []string{"GATEHOUSE_DATABASE_URL=" + dbURL}
	runOut := func(args ...string) string {
		t.Helper()
		var out, errOut strings.Builder
		if err := run(context.Background(), args, env, nil, &out, &errOut); err != nil {
			t.Fatalf("gatehouse %v: %v\n%s", args, err, errOut.String())
		}
		return out.String()
	}
	if out := runOut("migrate", "status"); !strings.Contains(out, "pending") || strings.Contains(out, "applied ") {
		t.Errorf("status before migrating:\n%s", out)
	}
	if out := runOut("migrate"); !strings.Contains(out, "applied 0001") {
		t.Errorf("first migrate:\n%s", out)
	}
	if out := runOut("migrate"); !strings.Contains(out, "nothing to apply") {
		t.Errorf("second migrate applied something:\n%s", out)
	}
	if out := runOut("migrate", "status"); strings.Contains(out, "pending") {
		t.Errorf("status after migrating:\n%s", out)
	}
	// serve starts on the migrated schema.
	cfg := testConfig(t)
	withPostgres(dbURL)(cfg)
	cfg.Migrate = false
	a, err := newApp(context.Background(), cfg, slogDiscard())
	if err != nil {
		t.Fatalf("newApp after migrate: %v", err)
	}
	a.Close()
}

func slogDiscard() *slog.Logger { return slog.New(slog.DiscardHandler) }
