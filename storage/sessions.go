package storage

import (
	"context"
	"time"
)

// LoginSession is the hosted login page's session (design D13): the
// browser holds a random session id in a cookie, the store holds only its
// digest, so that every instance honours the session and a copy of the
// table logs nobody in.
type LoginSession struct {
	// ID names the session and stays the same when the cookie's id is
	// rotated; it is not secret (an ID token may carry it as "sid", OIDC
	// Front-Channel Logout 1.0 section 3).
	ID string
	// Digest is SHA-256 of the secret session id the cookie carries; it
	// changes at each rotation.
	Digest []byte
	// UserID is the id of the user who logged in.
	UserID string
	// AuthTime is when the user last authenticated (the ID token's
	// auth_time, OIDC Core 1.0 section 2).
	AuthTime time.Time
	// AMR lists the authentication methods used (the ID token's amr,
	// RFC 8176 values such as "pwd").
	AMR       []string
	CreatedAt time.Time
	// ExpiresAt is when the session ends; it is not returned after.
	ExpiresAt time.Time
}

// LoginSessionRotation gives a live session a new cookie id, for instance
// after the user authenticated again (session fixation: OWASP ASVS V3.2.1,
// a new session id at every authentication). It succeeds only when Digest
// is the session's current digest and the session has not expired at Now.
type LoginSessionRotation struct {
	Digest     []byte
	NextDigest []byte
	// AuthTime, AMR and ExpiresAt replace the session's.
	AuthTime  time.Time
	AMR       []string
	ExpiresAt time.Time
	Now       time.Time
}

// LoginSessionStore keeps login sessions (design D13).
type LoginSessionStore interface {
	// CreateLoginSession stores a new session; an id or digest in use is
	// ErrAlreadyExists.
	CreateLoginSession(ctx context.Context, s LoginSession) error
	// GetLoginSession returns the session whose current digest is digest
	// and that has not expired at now; any other digest is ErrNotFound.
	GetLoginSession(ctx context.Context, digest []byte, now time.Time) (LoginSession, error)
	// RotateLoginSession replaces a live session's digest (and auth time,
	// methods and expiry) in one atomic step, so the old cookie id stops
	// working the moment the new one works. A digest that is not a live
	// session's current one is ErrNotFound (of concurrent rotations of one
	// digest exactly one succeeds); a NextDigest in use is
	// ErrAlreadyExists.
	RotateLoginSession(ctx context.Context, r LoginSessionRotation) error
	// DeleteLoginSession ends the session whose current digest is digest
	// (logout: OIDC RP-Initiated Logout 1.0 section 2); an unknown digest
	// is ErrNotFound.
	DeleteLoginSession(ctx context.Context, digest []byte) error
	// DeleteUserLoginSessions ends every session of the user and returns
	// how many there were; disabling or deleting a user and setting a
	// password call it.
	DeleteUserLoginSessions(ctx context.Context, userID string) (int, error)
	// DeleteExpiredLoginSessions deletes up to limit sessions that expired
	// before before, and returns how many it deleted.
	DeleteExpiredLoginSessions(ctx context.Context, before time.Time, limit int) (int, error)
}
