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
	// RedirectURIs are the registered redirection endpoints (RFC 6749
	// section 3.1.2), matched as exact strings (RFC 9700 section 4.1.3),
	// except that a loopback http URI matches any port (RFC 8252
	// section 7.3).
	RedirectURIs []string
	// PostLogoutRedirectURIs are where RP-Initiated Logout may send the
	// browser back to (OIDC RP-Initiated Logout 1.0 section 3.1).
	PostLogoutRedirectURIs []string
	// WebOrigins are the origins (scheme://host[:port]) whose browser
	// scripts may call the token, userinfo and revocation endpoints (CORS).
	WebOrigins []string
	// Public marks a client that cannot keep a secret (RFC 6749 section
	// 2.1: a browser or native app): it has no secret, cannot
	// authenticate with one, and must use PKCE (RFC 7636).
	Public bool
	// ThirdParty marks a client the user is asked to consent to; a
	// first-party client skips the consent page.
	ThirdParty bool
	Disabled   bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
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
	// CredentialsVersion changes whenever the user's password is set or
	// the user is disabled; refresh families begun before cannot rotate.
	// A rehash on login keeps it.
	CredentialsVersion int64
	Roles              []string
	// Email, EmailVerified and Name are optional profile claims served by
	// userinfo and ID tokens (OIDC Core 1.0 section 5.1); empty when
	// unset.
	Email         string
	EmailVerified bool
	Name          string
	Disabled      bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Reasons a refresh family was revoked (RefreshFamily.RevokedReason).
const (
	// RevokedByClient: the client revoked a token of the family (RFC 7009).
	RevokedByClient = "revoked"
	// RevokedReuse: an older generation of the family was presented, or two
	// requests presented the current one at once (RFC 9700 section 4.14.2).
	RevokedReuse = "reuse"
	// RevokedSubject: the user or client was disabled or deleted, or the
	// user's password was set.
	RevokedSubject = "subject"
	// RevokedLogout: the user logged out of the login session that began
	// the family (OIDC RP-Initiated Logout 1.0).
	RevokedLogout = "logout"
)

// RefreshFamily is one refresh-token family (design D3): the grant a user
// login started and the one refresh token of it that is current. A family
// is one row however often it rotates; rotation and every revocation write
// that row, so a revocation that has committed can never be overtaken by a
// rotation.
type RefreshFamily struct {
	// ID names the family; refresh tokens carry it, and access tokens
	// carry it as "fid".
	ID       string
	ClientID string
	// Subject is the id of the user whose login started the family.
	Subject string
	// SubjectVersion is the user's CredentialsVersion when the family
	// began; once the user's version has moved on, the family cannot
	// rotate.
	SubjectVersion int64
	// Scopes and Audiences are the grant; a refresh can narrow an access
	// token but never the family.
	Scopes    []string
	Audiences []string
	CreatedAt time.Time
	// ExpiresAt is the absolute end; IdleExpiresAt moves forward with
	// each rotation and never passes ExpiresAt.
	ExpiresAt     time.Time
	IdleExpiresAt time.Time
	// FamilyDigest is SHA-256 of the secret every token of the family
	// carries: it proves that a presented old token is genuine.
	FamilyDigest []byte
	// TokenDigest is SHA-256 of the current token's own secret, and
	// Generation its number (1 for the token of the login).
	TokenDigest []byte
	Generation  int64
	// RevokedAt is zero while the family is live; RevokedReason is one of
	// the Revoked* constants.
	RevokedAt     time.Time
	RevokedReason string
	// Session is the rest of the token request, serialised and owned by
	// package oauth; stores keep it opaque.
	Session []byte
	// LoginSessionID is the LoginSession.ID of the login whose
	// authorization code began the family; empty for the password grant.
	LoginSessionID string
}

// RefreshRotation is a compare-and-swap of a family's current token: it
// succeeds only if Generation and TokenDigest are the family's current
// ones, the family is neither revoked nor expired at Now, its client is
// enabled, and its user is enabled with an unchanged CredentialsVersion.
type RefreshRotation struct {
	FamilyID    string
	Generation  int64
	TokenDigest []byte
	// NextDigest becomes the current token's digest, with Generation+1.
	NextDigest []byte
	// IdleExpiresAt is the new idle expiry; stores cap it at ExpiresAt.
	IdleExpiresAt time.Time
	Now           time.Time
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

// RefreshFamilyStore keeps refresh-token families (design D3): one row
// per live family, however often it rotates.
type RefreshFamilyStore interface {
	// CreateRefreshFamily stores a new family; its id must be unused.
	CreateRefreshFamily(ctx context.Context, f RefreshFamily) error
	// GetRefreshFamily returns the family, revoked or not, and, in the
	// same read, the user whose id is its subject (nil when deleted).
	GetRefreshFamily(ctx context.Context, id string) (RefreshFamily, *User, error)
	// RotateRefreshFamily applies r in one atomic step. When any of its
	// conditions fails it changes nothing and returns ErrNotFound, so of
	// concurrent rotations of one token exactly one wins, and none wins
	// after a revocation has committed.
	RotateRefreshFamily(ctx context.Context, r RefreshRotation) error
	// RevokeRefreshFamily marks the family revoked at time at for reason;
	// revoking a revoked family keeps the first time and reason. An
	// unknown family is ErrNotFound.
	RevokeRefreshFamily(ctx context.Context, id, reason string, at time.Time) error
	// RevokeSubjectRefreshFamilies revokes (reason RevokedSubject) every
	// live family whose subject or client is subject and returns their ids.
	RevokeSubjectRefreshFamilies(ctx context.Context, subject string, at time.Time) ([]string, error)
	// RevokeLoginSessionRefreshFamilies revokes (reason RevokedLogout)
	// every live family whose LoginSessionID is sessionID and returns
	// their ids: logout with the option to end the session's grants. An
	// empty sessionID revokes nothing.
	RevokeLoginSessionRefreshFamilies(ctx context.Context, sessionID string, at time.Time) ([]string, error)
	// DeleteDeadRefreshFamilies deletes up to limit families that expired
	// (absolutely or idle) before expiredBefore or were revoked before
	// revokedBefore, and returns how many it deleted.
	DeleteDeadRefreshFamilies(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error)
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
	RefreshFamilyStore
	DenyList
	KeyStore
	AttemptStore
	AuthorizationCodeStore
	LoginSessionStore
	AssertionStore
	ConnectorStore
	IdentityLinkStore
	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
	Close() error
}
