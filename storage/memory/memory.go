package memory

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
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
	usernames map[string]string // username -> user id
	refresh   map[string]storage.RefreshToken
	denied    map[string]time.Time
	// signingKeys holds the signing keys by kid (keys.go).
	signingKeys map[string]storage.SigningKey
	// attempts holds login-attempt counters (attempts.go), under their
	// own lock.
	attempts attempts
}

// New returns an empty store.
func New() *Store {
	return &Store{
		clients:   map[string]storage.Client{},
		users:     map[string]storage.User{},
		usernames: map[string]string{},
		refresh:   map[string]storage.RefreshToken{},
		denied:    map[string]time.Time{},

		signingKeys: map[string]storage.SigningKey{},
	}
}

type txKey struct{}

type tx struct {
	mu   sync.Mutex
	undo []func()
	done bool
}

// BeginTX starts a transaction carried by the returned context.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*tx); ok {
		return nil, errors.New("memory: transaction already open in context")
	}
	return context.WithValue(ctx, txKey{}, &tx{}), nil
}

// Commit ends the context's transaction, keeping its writes.
func (s *Store) Commit(ctx context.Context) error {
	t, err := openTx(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done, t.undo = true, nil
	return nil
}

// Rollback ends the context's transaction, undoing its writes.
func (s *Store) Rollback(ctx context.Context) error {
	t, err := openTx(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.done, t.undo = true, nil
	return nil
}

func openTx(ctx context.Context) (*tx, error) {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return nil, errors.New("memory: no transaction in context")
	}
	if t.done {
		return nil, errors.New("memory: transaction already ended")
	}
	return t, nil
}

// record registers an undo step for the context's transaction, if any.
// Callers hold s.mu.
func record(ctx context.Context, undo func()) error {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errors.New("memory: transaction already ended")
	}
	t.undo = append(t.undo, undo)
	return nil
}

// setMap writes m[k] = v and records how to restore the previous state.
func setMap[K comparable, V any](ctx context.Context, m map[K]V, k K, v V) error {
	old, had := m[k]
	if err := record(ctx, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	}); err != nil {
		return err
	}
	m[k] = v
	return nil
}

func deleteMap[K comparable, V any](ctx context.Context, m map[K]V, k K) error {
	old, had := m[k]
	if !had {
		return nil
	}
	if err := record(ctx, func() { m[k] = old }); err != nil {
		return err
	}
	delete(m, k)
	return nil
}

// Ping always succeeds.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing.
func (s *Store) Close() error { return nil }

func cloneClient(c storage.Client) storage.Client {
	c.SecretHash = slices.Clone(c.SecretHash)
	c.PreviousSecretHash = slices.Clone(c.PreviousSecretHash)
	c.GrantTypes = slices.Clone(c.GrantTypes)
	c.Scopes = slices.Clone(c.Scopes)
	c.Audiences = slices.Clone(c.Audiences)
	c.Roles = slices.Clone(c.Roles)
	c.Claims = maps.Clone(c.Claims)
	return c
}

func cloneUser(u storage.User) storage.User {
	u.Roles = slices.Clone(u.Roles)
	return u
}

// GetClient returns the client with the given id.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return storage.Client{}, fmt.Errorf("get client %q: %w", id, storage.ErrNotFound)
	}
	return cloneClient(c), nil
}

// CreateClient stores a new client; its id and name must be unused.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("create client %q: %w", c.ID, storage.ErrAlreadyExists)
	}
	if c.Name != "" {
		for _, o := range s.clients {
			if o.Name == c.Name {
				return fmt.Errorf("create client name %q: %w", c.Name, storage.ErrAlreadyExists)
			}
		}
	}
	return setMap(ctx, s.clients, c.ID, cloneClient(c))
}

// UpdateClient applies fn to the stored client under the store's lock.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[id]
	if !ok {
		return fmt.Errorf("update client %q: %w", id, storage.ErrNotFound)
	}
	c, err := fn(cloneClient(old))
	if err != nil {
		return err
	}
	c.ID = id
	if c.Name != "" && c.Name != old.Name {
		for oid, o := range s.clients {
			if oid != id && o.Name == c.Name {
				return fmt.Errorf("update client name %q: %w", c.Name, storage.ErrAlreadyExists)
			}
		}
	}
	return setMap(ctx, s.clients, id, cloneClient(c))
}

// DeleteClient removes a client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("delete client %q: %w", id, storage.ErrNotFound)
	}
	return deleteMap(ctx, s.clients, id)
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]storage.Client, 0, len(s.clients))
	for _, c := range s.clients {
		out = append(out, cloneClient(c))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u, ok := s.users[id]
	if !ok {
		return storage.User{}, fmt.Errorf("get user %q: %w", id, storage.ErrNotFound)
	}
	return cloneUser(u), nil
}

// GetUserByUsername returns the user with exactly this username.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.usernames[username]
	if !ok {
		return storage.User{}, fmt.Errorf("get user by name: %w", storage.ErrNotFound)
	}
	return cloneUser(s.users[id]), nil
}

// CreateUser stores a new user; id and username must be unused.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[u.ID]; ok {
		return fmt.Errorf("create user %q: %w", u.ID, storage.ErrAlreadyExists)
	}
	if _, ok := s.usernames[u.Username]; ok {
		return fmt.Errorf("create user: username: %w", storage.ErrAlreadyExists)
	}
	if err := setMap(ctx, s.users, u.ID, cloneUser(u)); err != nil {
		return err
	}
	return setMap(ctx, s.usernames, u.Username, u.ID)
}

// UpdateUser applies fn to the stored user under the store's lock.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.users[id]
	if !ok {
		return fmt.Errorf("update user %q: %w", id, storage.ErrNotFound)
	}
	u, err := fn(cloneUser(old))
	if err != nil {
		return err
	}
	u.ID = id
	if u.Username != old.Username {
		if _, taken := s.usernames[u.Username]; taken {
			return fmt.Errorf("update user %q: username: %w", id, storage.ErrAlreadyExists)
		}
		if err := deleteMap(ctx, s.usernames, old.Username); err != nil {
			return err
		}
		if err := setMap(ctx, s.usernames, u.Username, id); err != nil {
			return err
		}
	}
	return setMap(ctx, s.users, id, cloneUser(u))
}

// DeleteUser removes a user.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("delete user %q: %w", id, storage.ErrNotFound)
	}
	if err := deleteMap(ctx, s.usernames, u.Username); err != nil {
		return err
	}
	return deleteMap(ctx, s.users, id)
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]storage.User, 0, len(s.users))
	for _, u := range s.users {
		out = append(out, cloneUser(u))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Username < out[j].Username })
	return out, nil
}

// CreateRefreshToken stores a refresh token; its signature must be unused.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.refresh[t.Signature]; ok {
		return fmt.Errorf("create refresh token: %w", storage.ErrAlreadyExists)
	}
	t.Request = slices.Clone(t.Request)
	return setMap(ctx, s.refresh, t.Signature, t)
}

// GetRefreshToken returns the token with this signature, active or not.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (storage.RefreshToken, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.refresh[signature]
	if !ok {
		return storage.RefreshToken{}, fmt.Errorf("get refresh token: %w", storage.ErrNotFound)
	}
	t.Request = slices.Clone(t.Request)
	return t, nil
}

// GetRefreshTokenAndUser returns the token and its subject's user, if any.
func (s *Store) GetRefreshTokenAndUser(ctx context.Context, signature string) (storage.RefreshToken, *storage.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	t, ok := s.refresh[signature]
	if !ok {
		return storage.RefreshToken{}, nil, fmt.Errorf("get refresh token: %w", storage.ErrNotFound)
	}
	t.Request = slices.Clone(t.Request)
	if u, ok := s.users[t.Subject]; ok {
		u = cloneUser(u)
		return t, &u, nil
	}
	return t, nil, nil
}

// RotateRefreshToken retires one active token of the family and stores
// its successor, both or neither.
func (s *Store) RotateRefreshToken(ctx context.Context, familyID, signature string, next storage.RefreshToken) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.refresh[signature]
	if !ok || !t.Active || t.FamilyID != familyID {
		return fmt.Errorf("rotate refresh token: %w", storage.ErrNotFound)
	}
	if _, taken := s.refresh[next.Signature]; taken {
		return fmt.Errorf("rotate refresh token: successor: %w", storage.ErrAlreadyExists)
	}
	t.Active = false
	if err := setMap(ctx, s.refresh, signature, t); err != nil {
		return err
	}
	next.Request = slices.Clone(next.Request)
	return setMap(ctx, s.refresh, next.Signature, next)
}

// RevokeRefreshFamily marks every token of the family inactive.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := false
	for sig, t := range s.refresh {
		if t.FamilyID != familyID {
			continue
		}
		found = true
		if t.Active {
			t.Active = false
			if err := setMap(ctx, s.refresh, sig, t); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("revoke refresh family: %w", storage.ErrNotFound)
	}
	return nil
}

// RevokeSubjectRefreshFamilies marks inactive every token whose subject or
// client is subject, and returns the affected family ids.
func (s *Store) RevokeSubjectRefreshFamilies(ctx context.Context, subject string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seen := map[string]bool{}
	var families []string
	for sig, t := range s.refresh {
		if t.Subject != subject && t.ClientID != subject {
			continue
		}
		if !seen[t.FamilyID] {
			seen[t.FamilyID] = true
			families = append(families, t.FamilyID)
		}
		if t.Active {
			t.Active = false
			if err := setMap(ctx, s.refresh, sig, t); err != nil {
				return nil, err
			}
		}
	}
	sort.Strings(families)
	return families, nil
}

// DeleteExpiredRefreshTokens deletes up to limit tokens expired before t.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for sig, t := range s.refresh {
		if n >= limit {
			break
		}
		if t.ExpiresAt.Before(before) {
			if err := deleteMap(ctx, s.refresh, sig); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// Deny puts id on the deny list until the given time.
func (s *Store) Deny(ctx context.Context, id string, until time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.denied[id]; ok && old.After(until) {
		return nil
	}
	return setMap(ctx, s.denied, id, until)
}

// Denied reports whether any of ids is denied at now.
func (s *Store) Denied(ctx context.Context, now time.Time, ids ...string) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, id := range ids {
		if until, ok := s.denied[id]; ok && until.After(now) {
			return true, nil
		}
	}
	return false, nil
}

// DeniedUntil returns the entries of ids that are on the list.
func (s *Store) DeniedUntil(ctx context.Context, ids ...string) (map[string]time.Time, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]time.Time{}
	for _, id := range ids {
		if until, ok := s.denied[id]; ok {
			out[id] = until
		}
	}
	return out, nil
}

// DeleteExpiredDenials deletes up to limit entries whose time passed.
func (s *Store) DeleteExpiredDenials(ctx context.Context, before time.Time, limit int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, until := range s.denied {
		if n >= limit {
			break
		}
		if !until.After(before) {
			if err := deleteMap(ctx, s.denied, id); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}
