// Package memory is Gatehouse's embedded store: everything in one process's
// memory, lost on exit. It is the default when no database is configured,
// so that one command starts a working server, and it passes the same
// conformance suite (storage/storagetest) as the PostgreSQL store.
//
// A transaction is an undo log carried in the context: writes apply at once
// under the store's lock and are undone in reverse order on Rollback. That
// gives atomicity (a failed refresh leaves nothing behind), not isolation;
// conditional updates such as RotateRefreshToken give single-winner
// semantics under concurrency.
//
// Login-attempt counters live apart from the rest, under their own lock, in
// a least-recently-used cache of at most MaxAttemptCounters entries, so that
// a flood of distinct usernames cannot grow the process without bound.
package memory
