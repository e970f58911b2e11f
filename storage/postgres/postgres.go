package postgres

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse/gatehouse/migrations"
	"github.com/gatehouse/gatehouse/storage"
)

var _ storage.Store = (*Store)(nil)

// Options tunes a Store. The zero value is usable.
type Options struct {
	// MaxConns caps the connection pool. Zero keeps the URL's
	// pool_max_conns or pgx's default (the larger of 4 and the CPU count).
	MaxConns int32
	// ConnectTimeout bounds opening one connection, including a connection
	// the pool opens while a request waits. Zero keeps the URL's
	// connect_timeout, or 5 seconds when the URL has none.
	ConnectTimeout time.Duration
	// StatementTimeout is sent as the server's statement_timeout for every
	// connection, so that no statement runs longer. Zero keeps the server's
	// setting. Requests are bounded by their context's deadline as well.
	StatementTimeout time.Duration
	// Logger receives the store's few log lines; nil discards them.
	Logger *slog.Logger
}

const (
	defaultConnectTimeout = 5 * time.Second
	// rollbackTimeout bounds a rollback sent after the request's context
	// is done.
	rollbackTimeout = 5 * time.Second
)

// Store is a storage.Store on PostgreSQL. Its methods are safe for
// concurrent use; a transaction context must be used by one goroutine at a
// time.
type Store struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// migrations is the set of schema files Migrate applies; tests swap it.
	migrations fs.FS
}

// DefaultMaxConns is the pool size when neither Options.MaxConns nor the
// URL's pool_max_conns sets one: 8 per CPU, between 16 and 64. pgx's own
// default (the CPU count, at least 4) held a refresh, two short statements,
// to 3,700/s at 64 concurrent requests on two cores, waiting for a
// connection while PostgreSQL idled; 16 gave 4,700/s, more gave less.
func DefaultMaxConns() int32 {
	return int32(min(max(8*runtime.NumCPU(), 16), 64))
}

// Open connects to the database at url (a postgres:// URL or a keyword/value
// connection string) and checks that it answers. It does not check the
// schema; call CheckSchema for that, or Migrate to bring it up to date.
// An unreachable database is an error that matches storage.ErrUnavailable.
// Errors never contain the URL's password.
func Open(ctx context.Context, url string, opts Options) (*Store, error) {
	secrets := urlSecrets(url)
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, scrub(fmt.Errorf("open postgres store: parse database URL: %w", err), secrets...)
	}
	secrets = append(secrets, cfg.ConnConfig.Password)
	switch {
	case opts.MaxConns > 0:
		cfg.MaxConns = opts.MaxConns
	case !strings.Contains(url, "pool_max_conns"):
		cfg.MaxConns = DefaultMaxConns()
	}
	switch {
	case opts.ConnectTimeout > 0:
		cfg.ConnConfig.ConnectTimeout = opts.ConnectTimeout
	case cfg.ConnConfig.ConnectTimeout == 0:
		cfg.ConnConfig.ConnectTimeout = defaultConnectTimeout
	}
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if _, ok := cfg.ConnConfig.RuntimeParams["application_name"]; !ok {
		cfg.ConnConfig.RuntimeParams["application_name"] = "gatehouse"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, scrub(fmt.Errorf("open postgres store: %w", err), secrets...)
	}
	s := &Store{pool: pool, log: log, migrations: migrations.FS}
	if err := s.Ping(ctx); err != nil {
		pool.Close()
		return nil, scrub(fmt.Errorf("open postgres store: %w", err), secrets...)
	}
	log.Debug("postgres store open", "host", cfg.ConnConfig.Host, "database", cfg.ConnConfig.Database,
		"max_conns", cfg.MaxConns)
	return s, nil
}

// PoolStat returns the connection pool's statistics, for metrics.
func (s *Store) PoolStat() *pgxpool.Stat { return s.pool.Stat() }

// Ping reports whether the database answers.
func (s *Store) Ping(ctx context.Context) error {
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("ping: %w", err)
	}
	defer release()
	if _, err := q.Exec(ctx, "SELECT 1"); err != nil {
		return s.wrap(err, "ping")
	}
	return nil
}

// Close closes every connection. Requests still running fail.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// querier is what the store's methods need from a connection: a pooled
// connection outside a transaction, the pgx.Tx inside one.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	// Begin starts a transaction, or a savepoint inside one.
	Begin(ctx context.Context) (pgx.Tx, error)
}

type txKey struct{}

type txStatus int

const (
	txOpen txStatus = iota
	txCommitted
	txRolledBack
	// txAbandoned: the context was done before Commit or Rollback, and
	// the store rolled the transaction back.
	txAbandoned
)

// txState is the transaction a context carries. mu serialises use of the
// one connection underneath: pgx connections are not safe for concurrent
// use, and the rollback on context cancellation runs on its own goroutine.
type txState struct {
	mu     sync.Mutex
	tx     pgx.Tx
	status txStatus
	stop   func() bool
}

var errTxEnded = errors.New("postgres: transaction already ended")

// BeginTX starts a transaction carried by the returned context; the store's
// methods called with that context run inside it. If ctx is done before
// Commit or Rollback, the transaction is rolled back and its connection
// returned to the pool.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*txState); ok {
		return nil, errors.New("postgres: begin transaction: the context already carries one")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, s.wrap(err, "begin transaction")
	}
	st := &txState{tx: tx}
	st.stop = context.AfterFunc(ctx, func() { s.abandon(ctx, st) })
	return context.WithValue(ctx, txKey{}, st), nil
}

// abandon rolls back a transaction whose context is done.
func (s *Store) abandon(ctx context.Context, st *txState) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.status != txOpen {
		return
	}
	st.status = txAbandoned
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	// When a statement was interrupted, pgx has already closed the
	// connection and the server has rolled back; the error says only that.
	if err := st.tx.Rollback(rctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		s.log.Debug("postgres: rollback of abandoned transaction", "err", err)
	}
}

func txFrom(ctx context.Context) (*txState, error) {
	st, ok := ctx.Value(txKey{}).(*txState)
	if !ok {
		return nil, errors.New("postgres: no transaction in context")
	}
	return st, nil
}

// Commit commits the context's transaction. A transaction whose context was
// done first was rolled back, and Commit reports that.
func (s *Store) Commit(ctx context.Context) error {
	st, err := txFrom(ctx)
	if err != nil {
		return err
	}
	st.stop()
	st.mu.Lock()
	defer st.mu.Unlock()
	switch st.status {
	case txOpen:
	case txAbandoned:
		return fmt.Errorf("commit: transaction rolled back: %w", context.Cause(ctx))
	default:
		return fmt.Errorf("commit: %w", errTxEnded)
	}
	st.status = txCommitted
	if err := st.tx.Commit(ctx); err != nil {
		return s.wrap(err, "commit")
	}
	return nil
}

// Rollback rolls back the context's transaction. It is safe to call after
// the context is done (the transaction was then already rolled back, and
// Rollback returns nil); after Commit or Rollback it is an error.
func (s *Store) Rollback(ctx context.Context) error {
	st, err := txFrom(ctx)
	if err != nil {
		return err
	}
	st.stop()
	st.mu.Lock()
	defer st.mu.Unlock()
	switch st.status {
	case txOpen:
	case txAbandoned:
		return nil
	default:
		return fmt.Errorf("rollback: %w", errTxEnded)
	}
	st.status = txRolledBack
	// The rollback is sent even when ctx is done, so that the connection
	// goes back to the pool clean.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	if err := st.tx.Rollback(rctx); err != nil {
		// pgx closed the connection, so the server rolled back.
		s.log.Debug("postgres: rollback closed the connection", "err", err)
	}
	return nil
}

// conn returns the context's transaction, locked until release, or a
// connection from the pool. Failing to get a connection is
// storage.ErrUnavailable unless the caller cancelled.
func (s *Store) conn(ctx context.Context) (q querier, release func(), err error) {
	if st, ok := ctx.Value(txKey{}).(*txState); ok {
		st.mu.Lock()
		switch st.status {
		case txOpen:
			return st.tx, st.mu.Unlock, nil
		case txAbandoned:
			st.mu.Unlock()
			return nil, nil, fmt.Errorf("transaction rolled back: %w", context.Cause(ctx))
		default:
			st.mu.Unlock()
			return nil, nil, errTxEnded
		}
	}
	c, err := s.pool.Acquire(ctx)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, nil, fmt.Errorf("acquire connection: %w", err)
		}
		s.lost(err)
		return nil, nil, fmt.Errorf("acquire connection: %w: %w", storage.ErrUnavailable, err)
	}
	return c, c.Release, nil
}

// execOne runs a statement that must change at least one row; none is
// storage.ErrNotFound.
func (s *Store) execOne(ctx context.Context, op, sql string, args ...any) error {
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, sql, args...)
	if err != nil {
		return s.wrap(err, op)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// updateLocked reads one row with FOR UPDATE, applies fn, and writes the
// result back with write, in a transaction of its own (a savepoint inside
// the context's transaction), so concurrent updates never lose each
// other's changes. fn must not use the store with ctx.
func updateLocked[T any](ctx context.Context, s *Store, op, selectSQL, id string,
	scan func(pgx.Row) (T, error), fn func(T) (T, error), write func(pgx.Tx, T) error) error {
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		old, err := scan(tx.QueryRow(ctx, selectSQL+` FOR UPDATE`, id))
		if err != nil {
			return s.wrap(err, op)
		}
		v, err := fn(old)
		if err != nil {
			return err
		}
		if err := write(tx, v); err != nil {
			return s.wrap(err, op)
		}
		return nil
	})
}

// inOwnTx runs fn in a transaction of its own (a savepoint inside the
// context's transaction, if there is one) and commits it when fn succeeds.
// fn wraps its own errors.
func (s *Store) inOwnTx(ctx context.Context, op string, fn func(tx pgx.Tx) error) error {
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tx, err := q.Begin(ctx)
	if err != nil {
		return s.wrap(err, op)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// getOne runs a query for one row and scans it; no row is
// storage.ErrNotFound (wrap).
func getOne[T any](ctx context.Context, s *Store, op, sql string, scan func(pgx.Row) (T, error), args ...any) (T, error) {
	var zero T
	q, release, err := s.conn(ctx)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	v, err := scan(q.QueryRow(ctx, sql, args...))
	if err != nil {
		return zero, s.wrap(err, op)
	}
	return v, nil
}

// queryAll runs a query and scans every row.
func queryAll[T any](ctx context.Context, s *Store, op, sql string, scan func(pgx.Row) (T, error)) ([]T, error) {
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, sql)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return out, nil
}
