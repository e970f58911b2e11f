package pgtest_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func databaseOf(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

// Each URL is a fresh, empty database, and it is gone after the test.
func TestURL(t *testing.T) {
	var first string
	t.Run("fresh", func(t *testing.T) {
		a, b := pgtest.URL(t), pgtest.URL(t)
		if databaseOf(t, a) == databaseOf(t, b) {
			t.Fatalf("URL twice = %q and %q; want two databases", a, b)
		}
		conn, err := pgx.Connect(t.Context(), a)
		if err != nil {
			t.Fatalf("connect to %s: %v", a, err)
		}
		defer conn.Close(t.Context())
		var tables int
		if err := conn.QueryRow(t.Context(),
			`SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("new database has %d tables; want 0", tables)
		}
		first = a
	})
	// The subtest's cleanup dropped its databases.
	admin := pgtest.URL(t)
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(t.Context())
	var exists bool
	if err := conn.QueryRow(t.Context(), `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`,
		databaseOf(t, first)).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after its test ended", databaseOf(t, first))
	}
}
