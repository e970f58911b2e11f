package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse/gatehouse/storage"
)

// wrap maps a database error onto the storage contract's sentinels and
// prefixes op, which says what failed ("get client \"c1\"").
func (s *Store) wrap(err error, op string) error {
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	case sqlState(err) == "23505": // unique_violation
		return fmt.Errorf("%s: %w: %w", op, storage.ErrAlreadyExists, err)
	case unavailable(err):
		s.lost(err)
		return fmt.Errorf("%s: %w: %w", op, storage.ErrUnavailable, err)
	default:
		return fmt.Errorf("%s: %w", op, err)
	}
}

// lost drops every pooled connection when err says the server went away,
// so that the first request after it comes back does not meet a dead
// connection. Connections in use are closed when they are released.
func (s *Store) lost(err error) {
	if connectionLost(err) {
		s.pool.Reset()
	}
}

func sqlState(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// unavailable reports whether err means the database cannot serve requests
// now: it cannot be reached, it is shutting down or starting up, it refused
// the connection, or it did not answer in time.
func unavailable(err error) bool {
	if connectionLost(err) {
		return true
	}
	var netErr net.Error
	if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || errors.As(err, &netErr) && netErr.Timeout() {
		return true
	}
	switch code := sqlState(err); {
	case code == "57014": // query_canceled, e.g. by statement_timeout
		return true
	case code == "53300": // too_many_connections
		return true
	}
	return false
}

// connectionLost reports whether err means the connection, or the server
// behind it, is gone.
func connectionLost(err error) bool {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	switch code := sqlState(err); {
	case strings.HasPrefix(code, "08"): // connection_exception
		return true
	case code == "57P01", code == "57P02", code == "57P03": // admin_shutdown, crash_shutdown, cannot_connect_now
		return true
	case code != "":
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) && !netErr.Timeout() {
		return true
	}
	return errors.Is(err, pgconn.ErrConnClosed) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

const redacted = "xxxxx"

var (
	// Keyword/value connection strings: password='...' or password=...
	kvPassword = regexp.MustCompile(`((?:ssl)?password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s]*)`)
	// URL query parameters password=... and sslpassword=...
	queryPassword = regexp.MustCompile(`(?i)([?&](?:ssl)?password=)[^&#]*`)
)

// RedactURL returns the database URL or keyword/value connection string
// with every password replaced by "xxxxx", for logs and error messages. An
// unparsable URL is masked from the first ':' of its user information to its
// last '@', which may hide more than the password but never less.
func RedactURL(raw string) string {
	scheme, rest, isURL := strings.Cut(raw, "://")
	if !isURL {
		return kvPassword.ReplaceAllString(raw, "${1}"+redacted)
	}
	if u, err := url.Parse(raw); err == nil {
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), redacted)
		}
		q, changed := u.Query(), false
		for k := range q {
			if strings.EqualFold(k, "password") || strings.EqualFold(k, "sslpassword") {
				q[k] = []string{redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = q.Encode()
		}
		return u.String()
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":" + redacted + rest[at:]
		}
	}
	return queryPassword.ReplaceAllString(scheme+"://"+rest, "${1}"+redacted)
}

// urlSecrets returns the passwords in a database URL or connection string,
// in every spelling an error message might quote.
func urlSecrets(raw string) []string {
	var out []string
	add := func(s string) {
		if s != "" && s != redacted {
			out = append(out, s)
			if dec, err := url.PathUnescape(s); err == nil && dec != s {
				out = append(out, dec)
			}
		}
	}
	if _, rest, isURL := strings.Cut(raw, "://"); isURL {
		if u, err := url.Parse(raw); err == nil {
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			if _, p, ok := strings.Cut(rest[:at], ":"); ok {
				add(p)
			}
		}
		for _, m := range queryPassword.FindAllString(raw, -1) {
			_, p, _ := strings.Cut(m, "=")
			add(p)
		}
		return out
	}
	for _, m := range kvPassword.FindAllStringSubmatch(raw, -1) {
		add(m[2])
		add(strings.Trim(m[2], "'"))
	}
	return out
}

// scrub returns err with every secret masked in its message; errors.Is and
// errors.As still see the original chain.
func scrub(err error, secrets ...string) error {
	msg := err.Error()
	changed := false
	for _, s := range secrets {
		if s != "" && strings.Contains(msg, s) {
			msg = strings.ReplaceAll(msg, s, redacted)
			changed = true
		}
	}
	if !changed {
		return err
	}
	return &scrubbedError{msg: msg, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
