package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const refreshColumns = `signature, family_id, client_id, subject, active, requested_at, expires_at,
	family_created_at, request`

// CreateRefreshToken stores a refresh token; its signature must be unused.
func (s *Store) CreateRefreshToken(ctx context.Context, t storage.RefreshToken) error {
	const op = "create refresh token"
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	request := t.Request
	if request == nil {
		request = []byte{}
	}
	_, err = q.Exec(ctx, `INSERT INTO refresh_tokens (`+refreshColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.Signature, t.FamilyID, t.ClientID, t.Subject, t.Active, t.RequestedAt, t.ExpiresAt,
		t.FamilyCreatedAt, request)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// GetRefreshToken returns the token with this signature (a digest of the
// token), active or not.
func (s *Store) GetRefreshToken(ctx context.Context, signature string) (storage.RefreshToken, error) {
	const op = "get refresh token"
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.RefreshToken{}, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var t storage.RefreshToken
	err = q.QueryRow(ctx, `SELECT `+refreshColumns+` FROM refresh_tokens WHERE signature = $1`, signature).
		Scan(&t.Signature, &t.FamilyID, &t.ClientID, &t.Subject, &t.Active, &t.RequestedAt, &t.ExpiresAt,
			&t.FamilyCreatedAt, &t.Request)
	if err != nil {
		return storage.RefreshToken{}, s.wrap(err, op)
	}
	t.RequestedAt, t.ExpiresAt, t.FamilyCreatedAt = t.RequestedAt.UTC(), t.ExpiresAt.UTC(), t.FamilyCreatedAt.UTC()
	return t, nil
}

// GetRefreshTokenAndUser returns the token and, joined in the same query,
// its subject's user, if any.
func (s *Store) GetRefreshTokenAndUser(ctx context.Context, signature string) (storage.RefreshToken, *storage.User, error) {
	const op = "get refresh token and user"
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.RefreshToken{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var t storage.RefreshToken
	var (
		uid, username, hash *string
		roles               []string
		disabled            *bool
		created, updated    *time.Time
	)
	err = q.QueryRow(ctx, `SELECT t.signature, t.family_id, t.client_id, t.subject, t.active, t.requested_at,
			t.expires_at, t.family_created_at, t.request,
			u.id, u.username, u.password_hash, u.roles, u.disabled, u.created_at, u.updated_at
		FROM refresh_tokens t LEFT JOIN users u ON u.id = t.subject
		WHERE t.signature = $1`, signature).
		Scan(&t.Signature, &t.FamilyID, &t.ClientID, &t.Subject, &t.Active, &t.RequestedAt, &t.ExpiresAt,
			&t.FamilyCreatedAt, &t.Request,
			&uid, &username, &hash, &roles, &disabled, &created, &updated)
	if err != nil {
		return storage.RefreshToken{}, nil, s.wrap(err, op)
	}
	t.RequestedAt, t.ExpiresAt, t.FamilyCreatedAt = t.RequestedAt.UTC(), t.ExpiresAt.UTC(), t.FamilyCreatedAt.UTC()
	if uid == nil {
		return t, nil, nil
	}
	return t, &storage.User{ID: *uid, Username: *username, PasswordHash: *hash, Roles: roles, Disabled: *disabled,
		CreatedAt: created.UTC(), UpdatedAt: updated.UTC()}, nil
}

// RotateRefreshToken retires the active token with this signature in the
// family and stores its successor in one statement. The update is
// conditional on the row being active, so of concurrent rotations exactly
// one changes a row; the others wait for its row lock, then find nothing
// to change, insert nothing, and get storage.ErrNotFound.
func (s *Store) RotateRefreshToken(ctx context.Context, familyID, signature string, next storage.RefreshToken) error {
	request := next.Request
	if request == nil {
		request = []byte{}
	}
	return s.execOne(ctx, "rotate refresh token", `WITH rotated AS (
			UPDATE refresh_tokens SET active = false
			WHERE signature = $1 AND family_id = $2 AND active
			RETURNING 1)
		INSERT INTO refresh_tokens (`+refreshColumns+`)
		SELECT $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE EXISTS (SELECT 1 FROM rotated)`,
		signature, familyID,
		next.Signature, next.FamilyID, next.ClientID, next.Subject, next.Active, next.RequestedAt, next.ExpiresAt,
		next.FamilyCreatedAt, request)
}

// RevokeRefreshFamily marks every token of the family inactive (RFC 9700
// section 4.14.2). A family without tokens is storage.ErrNotFound.
func (s *Store) RevokeRefreshFamily(ctx context.Context, familyID string) error {
	op := fmt.Sprintf("revoke refresh family %q", familyID)
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	// Only active rows are written: a long-lived family holds many
	// rotated, inactive tokens. The data-modifying WITH runs once whether
	// or not it is read; the SELECT sees the family as it was.
	var found bool
	err = q.QueryRow(ctx, `WITH revoked AS (
			UPDATE refresh_tokens SET active = false WHERE family_id = $1 AND active)
		SELECT EXISTS (SELECT 1 FROM refresh_tokens WHERE family_id = $1)`,
		familyID).Scan(&found)
	if err != nil {
		return s.wrap(err, op)
	}
	if !found {
		return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
	}
	return nil
}

// RevokeSubjectRefreshFamilies marks inactive every token whose subject or
// client is subject, and returns the ids of their families.
func (s *Store) RevokeSubjectRefreshFamilies(ctx context.Context, subject string) ([]string, error) {
	const op = "revoke subject refresh families"
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	// The data-modifying WITH runs once whether or not it is read; the
	// SELECT sees the families as they were, which is every family of the
	// subject, active or not.
	rows, err := q.Query(ctx, `WITH revoked AS (
			UPDATE refresh_tokens SET active = false WHERE (subject = $1 OR client_id = $1) AND active)
		SELECT DISTINCT family_id FROM refresh_tokens WHERE subject = $1 OR client_id = $1 ORDER BY family_id`,
		subject)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	families, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return families, nil
}

// DeleteExpiredRefreshTokens deletes up to limit tokens that expired before
// the given time. Rows locked by a running request are skipped, so
// janitors on several instances neither block each other nor a rotation.
func (s *Store) DeleteExpiredRefreshTokens(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete expired refresh tokens", `DELETE FROM refresh_tokens WHERE signature IN (
		SELECT signature FROM refresh_tokens WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, before, limit)
}

func (s *Store) deleteExpired(ctx context.Context, op, sql string, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, sql, before, limit)
	if err != nil {
		return 0, s.wrap(err, op)
	}
	return int(tag.RowsAffected()), nil
}
