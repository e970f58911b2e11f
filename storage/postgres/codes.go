package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// CreateAuthorizationCode stores a new code; its digest must be unused.
func (s *Store) CreateAuthorizationCode(ctx context.Context, c storage.AuthorizationCode) error {
	const op = "create authorization code"
	q, release, err := s.conn(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	_, err = q.Exec(ctx, `INSERT INTO authorization_codes (digest, request_id, client_id, subject,
			requested_scopes, granted_scopes, requested_audiences, granted_audiences, redirect_uri,
			code_challenge, code_challenge_method, nonce, auth_time, requested_at, expires_at, session, active,
			login_session_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		notNull(c.Digest), c.RequestID, c.ClientID, c.Subject, list(c.RequestedScopes), list(c.GrantedScopes),
		list(c.RequestedAudiences), list(c.GrantedAudiences), c.RedirectURI, c.CodeChallenge,
		c.CodeChallengeMethod, c.Nonce, nullTime(c.AuthTime), c.RequestedAt, c.ExpiresAt, notNull(c.Session),
		c.Active, c.LoginSessionID)
	if err != nil {
		return s.wrap(err, op)
	}
	return nil
}

// GetAuthorizationCode returns the code, with storage.ErrInvalidatedCode
// when it was redeemed.
func (s *Store) GetAuthorizationCode(ctx context.Context, digest []byte) (storage.AuthorizationCode, error) {
	const op = "get authorization code"
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.AuthorizationCode{}, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	var (
		c        storage.AuthorizationCode
		authTime *time.Time
	)
	err = q.QueryRow(ctx, `SELECT digest, request_id, client_id, subject, requested_scopes, granted_scopes,
			requested_audiences, granted_audiences, redirect_uri, code_challenge, code_challenge_method, nonce,
			auth_time, requested_at, expires_at, session, active, login_session_id
		FROM authorization_codes WHERE digest = $1`, digest).
		Scan(&c.Digest, &c.RequestID, &c.ClientID, &c.Subject, &c.RequestedScopes, &c.GrantedScopes,
			&c.RequestedAudiences, &c.GrantedAudiences, &c.RedirectURI, &c.CodeChallenge,
			&c.CodeChallengeMethod, &c.Nonce, &authTime, &c.RequestedAt, &c.ExpiresAt, &c.Session, &c.Active, &c.LoginSessionID)
	if err != nil {
		return storage.AuthorizationCode{}, s.wrap(err, op)
	}
	if authTime != nil {
		c.AuthTime = authTime.UTC()
	}
	c.RequestedAt, c.ExpiresAt = c.RequestedAt.UTC(), c.ExpiresAt.UTC()
	if !c.Active {
		return c, fmt.Errorf("%s: %w", op, storage.ErrInvalidatedCode)
	}
	return c, nil
}

// InvalidateAuthorizationCode marks an active code used in one conditional
// statement. Of concurrent invalidations, the first to lock the row changes
// it; the others wait for the lock, re-check the condition on the row as it
// now is (PostgreSQL re-evaluates the WHERE clause on the newest version of
// a row updated concurrently), find it inactive and change nothing.
func (s *Store) InvalidateAuthorizationCode(ctx context.Context, digest []byte) error {
	return s.execOne(ctx, "invalidate authorization code",
		`UPDATE authorization_codes SET active = false WHERE digest = $1 AND active`, digest)
}

// DeleteExpiredAuthorizationCodes deletes up to limit codes that expired
// before before, skipping rows other requests hold locked.
func (s *Store) DeleteExpiredAuthorizationCodes(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteExpired(ctx, "delete expired authorization codes", `DELETE FROM authorization_codes
		WHERE digest IN (SELECT digest FROM authorization_codes WHERE expires_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`,
		before, limit)
}
