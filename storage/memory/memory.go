package memory

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

var _ storage.Store = (*Store)(nil)

// Store is an in-memory storage.Store. The zero value is not usable; call New.
type Store struct {
	mu        sync.RWMutex
	clients   map[string]storage.Client
	users     map[string]storage.User
	usernames map[string]string                // username -> user id
	refresh   map[string]storage.RefreshFamily // by family id (refresh.go)
	denied    map[string]time.Time
	// signingKeys holds the signing keys by kid (keys.go).
	signingKeys map[string]storage.SigningKey
	// attempts holds login-attempt counters (attempts.go), under their
	// own lock.
	attempts attempts
	// codes holds authorization codes by digest (codes.go).
	codes map[string]storage.AuthorizationCode
	// sessions holds login sessions by id, sessionDigests their ids by
	// current digest (sessions.go).
	sessions       map[string]storage.LoginSession
	sessionDigests map[string]string
	// assertions holds used assertions' expiry by digest (assertions.go).
	assertions map[string]time.Time
	// connectors holds connectors by id, links identity links by
	// linkKey (connectors.go).
	connectors map[string]storage.Connector
	links      map[string]storage.IdentityLink
}

// New returns an empty store.
func New() *Store {
	return &Store{
		clients:   map[string]storage.Client{},
		users:     map[string]storage.User{},
		usernames: map[string]string{},
		refresh:   map[string]storage.RefreshFamily{},
		denied:    map[string]time.Time{},

		signingKeys: map[string]storage.SigningKey{},

		codes:          map[string]storage.AuthorizationCode{},
		sessions:       map[string]storage.LoginSession{},
		sessionDigests: map[string]string{},
		assertions:     map[string]time.Time{},
		connectors:     map[string]storage.Connector{},
		links:          map[string]storage.IdentityLink{},
	}
}

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing.
func (s *Store) Close() error { return nil }
