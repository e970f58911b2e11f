package main

import (
	"context"
	"fmt"
	"io/fs"
	"maps"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// refreshRaces is how many families each revocation kind races.
const refreshRaces = 200

// TestRefreshRevocationRacesPostgres races a client that refreshes in a
// tight loop, through the token endpoint on PostgreSQL, against one
// revocation of its family (design D3): RFC 7009 revocation of the token it
// holds, reuse of the family's first token (RFC 9700 section 4.14.2), and a
// password reset by the administrator. Once the revocation has returned, no
// refresh of the family may succeed: the token the client holds at the end
// must be refused and inactive at introspection.
func TestRefreshRevocationRacesPostgres(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		withPostgres(pgtest.URL(t))(c)
		c.Argon2MemoryKiB = 64 // 600 logins and 200 password resets
	})
	secret := ts.addClient(t, appClient)
	ctx := context.Background()

	refresh := func(rt string) (string, int) {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
		next, _ := body["refresh_token"].(string)
		return next, resp.StatusCode
	}
	login := func(username, password string) string {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {username},
			"password": {password}, "scope": {"read offline_access"}}, "app", secret)
		if resp.StatusCode != 200 {
			t.Fatalf("password grant for %s: %d %v", username, resp.StatusCode, body)
		}
		return body["refresh_token"].(string)
	}

	kinds := []struct {
		name string
		// revoke revokes the family; first is its first refresh token,
		// current the one the client holds right now.
		revoke func(t *testing.T, userID, first, current string)
	}{
		{"rfc7009", func(t *testing.T, _, _, current string) {
			if resp, body := ts.post(t, "/oauth2/revoke", url.Values{"token": {current}}, "app", secret); resp.StatusCode != 200 {
				t.Errorf("revoke: %d %v", resp.StatusCode, body)
			}
		}},
		{"reuse", func(t *testing.T, _, first, _ string) {
			// The client has rotated at least once, so first is old:
			// presenting it is reuse and revokes the family.
			if _, code := refresh(first); code != 400 {
				t.Errorf("reuse of the first token: %d; want 400", code)
			}
		}},
		{"password-reset", func(t *testing.T, userID, _, _ string) {
			if _, err := ts.app.admin.SetPassword(ctx, userID, admin.PasswordParams{Password: "new-password-" + userID}); err != nil {
				t.Errorf("SetPassword: %v", err)
			}
		}},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			var survivors, lateWins atomic.Int64
			sem := make(chan struct{}, 8)
			var wg sync.WaitGroup
			for i := range refreshRaces {
				userID := fmt.Sprintf("u-%s-%d", kind.name, i)
				username := fmt.Sprintf("user-%s-%d", kind.name, i)
				password := "pw-" + username
				ts.addUser(t, userID, username, password, "user")
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					first := login(username, password)
					// One rotation first, so that the first token is old.
					current, code := refresh(first)
					if code != 200 {
						t.Errorf("first refresh: %d", code)
						return
					}
					var (
						mu      sync.Mutex
						revoked atomic.Bool
						done    = make(chan struct{})
					)
					go func() {
						defer close(done)
						for range 200 {
							mu.Lock()
							rt := current
							mu.Unlock()
							after := revoked.Load()
							next, code := refresh(rt)
							if code != 200 {
								return
							}
							if after {
								// This refresh started after the
								// revocation had returned.
								lateWins.Add(1)
							}
							mu.Lock()
							current = next
							mu.Unlock()
						}
					}()
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					mu.Lock()
					held := current
					mu.Unlock()
					kind.revoke(t, userID, first, held)
					revoked.Store(true)
					<-done
					mu.Lock()
					last := current
					mu.Unlock()
					if _, code := refresh(last); code == 200 {
						survivors.Add(1)
						return
					}
					if _, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {last}}, "app", secret); body["active"] != false {
						survivors.Add(1)
					}
				}()
			}
			wg.Wait()
			if n, late := survivors.Load(), lateWins.Load(); n != 0 || late != 0 {
				t.Errorf("%d of %d families kept an active refresh token after %s; %d refreshes succeeded after the revocation returned; want 0 and 0",
					n, refreshRaces, kind.name, late)
			}
		})
	}
}

// TestRefreshKeepsNoHistory refreshes 10 families 1,000 times each through
// the token endpoint on PostgreSQL: the database holds one row per family
// (design D3), not one per refresh, so the row count of every table is
// what it was after the logins.
func TestRefreshKeepsNoHistory(t *testing.T) {
	const families, refreshes = 10, 1000
	dbURL := pgtest.URL(t)
	ts := startServer(t, withPostgres(dbURL))
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	tokens := make([]string, families)
	for i := range tokens {
		tokens[i] = passwordLogin(t, ts, "app", secret)["refresh_token"].(string)
	}
	before := tableRows(t, dbURL)
	if before["refresh_families"] != families {
		t.Fatalf("rows after %d logins: %v; want %d refresh families", families, before, families)
	}
	var wg sync.WaitGroup
	for i := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range refreshes {
				resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tokens[i]}}, "app", secret)
				if resp.StatusCode != 200 {
					t.Errorf("refresh: %d %v", resp.StatusCode, body)
					return
				}
				tokens[i] = body["refresh_token"].(string)
			}
		}()
	}
	wg.Wait()
	after := tableRows(t, dbURL)
	total := 0
	for _, n := range after {
		total += n
	}
	t.Logf("rows of every table after %d refreshes of %d families: %v (%d in all)", families*refreshes, families, after, total)
	if !maps.Equal(before, after) {
		t.Errorf("rows before the refreshes %v, after %v; want no change", before, after)
	}
}

// tableRows counts the rows of every table in the database's public schema.
func tableRows(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int{}
	for _, name := range names {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&n); err != nil {
			t.Fatal(err)
		}
		counts[name] = n
	}
	return counts
}

// TestUpgradeFromFirstRefreshFormat migrates, with `gatehouse migrate`, a
// database written by the first release (migrations 1 and 2 applied, a
// user and a live refresh token of the first format stored). The old
// token is refused with invalid_grant, as the README says; the user logs
// in again and refreshes.
func TestUpgradeFromFirstRefreshFormat(t *testing.T) {
	dbURL := pgtest.URL(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	// What the first release's `gatehouse migrate` did.
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (version bigint PRIMARY KEY, name text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"0001_init.sql", "0002_signing_keys.sql"} {
		sql, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, i+1, name); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	if _, err := conn.Exec(ctx, `INSERT INTO refresh_tokens (signature, family_id, client_id, subject, active,
			requested_at, expires_at, family_created_at, request)
		VALUES ('0f5c', 'fam-1', 'app', 'u-1', true, $1, $2, $1, '{}')`, now, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	env := []string{"GATEHOUSE_DATABASE_URL=" + dbURL}
	var out, errOut strings.Builder
	if err := run(ctx, []string{"migrate"}, env, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "0003_refresh_families.sql") {
		t.Fatalf("gatehouse migrate = %v\n%s%s; want 0003_refresh_families.sql applied", err, out.String(), errOut.String())
	}

	ts := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		c.Migrate = false
	})
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	old := "ory_rt_" + strings.Repeat("A", 43) + "." + strings.Repeat("B", 43)
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {old}}, "app", secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("first-format refresh token after the upgrade: %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	rt := passwordLogin(t, ts, "app", secret)["refresh_token"].(string)
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret); resp.StatusCode != 200 {
		t.Fatalf("refresh after logging in again: %d %v", resp.StatusCode, body)
	}
}

// TestRevokingAnOldGenerationRevokesTheFamily: RFC 7009 revocation of a
// refresh token that was already rotated still names its family, and
// revokes it, as presenting it at the token endpoint would.
func TestRevokingAnOldGenerationRevokesTheFamily(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, appClient)
	ts.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	first := passwordLogin(t, ts, "app", secret)["refresh_token"].(string)
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", resp.StatusCode, body)
	}
	current := body["refresh_token"].(string)
	if resp, _ := ts.post(t, "/oauth2/revoke", url.Values{"token": {first}}, "app", secret); resp.StatusCode != 200 {
		t.Fatalf("revoke the first token: %d", resp.StatusCode)
	}
	resp, body = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}, "app", secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "revoked") {
		t.Fatalf("current token after revoking the first: %d %v; want 400 invalid_grant, revoked", resp.StatusCode, body)
	}
	// Another client's revocation of it changes nothing (RFC 7009 section 2.1).
	other := ts.addClient(t, storage.Client{ID: "other", Name: "other", GrantTypes: []string{"client_credentials"}})
	second := passwordLogin(t, ts, "app", secret)["refresh_token"].(string)
	ts.post(t, "/oauth2/revoke", url.Values{"token": {second}}, "other", other)
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {second}}, "app", secret); resp.StatusCode != 200 {
		t.Fatalf("refresh after a foreign client's revocation: %d %v; want 200", resp.StatusCode, body)
	}
}
