// Package postgres is Gatehouse's production store: storage.Store on a
// pgx/v5 connection pool, so that every instance shares clients, users,
// refresh-token families, the deny list, signing keys, login-attempt
// counters, authorization codes and login sessions (design D10).
//
// It owns the SQL behind the storage contract, the mapping of database
// errors onto the contract's sentinels (no rows is storage.ErrNotFound, a
// unique violation storage.ErrAlreadyExists, a database that cannot be
// reached storage.ErrUnavailable), transactions that travel in the context
// (fosite's storage.Transactional), and applying the embedded SQL files of
// package migrations (Migrate, MigrationStatus, CheckSchema). It does not own
// the schema files themselves (package migrations), hashing or token
// formats (package oauth), or key handling (package keys).
//
// The database URL carries a password; it never appears in an error or a
// log line from this package, and RedactURL masks it for callers.
//
// Tests use the helper package pgtest, which gives each test a fresh
// database on a throwaway PostgreSQL cluster.
package postgres
