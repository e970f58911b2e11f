package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneUser(u storage.User) storage.User {
	u.Roles = slices.Clone(u.Roles)
	return u
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
	if err := s.deleteUserLinks(ctx, id); err != nil {
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
