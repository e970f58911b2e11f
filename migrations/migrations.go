// Package migrations holds Gatehouse's PostgreSQL schema as numbered SQL
// files (0001_init.sql, 0002_signing_keys.sql, ...) embedded in the binary.
//
// It owns only the SQL. Applying the files, recording them in
// schema_migrations and checking that a database matches the binary is the
// job of storage/postgres (Migrate, MigrationStatus, CheckSchema).
//
// Rules for the files: the name is a four-digit version, an underscore, a
// lower-case name and ".sql"; versions start at 1 with no gaps; each file is
// applied in its own transaction; a file that has been applied anywhere is
// never edited, a change is a new file. Tables on the hot path (refresh
// tokens, deny list) get no sequences and no triggers (design D10).
package migrations

import "embed"

// FS holds every migration file, named NNNN_name.sql.
//
//go:embed *.sql
var FS embed.FS
