package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// Schema mismatches that CheckSchema reports; test with errors.Is.
var (
	// ErrSchemaBehind: migrations of this binary are not applied yet.
	ErrSchemaBehind = errors.New("postgres: database schema is behind this binary")
	// ErrSchemaAhead: the database has migrations this binary does not
	// know, written by a newer Gatehouse.
	ErrSchemaAhead = errors.New("postgres: this binary is older than the database schema")
)

// migrationLockKey is the pg_advisory_xact_lock key that serialises
// migrators ("gatehous" in ASCII).
const migrationLockKey int64 = 0x6761746568_6f7573

// MigrationState is one migration as the binary and the database see it.
type MigrationState struct {
	Version int
	// Name is the file name, such as "0001_init.sql".
	Name      string
	Applied   bool
	AppliedAt time.Time
	// Unknown marks a migration recorded in the database that this binary
	// does not have.
	Unknown bool
}

type migration struct {
	version int
	name    string
	sql     string
}

var migrationName = regexp.MustCompile(`^([0-9]+)_[A-Za-z0-9_]+\.sql$`)

// loadMigrations reads the numbered SQL files of fsys, in version order.
func loadMigrations(fsys fs.FS) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []migration
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".sql") {
			continue
		}
		m := migrationName.FindStringSubmatch(e.Name())
		if m == nil {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", e.Name())
		}
		v, err := strconv.Atoi(m[1])
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: bad version %q", e.Name(), m[1])
		}
		b, err := fs.ReadFile(fsys, e.Name())
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", e.Name(), err)
		}
		out = append(out, migration{version: v, name: e.Name(), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// Migrate applies the pending migrations of package migrations in version
// order, each in its own transaction, records each in schema_migrations,
// and returns the names of the files it applied. Concurrent migrators, on
// any number of hosts, take turns on a transaction-scoped advisory lock, so
// each file is applied once. Errors name the file.
func Migrate(ctx context.Context, s *Store) (applied []string, err error) {
	return s.migrateTo(ctx, math.MaxInt)
}

// migrateTo applies pending migrations up to and including version.
func (s *Store) migrateTo(ctx context.Context, version int) ([]string, error) {
	all, err := loadMigrations(s.migrations)
	if err != nil {
		return nil, err
	}
	var applied []string
	for {
		name, err := s.applyNext(ctx, all, version)
		if err != nil {
			return applied, err
		}
		if name == "" {
			return applied, nil
		}
		s.log.Info("applied migration", "migration", name)
		applied = append(applied, name)
	}
}

// applyNext applies the first pending migration up to version in one
// transaction and returns its name, or "" when none is pending.
func (s *Store) applyNext(ctx context.Context, all []migration, version int) (string, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return "", s.wrap(err, "migrate: begin")
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return "", s.wrap(err, "migrate: lock")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    bigint      PRIMARY KEY,
		name       text        NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return "", s.wrap(err, "migrate: create schema_migrations")
	}
	done, err := appliedVersions(ctx, tx)
	if err != nil {
		return "", s.wrap(err, "migrate: read schema_migrations")
	}
	for _, m := range all {
		if m.version > version {
			break
		}
		if name, ok := done[m.version]; ok {
			if name != m.name {
				return "", fmt.Errorf("migrate: migration %s: version %d is recorded as %s", m.name, m.version, name)
			}
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return "", s.wrap(err, "migrate: apply "+m.name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`,
			m.version, m.name); err != nil {
			return "", s.wrap(err, "migrate: record "+m.name)
		}
		if err := tx.Commit(ctx); err != nil {
			return "", s.wrap(err, "migrate: commit "+m.name)
		}
		return m.name, nil
	}
	if err := tx.Commit(ctx); err != nil {
		return "", s.wrap(err, "migrate: commit")
	}
	return "", nil
}

type appliedRow struct {
	name string
	at   time.Time
}

func appliedVersions(ctx context.Context, q querier) (map[int]string, error) {
	rows, err := appliedRows(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(rows))
	for v, r := range rows {
		out[v] = r.name
	}
	return out, nil
}

func appliedRows(ctx context.Context, q querier) (map[int]appliedRow, error) {
	rows, err := q.Query(ctx, `SELECT version, name, applied_at FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	out := map[int]appliedRow{}
	var (
		v int
		r appliedRow
	)
	_, err = pgx.ForEachRow(rows, []any{&v, &r.name, &r.at}, func() error {
		out[v] = appliedRow{name: r.name, at: r.at.UTC()}
		return nil
	})
	return out, err
}

// schemaState returns the binary's migrations and the versions the
// database records (none when schema_migrations does not exist).
func (s *Store) schemaState(ctx context.Context) ([]migration, map[int]appliedRow, error) {
	all, err := loadMigrations(s.migrations)
	if err != nil {
		return nil, nil, err
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, nil, s.wrap(err, "find schema_migrations")
	}
	if !exists {
		return all, map[int]appliedRow{}, nil
	}
	applied, err := appliedRows(ctx, q)
	if err != nil {
		return nil, nil, s.wrap(err, "read schema_migrations")
	}
	return all, applied, nil
}

// MigrationStatus lists every migration this binary has and every one the
// database records, in version order.
func (s *Store) MigrationStatus(ctx context.Context) ([]MigrationState, error) {
	all, applied, err := s.schemaState(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	var out []MigrationState
	for _, m := range all {
		st := MigrationState{Version: m.version, Name: m.name}
		if r, ok := applied[m.version]; ok {
			st.Applied, st.AppliedAt = true, r.at
		}
		out = append(out, st)
	}
	for v, r := range applied {
		if !slices.ContainsFunc(all, func(m migration) bool { return m.version == v }) {
			out = append(out, MigrationState{Version: v, Name: r.name, Applied: true, AppliedAt: r.at, Unknown: true})
		}
	}
	slices.SortFunc(out, func(a, b MigrationState) int { return a.Version - b.Version })
	return out, nil
}

// CheckSchema reports whether the database schema is exactly the one this
// binary expects (design D8: serve refuses a schema it does not know). A
// database with migrations this binary lacks is ErrSchemaAhead; one missing
// migrations of this binary is ErrSchemaBehind. Both errors name the files.
func (s *Store) CheckSchema(ctx context.Context) error {
	all, applied, err := s.schemaState(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	var ahead, behind []string
	known := map[int]bool{}
	for _, m := range all {
		known[m.version] = true
		r, ok := applied[m.version]
		switch {
		case !ok:
			behind = append(behind, m.name)
		case r.name != m.name:
			return fmt.Errorf("check schema: migration %s: version %d is recorded as %s; migration files must not change once applied",
				m.name, m.version, r.name)
		}
	}
	for v, r := range applied {
		if !known[v] {
			ahead = append(ahead, r.name)
		}
	}
	slices.Sort(ahead)
	if len(ahead) > 0 {
		return fmt.Errorf("check schema: %w: the database has migration %s, which this binary does not know; upgrade Gatehouse",
			ErrSchemaAhead, strings.Join(ahead, ", "))
	}
	if len(behind) > 0 {
		return fmt.Errorf("check schema: %w: migration %s not applied; run `gatehouse migrate`",
			ErrSchemaBehind, strings.Join(behind, ", "))
	}
	return nil
}
