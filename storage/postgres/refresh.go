package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const familyColumns = `f.id, f.client_id, f.subject, f.subject_version, f.scopes, f.audiences, f.created_at,
	f.expires_at, f.idle_expires_at, f.family_digest, f.token_digest, f.generation, f.revoked_at,
	f.revoked_reason, f.session, f.login_session_id`

// CreateRefreshFamily stores a new family; its id must be unused.
func (s *Store) CreateRefreshFamily(ctx context.Context, f storage.RefreshFamily) error {
	const op = "create refresh family"
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	_, err = q.Exec(ctx, `INSERT INTO refresh_families (id, client_id, subject, subject_version, scopes, audiences,
			created_at, expires_at, idle_expires_at, family_digest, token_digest, generation, revoked_at,
			revoked_reason, session, login_session_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		f.ID, f.ClientID, f.Subject, f.SubjectVersion, list(f.Scopes), list(f.Audiences), f.CreatedAt,
		f.ExpiresAt, minTime(f.IdleExpiresAt, f.ExpiresAt), notNull(f.FamilyDigest), notNull(f.TokenDigest),
		f.Generation, nullTime(f.RevokedAt), f.RevokedReason, notNull(f.Session), f.LoginSessionID)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// GetRefreshFamily returns the family and, joined in the same query, its
// subject's user, if any.
//
// The user, and in RotateRefreshFamily the client and user checks, are
// looked up for the one family row: a LATERAL subquery (OFFSET 0 keeps the planner
// from flattening it into a join) and scalar subqueries. As joins, on
// small users and clients tables the planner hashes the whole table on
// every refresh (a seq scan and a hash build per statement); as per-row
// lookups both statements ran 9-14% more pairs a second in pgbench with
// the same SQL (16 clients). On large tables both forms use the indexes.
func (s *Store) GetRefreshFamily(ctx context.Context, id string) (storage.RefreshFamily, *storage.User, error) {
	const op = "get refresh family"
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.RefreshFamily{}, nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var (
		f                storage.RefreshFamily
		revokedAt        *time.Time
		uid, name, hash  *string
		version          *int64
		roles            []string
		disabled         *bool
		created, updated *time.Time
		email, fullName  *string
		emailVerified    *bool
	)
	err = q.QueryRow(ctx, `SELECT `+familyColumns+`,
			u.id, u.username, u.password_hash, u.credentials_version, u.roles, u.disabled, u.created_at, u.updated_at,
			u.email, u.email_verified, u.name,
			EXISTS (SELECT 1 FROM identity_links l WHERE l.user_id = f.subject)
		FROM refresh_families f LEFT JOIN LATERAL (SELECT * FROM users u WHERE u.id = f.subject OFFSET 0) u ON true
		WHERE f.id = $1`, id).
		Scan(&f.ID, &f.ClientID, &f.Subject, &f.SubjectVersion, &f.Scopes, &f.Audiences, &f.CreatedAt,
			&f.ExpiresAt, &f.IdleExpiresAt, &f.FamilyDigest, &f.TokenDigest, &f.Generation, &revokedAt,
			&f.RevokedReason, &f.Session, &f.LoginSessionID,
			&uid, &name, &hash, &version, &roles, &disabled, &created, &updated, &email, &emailVerified, &fullName,
			&f.SubjectLinked)
	if err != nil {
		return storage.RefreshFamily{}, nil, s.wrap(err, op)
	}
	f.CreatedAt, f.ExpiresAt, f.IdleExpiresAt = f.CreatedAt.UTC(), f.ExpiresAt.UTC(), f.IdleExpiresAt.UTC()
	if revokedAt != nil {
		f.RevokedAt = revokedAt.UTC()
	}
	if uid == nil {
		return f, nil, nil
	}
	return f, &storage.User{ID: *uid, Username: *name, PasswordHash: *hash, CredentialsVersion: *version,
		Roles: roles, Email: *email, EmailVerified: *emailVerified, Name: *fullName, Disabled: *disabled,
		CreatedAt: created.UTC(), UpdatedAt: updated.UTC()}, nil
}

// RotateRefreshFamily is the compare-and-swap of a family's current token,
// one statement. Of concurrent rotations of one token, the first to lock
// the row changes it; the others wait for the lock, re-check the row as it
// now is (PostgreSQL re-evaluates the WHERE clause on the newest version
// of a row updated concurrently), find another generation, and change
// nothing. A committed revocation has set revoked_at on the same row, so
// no rotation after it matches. The user check also catches a family that
// a login created concurrently with a password change or a disable, which
// the revocation could not see. The client and user checks are scalar
// subqueries, looked up for the one family row, not EXISTS semi-joins
// (why: GetRefreshFamily); a missing client or user makes them NULL, and
// the row does not match.
func (s *Store) RotateRefreshFamily(ctx context.Context, r storage.RefreshRotation) error {
	return s.execOne(ctx, "rotate refresh family", `UPDATE refresh_families f
		SET token_digest = $4, generation = f.generation + 1, idle_expires_at = LEAST($5, f.expires_at)
		WHERE f.id = $1 AND f.generation = $2 AND f.token_digest = $3
			AND f.revoked_at IS NULL AND f.expires_at > $6 AND f.idle_expires_at > $6
			AND (SELECT NOT c.disabled FROM clients c WHERE c.id = f.client_id)
			AND (SELECT NOT u.disabled AND u.credentials_version = f.subject_version FROM users u WHERE u.id = f.subject)`,
		r.FamilyID, r.Generation, r.TokenDigest, r.NextDigest, r.IdleExpiresAt, r.Now)
}

// RevokeRefreshFamily marks the family revoked; a revoked family keeps its
// first time and reason.
func (s *Store) RevokeRefreshFamily(ctx context.Context, id, reason string, at time.Time) error {
	return s.execOne(ctx, fmt.Sprintf("revoke refresh family %q", id), `UPDATE refresh_families
		SET revoked_at = COALESCE(revoked_at, $2),
			revoked_reason = CASE WHEN revoked_at IS NULL THEN $3 ELSE revoked_reason END
		WHERE id = $1`, id, at, reason)
}

// RevokeSubjectRefreshFamilies revokes every live family whose subject or
// client is subject and returns their ids. Rows a rotation holds are
// waited for and revoked as they are after it.
func (s *Store) RevokeSubjectRefreshFamilies(ctx context.Context, subject string, at time.Time) ([]string, error) {
	return s.revokeFamilies(ctx, "revoke subject refresh families", `subject = $1 OR client_id = $1`, subject, at, storage.RevokedSubject)
}

// RevokeLoginSessionRefreshFamilies revokes every live family begun in
// the login session and returns their ids.
func (s *Store) RevokeLoginSessionRefreshFamilies(ctx context.Context, sessionID string, at time.Time) ([]string, error) {
	if sessionID == "" {
		return nil, nil
	}
	return s.revokeFamilies(ctx, "revoke login session refresh families", `login_session_id = $1`, sessionID, at, storage.RevokedLogout)
}

// revokeFamilies revokes, for reason, every live family that where (a
// condition on $1 = arg) selects, and returns their ids. Rows a rotation
// holds are waited for and revoked as they are after it.
func (s *Store) revokeFamilies(ctx context.Context, op, where, arg string, at time.Time, reason string) ([]string, error) {
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, `UPDATE refresh_families SET revoked_at = $2, revoked_reason = $3
		WHERE (`+where+`) AND revoked_at IS NULL
		RETURNING id`, arg, at, reason)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return ids, nil
}

// DeleteDeadRefreshFamilies deletes up to limit families that expired or
// were revoked long enough ago. Rows locked by a running request are
// skipped, so janitors on several instances neither block each other nor a
// rotation.
func (s *Store) DeleteDeadRefreshFamilies(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete dead refresh families", `DELETE FROM refresh_families WHERE id IN (
		SELECT id FROM refresh_families
		WHERE expires_at < $1 OR idle_expires_at < $1 OR revoked_at < $3
		LIMIT $2 FOR UPDATE SKIP LOCKED)`, expiredBefore, limit, revokedBefore)
}

func (s *Store) deleteExpired(ctx context.Context, op, sql string, before time.Time, limit int, args ...any) (int, error) {
	if limit <= 0 {
		return 0, nil
	}
	q, release, err := s.conn(ctx)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	tag, err := q.Exec(ctx, sql, append([]any{before, limit}, args...)...)
	if err != nil {
		return 0, s.wrap(err, op)
	}
	return int(tag.RowsAffected()), nil
}

// notNull stores a nil byte slice as an empty one.
func notNull(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.After(b) {
		return b
	}
	return a
}
