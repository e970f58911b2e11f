package postgres

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
	"github.com/gatehouse/gatehouse/storage/storagetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// openURL opens a store on url and closes it when t ends.
func openURL(t *testing.T, url string, opts Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), url, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// newStore returns a store on a fresh, migrated database.
func newStore(t *testing.T) *Store {
	t.Helper()
	s := openURL(t, pgtest.URL(t), Options{})
	if _, err := Migrate(t.Context(), s); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store { return newStore(t) })
}

// family stores client-1, user-1 (once) and a live refresh family of
// them, and returns the rotation of its current token.
func family(t *testing.T, s *Store, id string) storage.RefreshRotation {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	if err := s.CreateClient(ctx, storage.Client{ID: "client-1", CreatedAt: now, UpdatedAt: now}); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatal(err)
	}
	if err := s.CreateUser(ctx, storage.User{ID: "user-1", Username: "alice", PasswordHash: "x", CreatedAt: now, UpdatedAt: now}); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatal(err)
	}
	f := storage.RefreshFamily{ID: id, ClientID: "client-1", Subject: "user-1", CreatedAt: now,
		ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour), FamilyDigest: []byte("f"),
		TokenDigest: []byte("t-1"), Generation: 1}
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, f))
	return storage.RefreshRotation{FamilyID: id, Generation: 1, TokenDigest: []byte("t-1"), NextDigest: []byte("t-2"),
		IdleExpiresAt: now.Add(time.Hour), Now: now}
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// A transaction whose context is cancelled between statements is rolled
// back: the family it revoked is live again and can be rotated by the next
// request, and Rollback afterwards is safe.
func TestCancelledContextRollsBack(t *testing.T) {
	s := newStore(t)
	bg := t.Context()
	rot := family(t, s, "fam-1")

	ctx, cancel := context.WithCancel(bg)
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "RevokeRefreshFamily(tx)", s.RevokeRefreshFamily(txCtx, "fam-1", storage.RevokedByClient, time.Now()))
	f2 := storage.RefreshFamily{ID: "fam-2", ClientID: "client-1", Subject: "user-1", ExpiresAt: time.Now().Add(time.Hour)}
	mustNil(t, "CreateRefreshFamily(tx)", s.CreateRefreshFamily(txCtx, f2))
	cancel()

	// The rotation waits for the abandoned transaction's row lock, which
	// the rollback releases.
	rotateCtx, cancelRotate := context.WithTimeout(bg, 10*time.Second)
	defer cancelRotate()
	mustNil(t, "RotateRefreshFamily(after cancel)", s.RotateRefreshFamily(rotateCtx, rot))
	if _, _, err := s.GetRefreshFamily(bg, "fam-2"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetRefreshFamily(family created in cancelled tx) = %v; want ErrNotFound", err)
	}
	if err := s.Rollback(txCtx); err != nil {
		t.Fatalf("Rollback(after cancel) = %v; want nil", err)
	}
	if err := s.Commit(txCtx); err == nil {
		t.Fatal("Commit(after cancel) = nil; want an error")
	}
	if err := s.RevokeRefreshFamily(txCtx, "fam-1", storage.RevokedByClient, time.Now()); err == nil {
		t.Fatal("RevokeRefreshFamily(ended tx) = nil; want an error")
	}
}

// A transaction whose context is cancelled while a statement waits is
// rolled back too, and the error is the cancellation, not ErrUnavailable.
func TestCancelledContextMidStatementRollsBack(t *testing.T) {
	s := newStore(t)
	bg := t.Context()
	rot1 := family(t, s, "fam-1")
	family(t, s, "fam-2")

	holder, err := s.BeginTX(bg)
	mustNil(t, "BeginTX(holder)", err)
	mustNil(t, "RevokeRefreshFamily(holder)", s.RevokeRefreshFamily(holder, "fam-1", storage.RevokedByClient, time.Now()))

	ctx, cancel := context.WithCancel(bg)
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "RevokeRefreshFamily(fam-2)", s.RevokeRefreshFamily(txCtx, "fam-2", storage.RevokedByClient, time.Now()))
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err = s.RotateRefreshFamily(txCtx, rot1) // blocks on holder's row lock
	if !errors.Is(err, context.Canceled) || errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("RotateRefreshFamily(cancelled while waiting) = %v; want context.Canceled", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("cancelled statement returned after %v", d)
	}
	mustNil(t, "Rollback(holder)", s.Rollback(holder))
	mustNil(t, "Rollback(cancelled)", s.Rollback(txCtx))
	got, _, err := s.GetRefreshFamily(bg, "fam-2")
	mustNil(t, "GetRefreshFamily", err)
	if !got.RevokedAt.IsZero() {
		t.Fatal("revocation in the cancelled transaction was kept")
	}
	mustNil(t, "RotateRefreshFamily(fam-1 after)", s.RotateRefreshFamily(bg, rot1))
}

// A failed UpdateUser inside a transaction (a unique violation) leaves the
// transaction usable: it ran in a savepoint.
func TestUpdateInTransactionFailsAlone(t *testing.T) {
	s := newStore(t)
	bg := t.Context()
	now := time.Now().UTC()
	for _, u := range []storage.User{
		{ID: "u1", Username: "alice", PasswordHash: "x", CreatedAt: now, UpdatedAt: now},
		{ID: "u2", Username: "bob", PasswordHash: "x", CreatedAt: now, UpdatedAt: now},
	} {
		mustNil(t, "CreateUser", s.CreateUser(bg, u))
	}
	txCtx, err := s.BeginTX(bg)
	mustNil(t, "BeginTX", err)
	err = s.UpdateUser(txCtx, "u2", func(u storage.User) (storage.User, error) {
		u.Username = "alice"
		return u, nil
	})
	if !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("UpdateUser(rename to taken) = %v; want ErrAlreadyExists", err)
	}
	mustNil(t, "Deny(tx)", s.Deny(txCtx, "jti-1", now.Add(time.Minute)))
	mustNil(t, "Commit", s.Commit(txCtx))
	if d, err := s.Denied(bg, now, "jti-1"); err != nil || !d {
		t.Fatalf("Denied after commit = %v, %v; want true", d, err)
	}
}

// With the database down, a request fails promptly with ErrUnavailable;
// when it is back, the same store serves again. No error or log line
// carries the URL's password.
func TestUnavailable(t *testing.T) {
	const password = "pw-hunter2-Zq9"
	cluster := pgtest.NewCluster(t)
	u, err := url.Parse(cluster.URL(t))
	mustNil(t, "parse URL", err)
	u.User = url.UserPassword("postgres", password) // the cluster trusts local users
	var logs syncBuffer
	s := openURL(t, u.String(), Options{
		ConnectTimeout: time.Second,
		Logger:         slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})
	bg := t.Context()
	_, err = Migrate(bg, s)
	mustNil(t, "Migrate", err)
	now := time.Now().UTC()
	mustNil(t, "CreateClient", s.CreateClient(bg, storage.Client{ID: "c1", CreatedAt: now, UpdatedAt: now}))
	rot := family(t, s, "fam-1")
	openTx, err := s.BeginTX(bg)
	mustNil(t, "BeginTX", err)

	mustNil(t, "Stop", cluster.Stop())
	checkUnavailable := func(what string, err error, start time.Time) {
		t.Helper()
		if !errors.Is(err, storage.ErrUnavailable) {
			t.Errorf("%s with the database down = %v; want ErrUnavailable", what, err)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s with the database down took %v", what, d)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("%s error contains the password: %v", what, err)
		}
		t.Logf("%s: %v", what, err)
	}
	for _, call := range []struct {
		name string
		fn   func(ctx context.Context) error
	}{
		{"RotateRefreshFamily(open tx)", func(ctx context.Context) error {
			return s.RotateRefreshFamily(openTx, rot)
		}},
		{"GetClient", func(ctx context.Context) error { _, err := s.GetClient(ctx, "c1"); return err }},
		{"Ping", s.Ping},
		{"BeginTX", func(ctx context.Context) error { _, err := s.BeginTX(ctx); return err }},
		{"CheckSchema", s.CheckSchema},
	} {
		ctx, cancel := context.WithTimeout(bg, 2*time.Second)
		start := time.Now()
		checkUnavailable(call.name, call.fn(ctx), start)
		cancel()
	}
	if err := s.Rollback(openTx); err != nil {
		t.Errorf("Rollback(tx of a stopped server) = %v; want nil", err)
	}
	start := time.Now()
	_, err = Open(bg, u.String(), Options{ConnectTimeout: time.Second})
	checkUnavailable("Open", err, start)

	mustNil(t, "Start", cluster.Start())
	c, err := s.GetClient(bg, "c1")
	if err != nil || c.ID != "c1" {
		t.Fatalf("GetClient after restart = %+v, %v; want client c1", c, err)
	}
	mustNil(t, "Ping after restart", s.Ping(bg))
	mustNil(t, "RotateRefreshFamily after restart", s.RotateRefreshFamily(bg, rot))
	if strings.Contains(logs.String(), password) {
		t.Errorf("log contains the password:\n%s", logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the store's concurrent log calls.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestOpenErrorsHidePassword(t *testing.T) {
	const password = "s3cr3t-Pa55"
	dir := t.TempDir() // no server listens here
	for _, url := range []string{
		"postgres://gatehouse:" + password + "@/gatehouse?host=" + dir,
		"postgres://gatehouse:" + password + "@localhost:notaport/gatehouse",
		"postgresql://gatehouse:" + password + "@[::1/gatehouse",
		"postgres://gatehouse@/gatehouse?password=" + password + "&host=" + dir,
		"host=" + dir + " user=gatehouse password=" + password + " dbname=gatehouse",
		"host=" + dir + " user=gatehouse password='" + password + "' dbname=gatehouse",
		"host=" + dir + " user=gatehouse password='" + password,
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		s, err := Open(ctx, url, Options{ConnectTimeout: time.Second})
		cancel()
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) = nil error; want one", RedactURL(url))
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("Open(%q) error contains the password: %v", RedactURL(url), err)
		}
		t.Logf("Open(%q): %v", RedactURL(url), err)
		if strings.Contains(RedactURL(url), password) {
			t.Errorf("RedactURL(%q) keeps the password", RedactURL(url))
		}
	}
}

func TestRedactURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:secret@db:5432/gh?sslmode=require", "postgres://u:xxxxx@db:5432/gh?sslmode=require"},
		{"postgres://u@db/gh", "postgres://u@db/gh"},
		{"postgres://db/gh", "postgres://db/gh"},
		{"postgres://u:p%40ss@db/gh", "postgres://u:xxxxx@db/gh"},
		{"postgres://u@db/gh?password=secret", "postgres://u@db/gh?password=xxxxx"},
		{"postgres://u:sec@ret@db/gh", "postgres://u:xxxxx@db/gh"},
		{"postgres://u:secret@h1:5432,h2:5432/gh", "postgres://u:xxxxx@h1:5432,h2:5432/gh"},
		{"postgres://u:secret@h1:5432,h2/gh?sslpassword=k", "postgres://u:xxxxx@h1:5432,h2/gh?sslpassword=xxxxx"},
		{"host=db user=u password=secret dbname=gh", "host=db user=u password=xxxxx dbname=gh"},
		{"host=db password='se cret' dbname=gh", "host=db password=xxxxx dbname=gh"},
		{"host=db dbname=gh", "host=db dbname=gh"},
	} {
		if got := RedactURL(tc.in); got != tc.want {
			t.Errorf("RedactURL(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// A statement over StatementTimeout is cancelled by the server and
// reported as ErrUnavailable.
func TestStatementTimeout(t *testing.T) {
	s := openURL(t, pgtest.URL(t), Options{StatementTimeout: 100 * time.Millisecond})
	start := time.Now()
	_, err := s.pool.Exec(t.Context(), "SELECT pg_sleep(5)")
	if sqlState(err) != "57014" {
		t.Fatalf("pg_sleep(5) with a 100ms statement timeout = %v; want SQLSTATE 57014", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("statement timeout took %v", d)
	}
	if err := s.wrap(err, "sleep"); !errors.Is(err, storage.ErrUnavailable) {
		t.Fatalf("wrap(statement timeout) = %v; want ErrUnavailable", err)
	}
	mustNil(t, "Ping after timeout", s.Ping(t.Context()))
}

// TestWholeRowStatements: the derived statements write every column in the
// order of the list, the first one as the key.
func TestWholeRowStatements(t *testing.T) {
	cols := `id, name,
		roles`
	if got, want := insertSQL("t", cols), "INSERT INTO t (id, name, roles) VALUES ($1, $2, $3)"; got != want {
		t.Errorf("insertSQL = %q; want %q", got, want)
	}
	if got, want := updateSQL("t", cols), "UPDATE t SET name = $2, roles = $3 WHERE id = $1"; got != want {
		t.Errorf("updateSQL = %q; want %q", got, want)
	}
}
