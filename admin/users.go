package admin

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

func userView(u storage.User) User {
	return User{
		ID:            u.ID,
		Username:      u.Username,
		Roles:         nonNil(u.Roles),
		Email:         u.Email,
		EmailVerified: u.EmailVerified,
		Name:          u.Name,
		Disabled:      u.Disabled,
		CreatedAt:     u.CreatedAt.UTC(),
		UpdatedAt:     u.UpdatedAt.UTC(),
	}
}

func usernameConflict(username string) error {
	return &ConflictError{Field: "username", Reason: fmt.Sprintf("username %q is taken", username)}
}

// hashPassword checks pw, or generates one when it is empty, and returns
// the hash and the generated password ("" when pw was given).
func (s *Service) hashPassword(ctx context.Context, pw string) (hash, generated string, err error) {
	if pw == "" {
		pw = generatePassword()
		generated = pw
	} else if err := checkPassword("password", pw); err != nil {
		return "", "", err
	}
	hash, err = s.hasher.Hash(ctx, pw)
	if err != nil {
		return "", "", fmt.Errorf("hash password: %w", err)
	}
	return hash, generated, nil
}

// CreateUser creates a user. The username is normalised (NFC, case-folded)
// so that uniqueness ignores case and Unicode form; a taken one is a
// *ConflictError. Without a password one is generated and returned once.
func (s *Service) CreateUser(ctx context.Context, p UserParams) (UserWithPassword, error) {
	username, err := normalizeUsername(p.Username)
	if err != nil {
		return UserWithPassword{}, err
	}
	roles, err := s.cleanRoles("roles", p.Roles)
	if err != nil {
		return UserWithPassword{}, err
	}
	if p.Password != "" {
		if err := checkPassword("password", p.Password); err != nil {
			return UserWithPassword{}, err
		}
	}
	if err := checkProfile(p.Email, p.EmailVerified, p.Name); err != nil {
		return UserWithPassword{}, err
	}
	// Refuse a taken username before spending a hash on it.
	if _, err := oauth.FindUserByUsername(ctx, s.store, p.Username); err == nil {
		return UserWithPassword{}, usernameConflict(username)
	} else if !errors.Is(err, storage.ErrNotFound) {
		return UserWithPassword{}, fmt.Errorf("look up username: %w", err)
	}
	hash, generated, err := s.hashPassword(ctx, p.Password)
	if err != nil {
		return UserWithPassword{}, err
	}
	now := s.now().UTC()
	u := storage.User{
		ID:            newID(userIDPrefix),
		Username:      username,
		PasswordHash:  hash,
		Roles:         roles,
		Email:         p.Email,
		EmailVerified: p.EmailVerified,
		Name:          p.Name,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return UserWithPassword{}, usernameConflict(username)
		}
		return UserWithPassword{}, fmt.Errorf("create user: %w", err)
	}
	s.audit(ctx, "user.create", "user", u.ID, "username", username, "roles", roles, "password_generated", generated != "",
		"email_set", p.Email != "", "name_set", p.Name != "")
	return UserWithPassword{User: userView(u), Password: generated}, nil
}

// ListUsers returns every user, ordered by username.
func (s *Service) ListUsers(ctx context.Context) ([]User, error) {
	all, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	out := make([]User, 0, len(all))
	for _, u := range all {
		out = append(out, userView(u))
	}
	slices.SortFunc(out, func(a, b User) int {
		switch {
		case a.Username < b.Username:
			return -1
		case a.Username > b.Username:
			return 1
		}
		return 0
	})
	return out, nil
}

// GetUser returns the user with id.
func (s *Service) GetUser(ctx context.Context, id string) (User, error) {
	u, err := s.store.GetUser(ctx, id)
	if err = recordErr(err, "user", id, "get user"); err != nil {
		return User{}, err
	}
	return userView(u), nil
}

// GetUserByUsername returns the user with username, compared after
// normalisation. The character rules of CreateUser do not apply: a
// connector's provisioned users are named "<connector>/<name>".
func (s *Service) GetUserByUsername(ctx context.Context, username string) (User, error) {
	n, err := lookupUsername(username)
	if err != nil {
		return User{}, err
	}
	u, err := oauth.FindUserByUsername(ctx, s.store, username)
	if err = recordErr(err, "user", n, "get user by username"); err != nil {
		return User{}, err
	}
	return userView(u), nil
}

// FindUser returns the user whose id, or else whose username, is ref. It
// serves the CLI, where people name users either way.
func (s *Service) FindUser(ctx context.Context, ref string) (User, error) {
	u, err := s.GetUser(ctx, ref)
	if !errors.Is(err, storage.ErrNotFound) {
		return u, err
	}
	u, err = s.GetUserByUsername(ctx, ref)
	var fe *FieldError
	if errors.As(err, &fe) {
		// ref is no valid username either.
		return User{}, &NotFoundError{Kind: "user", ID: ref}
	}
	return u, err
}

// updateUser applies fn to the user atomically and maps the sentinels.
func (s *Service) updateUser(ctx context.Context, id string, fn func(*storage.User) error) (storage.User, error) {
	var out storage.User
	err := s.store.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) {
		if err := fn(&u); err != nil {
			return u, err
		}
		u.UpdatedAt = s.now().UTC()
		out = u
		return u, nil
	})
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		return storage.User{}, fe
	case errors.Is(err, storage.ErrNotFound):
		return storage.User{}, &NotFoundError{Kind: "user", ID: id}
	case err != nil:
		return storage.User{}, fmt.Errorf("update user: %w", err)
	}
	return out, nil
}

// SetPassword sets a user's password, or generates one when p.Password is
// empty and returns it once. It revokes the user's refresh-token families
// and ends the user's login sessions, as a password reset after a
// compromise must.
func (s *Service) SetPassword(ctx context.Context, id string, p PasswordParams) (generated string, err error) {
	if _, err := s.GetUser(ctx, id); err != nil {
		return "", err
	}
	hash, generated, err := s.hashPassword(ctx, p.Password)
	if err != nil {
		return "", err
	}
	var revoked, ended int
	err = s.inTx(ctx, func(ctx context.Context) error {
		if _, err := s.updateUser(ctx, id, func(u *storage.User) error {
			u.PasswordHash = hash
			u.CredentialsVersion++
			return nil
		}); err != nil {
			return err
		}
		revoked, ended, err = s.revokeUser(ctx, id)
		return err
	})
	if err != nil {
		return "", err
	}
	s.audit(ctx, "user.set_password", "user", id, "password_generated", generated != "", "revoked_families", revoked,
		"ended_login_sessions", ended)
	return generated, nil
}

// DisableUser disables a user: the password grant refuses it, and its
// refresh-token families are revoked and denied, so that its refresh tokens
// fail with invalid_grant and its access tokens show inactive at
// introspection at once; its login sessions end. Disabling a disabled user
// revokes again.
func (s *Service) DisableUser(ctx context.Context, id string) (User, error) {
	var (
		u              storage.User
		revoked, ended int
	)
	err := s.inTx(ctx, func(ctx context.Context) error {
		var err error
		if u, err = s.updateUser(ctx, id, func(u *storage.User) error {
			u.Disabled = true
			u.CredentialsVersion++
			return nil
		}); err != nil {
			return err
		}
		revoked, ended, err = s.revokeUser(ctx, id)
		return err
	})
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, "user.disable", "user", id, "revoked_families", revoked, "ended_login_sessions", ended)
	return userView(u), nil
}

// EnableUser enables a user again. Revoked refresh tokens stay revoked.
func (s *Service) EnableUser(ctx context.Context, id string) (User, error) {
	u, err := s.updateUser(ctx, id, func(u *storage.User) error { u.Disabled = false; return nil })
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, "user.enable", "user", id)
	return userView(u), nil
}

// DeleteUser deletes a user, revokes and denies its refresh-token
// families and ends its login sessions.
func (s *Service) DeleteUser(ctx context.Context, id string) error {
	var revoked, ended int
	err := s.inTx(ctx, func(ctx context.Context) error {
		err := s.store.DeleteUser(ctx, id)
		if err = recordErr(err, "user", id, "delete user"); err != nil {
			return err
		}
		revoked, ended, err = s.revokeUser(ctx, id)
		return err
	})
	if err != nil {
		return err
	}
	s.audit(ctx, "user.delete", "user", id, "revoked_families", revoked, "ended_login_sessions", ended)
	return nil
}

// AddUserRoles adds roles to a user; roles it has already are kept once.
// The next access token of the user (a new grant or a refresh) carries
// them.
func (s *Service) AddUserRoles(ctx context.Context, id string, p RolesParams) (User, error) {
	roles, err := s.cleanRoles("roles", p.Roles)
	if err != nil {
		return User{}, err
	}
	if len(roles) == 0 {
		return User{}, fieldErr("roles", "name at least one role")
	}
	u, err := s.updateUser(ctx, id, func(u *storage.User) error {
		for _, r := range roles {
			if !slices.Contains(u.Roles, r) {
				u.Roles = append(u.Roles, r)
			}
		}
		if len(u.Roles) > maxListLen {
			return fieldErr("roles", "a user may have at most %d roles", maxListLen)
		}
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, "user.roles_add", "user", id, "roles", roles)
	return userView(u), nil
}

// RemoveUserRoles removes roles from a user; roles it lacks are ignored.
func (s *Service) RemoveUserRoles(ctx context.Context, id string, p RolesParams) (User, error) {
	roles, err := s.cleanRoles("roles", p.Roles)
	if err != nil {
		return User{}, err
	}
	if len(roles) == 0 {
		return User{}, fieldErr("roles", "name at least one role")
	}
	u, err := s.updateUser(ctx, id, func(u *storage.User) error {
		u.Roles = slices.DeleteFunc(u.Roles, func(r string) bool { return slices.Contains(roles, r) })
		return nil
	})
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, "user.roles_remove", "user", id, "roles", roles)
	return userView(u), nil
}

// UpdateUser changes a user's profile fields (email, email_verified,
// name). A new email without email_verified in the same patch is
// unverified.
func (s *Service) UpdateUser(ctx context.Context, id string, p UserPatch) (User, error) {
	var changed []string
	if p.Email != nil {
		changed = append(changed, "email")
	}
	if p.EmailVerified != nil {
		changed = append(changed, "email_verified")
	}
	if p.Name != nil {
		changed = append(changed, "name")
	}
	if len(changed) == 0 {
		return s.GetUser(ctx, id)
	}
	u, err := s.updateUser(ctx, id, func(u *storage.User) error {
		if p.Email != nil && *p.Email != u.Email {
			u.Email, u.EmailVerified = *p.Email, false
		}
		if p.EmailVerified != nil {
			u.EmailVerified = *p.EmailVerified
		}
		if p.Name != nil {
			u.Name = *p.Name
		}
		return checkProfile(u.Email, u.EmailVerified, u.Name)
	})
	if err != nil {
		return User{}, err
	}
	s.audit(ctx, "user.update", "user", id, "fields", changed)
	return userView(u), nil
}

// revokeUser revokes a user's refresh families and past access tokens
// (revokeSubject) and ends the user's login sessions (design D13), so that
// a disabled, deleted or reset user is logged out of the login page too.
func (s *Service) revokeUser(ctx context.Context, id string) (revoked, ended int, err error) {
	if revoked, err = s.revokeSubject(ctx, id); err != nil {
		return revoked, 0, err
	}
	if ended, err = s.store.DeleteUserLoginSessions(ctx, id); err != nil {
		return revoked, ended, fmt.Errorf("end login sessions: %w", err)
	}
	return revoked, ended, nil
}
