package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const userColumns = `id, username, password_hash, credentials_version, roles, disabled, created_at, updated_at,
	email, email_verified, name`

// userArgs returns u's column values in userColumns order.
func userArgs(u storage.User) []any {
	return []any{u.ID, u.Username, u.PasswordHash, u.CredentialsVersion, list(u.Roles), u.Disabled, u.CreatedAt,
		u.UpdatedAt, u.Email, u.EmailVerified, u.Name}
}

func scanUser(row pgx.Row) (storage.User, error) {
	var u storage.User
	if err := row.Scan(&u.ID, &u.Username, &u.PasswordHash, &u.CredentialsVersion, &u.Roles, &u.Disabled, &u.CreatedAt, &u.UpdatedAt,
		&u.Email, &u.EmailVerified, &u.Name); err != nil {
		return storage.User{}, err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	return u, nil
}

// GetUser returns the user with the given id.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	return userTable.get(ctx, s, id)
}

// GetUserByUsername returns the user with exactly this username. The
// username stays out of the error, which may reach a log.
func (s *Store) GetUserByUsername(ctx context.Context, username string) (storage.User, error) {
	return getOne(ctx, s, "get user by name", `SELECT `+userColumns+` FROM users WHERE username = $1`, scanUser, username)
}

// CreateUser stores a new user; its id and username must be unused.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	return userTable.create(ctx, s, u.ID, u)
}

// UpdateUser applies fn to the stored user with its row locked; fn must not
// use the store with ctx. Inside a transaction it runs in a savepoint,
// leaving the transaction usable when it fails.
func (s *Store) UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) error {
	return userTable.change(ctx, s, id, fn)
}

// DeleteUser removes a user and its identity links in one transaction.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	op := fmt.Sprintf("delete user %q", id)
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		if err != nil {
			return s.wrap(err, op)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identity_links WHERE user_id = $1`, id); err != nil {
			return s.wrap(err, op)
		}
		return nil
	})
}

// ListUsers returns all users ordered by username.
func (s *Store) ListUsers(ctx context.Context) ([]storage.User, error) {
	return queryAll(ctx, s, "list users", `SELECT `+userColumns+` FROM users ORDER BY username`, scanUser)
}
