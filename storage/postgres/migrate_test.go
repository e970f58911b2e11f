package postgres

import (
	"errors"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

func allMigrationNames(t *testing.T) []string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "*.sql")
	mustNil(t, "list migrations", err)
	return names
}

func TestMigrateTwiceAppliesNothing(t *testing.T) {
	s := openURL(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	if err := s.CheckSchema(ctx); !errors.Is(err, ErrSchemaBehind) {
		t.Fatalf("CheckSchema(empty database) = %v; want ErrSchemaBehind", err)
	}
	applied, err := Migrate(ctx, s)
	mustNil(t, "Migrate", err)
	if want := allMigrationNames(t); !slices.Equal(applied, want) {
		t.Fatalf("first Migrate applied %v; want %v", applied, want)
	}
	applied, err = Migrate(ctx, s)
	mustNil(t, "second Migrate", err)
	if len(applied) != 0 {
		t.Fatalf("second Migrate applied %v; want nothing", applied)
	}
	mustNil(t, "CheckSchema", s.CheckSchema(ctx))
	states, err := s.MigrationStatus(ctx)
	mustNil(t, "MigrationStatus", err)
	for _, st := range states {
		if !st.Applied || st.Unknown || st.AppliedAt.IsZero() {
			t.Errorf("MigrationStatus: %+v; want applied, known, with a time", st)
		}
	}
}

// Rows written under migration 1 survive the later migrations unchanged,
// except refresh tokens of the first format, which migration 3 drops (their
// holders get invalid_grant and log in again; see the README).
func TestRowsSurviveLaterMigrations(t *testing.T) {
	s := openURL(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	applied, err := s.migrateTo(ctx, 1)
	mustNil(t, "migrateTo(1)", err)
	if !slices.Equal(applied, []string{"0001_init.sql"}) {
		t.Fatalf("migrateTo(1) applied %v; want [0001_init.sql]", applied)
	}
	err = s.CheckSchema(ctx)
	if !errors.Is(err, ErrSchemaBehind) || !strings.Contains(err.Error(), "0002_signing_keys.sql") ||
		!strings.Contains(err.Error(), "gatehouse migrate") {
		t.Fatalf("CheckSchema(behind) = %v; want ErrSchemaBehind naming 0002_signing_keys.sql and `gatehouse migrate`", err)
	}

	now := time.Now().UTC().Truncate(time.Microsecond)
	client := storage.Client{ID: "c1", Name: "svc", SecretHash: []byte{1, 2, 3}, Roles: []string{"a"},
		Claims: map[string]any{"tenant": "acme"}, TokenLifetime: time.Minute, CreatedAt: now, UpdatedAt: now}
	user := storage.User{ID: "u1", Username: "alice", PasswordHash: "h", Roles: []string{"r"}, CreatedAt: now, UpdatedAt: now}
	// Clients, users and refresh tokens as the schema of migration 1 holds
	// them.
	_, err = s.pool.Exec(ctx, `INSERT INTO clients (id, name, secret_hash, roles, claims, token_lifetime_ns, created_at,
			updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, client.ID, client.Name, client.SecretHash, client.Roles,
		[]byte(`{"tenant":"acme"}`), int64(client.TokenLifetime), now)
	mustNil(t, "insert client", err)
	_, err = s.pool.Exec(ctx, `INSERT INTO users (id, username, password_hash, roles, disabled, created_at, updated_at)
		VALUES ($1, $2, $3, $4, false, $5, $5)`, user.ID, user.Username, user.PasswordHash, user.Roles, now)
	mustNil(t, "insert user", err)
	_, err = s.pool.Exec(ctx, `INSERT INTO refresh_tokens (signature, family_id, client_id, subject, active,
			requested_at, expires_at, family_created_at, request)
		VALUES ('sig-1', 'fam-1', 'c1', 'u1', true, $1, $2, $1, '{}')`, now, now.Add(time.Hour))
	mustNil(t, "insert refresh token", err)
	mustNil(t, "Deny", s.Deny(ctx, "jti-1", now.Add(time.Hour)))

	applied, err = Migrate(ctx, s)
	mustNil(t, "Migrate", err)
	if want := allMigrationNames(t)[1:]; !slices.Equal(applied, want) {
		t.Fatalf("Migrate after migrateTo(1) applied %v; want %v", applied, want)
	}
	mustNil(t, "CheckSchema", s.CheckSchema(ctx))

	gotClient, err := s.GetClient(ctx, "c1")
	mustNil(t, "GetClient", err)
	if gotClient.Name != "svc" || gotClient.TokenLifetime != time.Minute || gotClient.Claims["tenant"] != "acme" ||
		!gotClient.CreatedAt.Equal(now) || string(gotClient.SecretHash) != string(client.SecretHash) {
		t.Errorf("GetClient after migration = %+v; want %+v", gotClient, client)
	}
	// Migration 5: an existing client is confidential and first-party,
	// with no redirect URI.
	if gotClient.Public || gotClient.ThirdParty || len(gotClient.RedirectURIs) != 0 ||
		len(gotClient.PostLogoutRedirectURIs) != 0 || len(gotClient.WebOrigins) != 0 {
		t.Errorf("GetClient after migration 5 = %+v; want confidential, first-party, no URIs", gotClient)
	}
	gotUser, err := s.GetUserByUsername(ctx, "alice")
	mustNil(t, "GetUserByUsername", err)
	if gotUser.ID != "u1" || !slices.Equal(gotUser.Roles, user.Roles) || gotUser.CredentialsVersion != 0 ||
		gotUser.Email != "" || gotUser.EmailVerified || gotUser.Name != "" {
		t.Errorf("GetUserByUsername after migration = %+v; want %+v", gotUser, user)
	}
	if _, _, err := s.GetRefreshFamily(ctx, "fam-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetRefreshFamily(first-format family) after migration = %v; want ErrNotFound", err)
	}
	if d, err := s.Denied(ctx, now, "jti-1"); err != nil || !d {
		t.Errorf("Denied after migration = %v, %v; want true", d, err)
	}
}

func TestCheckSchemaAhead(t *testing.T) {
	s := newStore(t)
	ctx := t.Context()
	_, err := s.pool.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_the_future.sql')`)
	mustNil(t, "insert future migration", err)
	err = s.CheckSchema(ctx)
	if !errors.Is(err, ErrSchemaAhead) || !strings.Contains(err.Error(), "9999_from_the_future.sql") ||
		!strings.Contains(err.Error(), "older than the database schema") {
		t.Fatalf("CheckSchema(ahead) = %v; want ErrSchemaAhead naming 9999_from_the_future.sql", err)
	}
	states, err := s.MigrationStatus(ctx)
	mustNil(t, "MigrationStatus", err)
	if last := states[len(states)-1]; last.Version != 9999 || !last.Unknown || !last.Applied {
		t.Fatalf("MigrationStatus last = %+v; want the unknown version 9999", last)
	}
	applied, err := Migrate(ctx, s)
	if err != nil || len(applied) != 0 {
		t.Fatalf("Migrate(ahead) = %v, %v; want nothing to apply", applied, err)
	}
}

// Concurrent migrators apply each file once between them.
func TestMigrateConcurrently(t *testing.T) {
	dbURL := pgtest.URL(t)
	const n = 4
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []string
	)
	for range n {
		s := openURL(t, dbURL, Options{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			applied, err := Migrate(t.Context(), s)
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			mu.Lock()
			all = append(all, applied...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(all)
	if want := allMigrationNames(t); !slices.Equal(all, want) {
		t.Fatalf("%d concurrent migrators applied %v; want each of %v once", n, all, want)
	}
}

// A failing file is named in the error and leaves nothing behind: it ran
// in its own transaction.
func TestMigrateErrorNamesFile(t *testing.T) {
	s := openURL(t, pgtest.URL(t), Options{})
	ctx := t.Context()
	s.migrations = fstest.MapFS{
		"0001_ok.sql":     {Data: []byte("CREATE TABLE ok (id text PRIMARY KEY);")},
		"0002_broken.sql": {Data: []byte("CREATE TABLE half (id text PRIMARY KEY); CREATE TABLE oops (;")},
	}
	applied, err := Migrate(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "0002_broken.sql") {
		t.Fatalf("Migrate(broken file) = %v; want an error naming 0002_broken.sql", err)
	}
	if !slices.Equal(applied, []string{"0001_ok.sql"}) {
		t.Fatalf("Migrate(broken file) applied %v; want [0001_ok.sql]", applied)
	}
	var half bool
	mustNil(t, "look for table half", s.pool.QueryRow(ctx, `SELECT to_regclass('half') IS NOT NULL`).Scan(&half))
	if half {
		t.Fatal("the broken migration's first statement was kept")
	}
}

func TestLoadMigrationsRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"unnumbered": {"init.sql": {Data: []byte("SELECT 1")}},
		"duplicate":  {"0001_a.sql": {Data: []byte("SELECT 1")}, "01_b.sql": {Data: []byte("SELECT 1")}},
		"zero":       {"0000_a.sql": {Data: []byte("SELECT 1")}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("loadMigrations(%s) = nil error; want one", name)
		}
	}
	got, err := loadMigrations(migrations.FS)
	mustNil(t, "loadMigrations(embedded)", err)
	for i, m := range got {
		if m.version != i+1 {
			t.Errorf("embedded migration %s has version %d; want %d", m.name, m.version, i+1)
		}
	}
}
