package storage

import (
	"context"
	"errors"
	"time"

	"github.com/ory/fosite"
)

// Sentinel errors. Stores wrap them with %w; callers test with errors.Is.
var (
	// ErrNotFound is fosite's own sentinel, so grant handlers map it to the
	// right RFC 6749 error (invalid_grant, invalid_client) unchanged.
	ErrNotFound = fosite.ErrNotFound
	// ErrInactiveToken reports a refresh token that was rotated or revoked;
	// fosite's refresh handler reacts to it by revoking the token's family
	// (RFC 9700 section 4.14.2).
	ErrInactiveToken = fosite.ErrInactiveToken
	// ErrAlreadyExists reports a unique key (id, username, client name,
	// token signature) that is taken.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrUnavailable reports that the backing database cannot be reached;
	// the HTTP layer answers 503 with Retry-After.
	ErrUnavailable = errors.New("storage: unavailable")
)

// Client is a registered OAuth 2.0 client (RFC 6749 section 2).
type Client struct {
	ID   string
	Name string
	// SecretHash is SHA-256 of the server-generated secret (design D4).
	SecretHash []byte
	// PreviousSecretHash keeps the old secret valid until
	// PreviousSecretExpiresAt after a rotation with a grace period.
	PreviousSecretHash      []byte
	PreviousSecretExpiresAt time.Time
	GrantTypes              []string
	Scopes                  []string
	Audiences               []string
	Roles                   []string
	// Claims are custom claims placed at the root of the client's access
	// tokens. They never shadow registered or Gatehouse claims.
	Claims map[string]any
	// TokenLifetime overrides the server's access-token lifetime when > 0.
	TokenLifetime time.Duration
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// User is a resource owner who may use the password grant.
type User struct {
	// ID is the stable subject identifier placed in "sub".
	ID string
	// Username is unique, compared after case folding and NFC
	// normalisation by the caller; stores compare it exactly.
	Username string
	// PasswordHash is an argon2id PHC string (design D5).
	PasswordHash string
	Roles        []string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// RefreshToken is one refresh token of a family. A family starts with a
// password grant and continues through every rotation; all its members share
// FamilyID (fosite's request id).
type RefreshToken struct {
	// Signature identifies the token; stores see only a digest, never the
	// token itself.
	Signature       string
	FamilyID        string
	ClientID        string
	Subject         string
	Active          bool
	RequestedAt     time.Time
	ExpiresAt       time.Time
	FamilyCreatedAt time.Time
	// Request is the serialised token request (scopes, audiences, session),
	// owned by package oauth and opaque to stores.
	Request []byte
}

// Transactor begins, commits and rolls back a transaction that travels in
// the returned context. Its method set is fosite's storage.Transactional.
type Transactor interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// ClientStore keeps OAuth clients.
type ClientStore interface {
	GetClient(ctx context.Context, id string) (Client, error)
	CreateClient(ctx context.Context, c Client) error
	// UpdateClient applies fn to the stored client atomically.
	UpdateClient(ctx context.Context, id string, fn func(Client) (Client, error)) error
	DeleteClient(ctx context.Context, id string) error
	ListClients(ctx context.Context) ([]Client, error)
}

// UserStore keeps users.
type UserStore interface {
	GetUser(ctx context.Context, id string) (User, error)
	GetUserByUsername(ctx context.Context, username string) (User, error)
	CreateUser(ctx context.Context, u User) error
	// UpdateUser applies fn to the stored user atomically.
	UpdateUser(ctx context.Context, id string, fn func(User) (User, error)) error
	DeleteUser(ctx context.Context, id string) error
	ListUsers(ctx context.Context) ([]User, error)
}

// RefreshTokenStore keeps refresh-token families (design D3).
type RefreshTokenStore interface {
	CreateRefreshToken(ctx context.Context, t RefreshToken) error
	// GetRefreshToken returns the token whether active or not; callers
	// check Active.
	GetRefreshToken(ctx context.Context, signature string) (RefreshToken, error)
	// GetRefreshTokenAndUser is GetRefreshToken plus, in the same read,
	// the user whose id is the token's subject; the user is nil when there
	// is none (a client's token, or a deleted user). A refresh needs both,
	// and one round trip instead of two.
	GetRefreshTokenAndUser(ctx context.Context, signature string) (RefreshToken, *User, error)
	// RotateRefreshToken atomically marks the active token with this
	// signature in the family inactive and stores next, its successor. If
	// no active token matches (another request rotated it first), it
	// returns ErrNotFound and stores nothing: exactly one concurrent caller
	// wins. It is one statement, so a refresh needs no multi-statement
	// transaction.
	RotateRefreshToken(ctx context.Context, familyID, signature string, next RefreshToken) error
	// RevokeRefreshFamily marks every token of the family inactive. A
	// family with no tokens is ErrNotFound.
	RevokeRefreshFamily(ctx context.Context, familyID string) error
	// RevokeRefreshFamilies marks inactive every token of every family of
	// the subject (a user id or client id) and returns the family ids.
	RevokeSubjectRefreshFamilies(ctx context.Context, subject string) ([]string, error)
	// DeleteExpiredRefreshTokens deletes up to limit tokens that expired
	// before t and returns how many it deleted.
	DeleteExpiredRefreshTokens(ctx context.Context, before time.Time, limit int) (int, error)
}

// DenyList holds revoked access-token identifiers (jti values and refresh
// family ids) until the tokens that carry them expire (design D2).
type DenyList interface {
	// Deny adds id until the given time; denying an id twice keeps the
	// later time.
	Deny(ctx context.Context, id string, until time.Time) error
	// Denied reports whether any of ids is denied at time now.
	Denied(ctx context.Context, now time.Time, ids ...string) (bool, error)
	// DeniedUntil returns, for each of ids on the list, the time its entry
	// lasts until (expired entries not yet deleted included). Callers that
	// deny "everything issued before T" store T plus a fixed span and
	// compare against it.
	DeniedUntil(ctx context.Context, ids ...string) (map[string]time.Time, error)
	// DeleteExpiredDenials deletes up to limit entries whose time passed.
	DeleteExpiredDenials(ctx context.Context, before time.Time, limit int) (int, error)
}

// Store is everything a Gatehouse server needs from its database.
type Store interface {
	Transactor
	ClientStore
	UserStore
	RefreshTokenStore
	DenyList
	KeyStore
	AttemptStore
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	Close() error
}
