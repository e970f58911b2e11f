package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const connectorColumns = `id, kind, name, disabled, settings, secret_enc, provision, link_by_email, roles_claim,
	role_map, email_domains, timeout, created_at, updated_at`

// connectorSettings is the settings column: the kind's settings.
type connectorSettings struct {
	OIDC *storage.OIDCSettings `json:"oidc,omitempty"`
	LDAP *storage.LDAPSettings `json:"ldap,omitempty"`
}

func scanConnector(row pgx.Row) (storage.Connector, error) {
	var (
		c        storage.Connector
		settings []byte
		roleMap  []byte
		timeout  int64
	)
	if err := row.Scan(&c.ID, &c.Kind, &c.Name, &c.Disabled, &settings, &c.SecretEnc, &c.Provision, &c.LinkByEmail,
		&c.RolesClaim, &roleMap, &c.EmailDomains, &timeout, &c.CreatedAt, &c.UpdatedAt); err != nil {
		return storage.Connector{}, err
	}
	var cs connectorSettings
	if err := json.Unmarshal(settings, &cs); err != nil {
		return storage.Connector{}, fmt.Errorf("connector %q: settings: %w", c.ID, err)
	}
	c.OIDC, c.LDAP = cs.OIDC, cs.LDAP
	var err error
	if c.RoleMap, err = decodeRoleMap(roleMap); err != nil {
		return storage.Connector{}, fmt.Errorf("connector %q: role map: %w", c.ID, err)
	}
	if len(c.EmailDomains) == 0 {
		c.EmailDomains = nil
	}
	c.Timeout = time.Duration(timeout)
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

func connectorArgs(c storage.Connector) ([]any, error) {
	settings, err := json.Marshal(connectorSettings{OIDC: c.OIDC, LDAP: c.LDAP})
	if err != nil {
		return nil, err
	}
	rm, err := encodeRoleMap(c.RoleMap)
	if err != nil {
		return nil, err
	}
	return []any{c.ID, c.Kind, c.Name, c.Disabled, settings, c.SecretEnc, c.Provision, c.LinkByEmail,
		c.RolesClaim, rm, list(c.EmailDomains), int64(c.Timeout), c.CreatedAt, c.UpdatedAt}, nil
}

// GetConnector returns the connector with the given id.
func (s *Store) GetConnector(ctx context.Context, id string) (storage.Connector, error) {
	return connectorTable.get(ctx, s, id)
}

// CreateConnector stores a new connector.
func (s *Store) CreateConnector(ctx context.Context, c storage.Connector) error {
	return connectorTable.create(ctx, s, c.ID, c)
}

// UpdateConnector applies fn to the stored connector with its row locked.
func (s *Store) UpdateConnector(ctx context.Context, id string, fn func(storage.Connector) (storage.Connector, error)) error {
	return connectorTable.change(ctx, s, id, fn)
}

// DeleteConnector removes a connector and its identity links in one
// transaction.
func (s *Store) DeleteConnector(ctx context.Context, id string) error {
	op := fmt.Sprintf("delete connector %q", id)
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM connectors WHERE id = $1`, id)
		if err != nil {
			return s.wrap(err, op)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%s: %w", op, storage.ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM identity_links WHERE connector_id = $1`, id); err != nil {
			return s.wrap(err, op)
		}
		return nil
	})
}

// ListConnectors returns every connector ordered by id.
func (s *Store) ListConnectors(ctx context.Context) ([]storage.Connector, error) {
	return queryAll(ctx, s, "list connectors", `SELECT `+connectorColumns+` FROM connectors ORDER BY id`, scanConnector)
}

const linkColumns = `connector_id, subject, user_id, provisioned, refresh_token_enc, created_at, last_login_at`

func scanLink(row pgx.Row) (storage.IdentityLink, error) {
	var l storage.IdentityLink
	if err := row.Scan(&l.ConnectorID, &l.Subject, &l.UserID, &l.Provisioned, &l.RefreshTokenEnc, &l.CreatedAt, &l.LastLoginAt); err != nil {
		return storage.IdentityLink{}, err
	}
	l.CreatedAt, l.LastLoginAt = l.CreatedAt.UTC(), l.LastLoginAt.UTC()
	return l, nil
}

// GetIdentityLink returns the link of (connectorID, subject). The subject
// stays out of the error, which may reach a log.
func (s *Store) GetIdentityLink(ctx context.Context, connectorID, subject string) (storage.IdentityLink, error) {
	op := fmt.Sprintf("get identity link of connector %q", connectorID)
	q, release, err := s.conn(ctx)
	if err != nil {
		return storage.IdentityLink{}, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	l, err := scanLink(q.QueryRow(ctx, `SELECT `+linkColumns+` FROM identity_links
		WHERE connector_id = $1 AND subject = $2`, connectorID, subject))
	if err != nil {
		return storage.IdentityLink{}, s.wrap(err, op)
	}
	return l, nil
}

// CreateIdentityLink stores l and, when user is not nil, creates the user,
// in one transaction: the link's primary key lets one of concurrent first
// logins win, and the loser's user is rolled back with its link.
func (s *Store) CreateIdentityLink(ctx context.Context, l storage.IdentityLink, user *storage.User) error {
	op := fmt.Sprintf("create identity link of connector %q", l.ConnectorID)
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		// The connector's row is share-locked, so a concurrent delete of
		// the connector cannot leave this link behind.
		var one int
		if err := tx.QueryRow(ctx, `SELECT 1 FROM connectors WHERE id = $1 FOR SHARE`, l.ConnectorID).Scan(&one); err != nil {
			return s.wrap(err, op+": connector")
		}
		if user != nil {
			u := user
			if _, err := tx.Exec(ctx, userTable.insert, userArgs(*u)...); err != nil {
				return s.wrap(err, op+": user")
			}
		} else if err := tx.QueryRow(ctx, `SELECT 1 FROM users WHERE id = $1 FOR SHARE`, l.UserID).Scan(&one); err != nil {
			return s.wrap(err, op+": user")
		}
		if _, err := tx.Exec(ctx, insertLink,
			l.ConnectorID, l.Subject, l.UserID, l.Provisioned, l.RefreshTokenEnc, l.CreatedAt, l.LastLoginAt); err != nil {
			return s.wrap(err, op)
		}
		return nil
	})
}

// UpdateIdentityLink applies fn to the stored link with its row locked.
func (s *Store) UpdateIdentityLink(ctx context.Context, connectorID, subject string, fn func(storage.IdentityLink) (storage.IdentityLink, error)) error {
	op := fmt.Sprintf("update identity link of connector %q", connectorID)
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		old, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkColumns+` FROM identity_links
			WHERE connector_id = $1 AND subject = $2 FOR UPDATE`, connectorID, subject))
		if err != nil {
			return s.wrap(err, op)
		}
		l, err := fn(old)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE identity_links SET provisioned = $3, refresh_token_enc = $4, created_at = $5,
			last_login_at = $6 WHERE connector_id = $1 AND subject = $2`,
			connectorID, subject, l.Provisioned, l.RefreshTokenEnc, l.CreatedAt, l.LastLoginAt); err != nil {
			return s.wrap(err, op)
		}
		return nil
	})
}

// ListUserIdentityLinks returns the user's links.
func (s *Store) ListUserIdentityLinks(ctx context.Context, userID string) ([]storage.IdentityLink, error) {
	return queryArgs(ctx, s, fmt.Sprintf("list identity links of user %q", userID), `SELECT `+linkColumns+`
		FROM identity_links WHERE user_id = $1 ORDER BY connector_id, subject`, scanLink, userID)
}

// ConnectorHasIdentityLinks reports whether the connector has a link (the
// primary key's index, which starts with connector_id, answers it).
func (s *Store) ConnectorHasIdentityLinks(ctx context.Context, connectorID string) (bool, error) {
	has, err := queryArgs(ctx, s, "identity links of connector", `SELECT EXISTS (SELECT 1 FROM identity_links WHERE connector_id = $1)`,
		func(r pgx.Row) (bool, error) { var b bool; return b, r.Scan(&b) }, connectorID)
	if err != nil {
		return false, err
	}
	return len(has) == 1 && has[0], nil
}

// FindUsersByEmail returns the users whose email is exactly email. The
// email stays out of the error.
func (s *Store) FindUsersByEmail(ctx context.Context, email string) ([]storage.User, error) {
	if email == "" {
		return nil, nil
	}
	return queryArgs(ctx, s, "find users by email", `SELECT `+userColumns+` FROM users
		WHERE email = $1 AND email <> '' ORDER BY username`, scanUser, email)
}

// queryArgs runs a query with arguments and scans every row.
func queryArgs[T any](ctx context.Context, s *Store, op, sql string, scan func(pgx.Row) (T, error), args ...any) ([]T, error) {
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (T, error) { return scan(row) })
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return out, nil
}
