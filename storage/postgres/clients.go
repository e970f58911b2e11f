package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const clientColumns = `id, name, secret_hash, previous_secret_hash, previous_secret_expires_at,
	grant_types, scopes, audiences, roles, claims, token_lifetime_ns, disabled, created_at, updated_at,
	redirect_uris, post_logout_redirect_uris, web_origins, public, third_party,
	auth_method, jwks, jwks_uri, auth_signing_algs`

func scanClient(row pgx.Row) (storage.Client, error) {
	var (
		c        storage.Client
		prevExp  *time.Time
		claims   []byte
		lifetime int64
		jwks     string
	)
	err := row.Scan(&c.ID, &c.Name, &c.SecretHash, &c.PreviousSecretHash, &prevExp,
		&c.GrantTypes, &c.Scopes, &c.Audiences, &c.Roles, &claims, &lifetime, &c.Disabled,
		&c.CreatedAt, &c.UpdatedAt, &c.RedirectURIs, &c.PostLogoutRedirectURIs, &c.WebOrigins, &c.Public, &c.ThirdParty,
		&c.AuthMethod, &jwks, &c.JWKSURI, &c.AuthSigningAlgs)
	if err != nil {
		return storage.Client{}, err
	}
	if prevExp != nil {
		c.PreviousSecretExpiresAt = prevExp.UTC()
	}
	if err := json.Unmarshal(claims, &c.Claims); err != nil {
		return storage.Client{}, fmt.Errorf("decode claims: %w", err)
	}
	if len(c.Claims) == 0 {
		c.Claims = nil
	}
	c.TokenLifetime = time.Duration(lifetime)
	if jwks != "" {
		c.JWKS = []byte(jwks)
	}
	if len(c.AuthSigningAlgs) == 0 {
		c.AuthSigningAlgs = nil
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

// clientArgs returns c's column values in clientColumns order.
func clientArgs(c storage.Client) ([]any, error) {
	claims := []byte("{}")
	if len(c.Claims) > 0 {
		var err error
		if claims, err = json.Marshal(c.Claims); err != nil {
			return nil, fmt.Errorf("encode claims: %w", err)
		}
	}
	return []any{c.ID, c.Name, c.SecretHash, c.PreviousSecretHash, nullTime(c.PreviousSecretExpiresAt),
		list(c.GrantTypes), list(c.Scopes), list(c.Audiences), list(c.Roles), claims,
		int64(c.TokenLifetime), c.Disabled, c.CreatedAt, c.UpdatedAt,
		list(c.RedirectURIs), list(c.PostLogoutRedirectURIs), list(c.WebOrigins), c.Public, c.ThirdParty,
		c.AuthMethod, string(c.JWKS), c.JWKSURI, list(c.AuthSigningAlgs)}, nil
}

// GetClient returns the client with the given id.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	return clientTable.get(ctx, s, id)
}

// CreateClient stores a new client; its id, and its name when set, must be
// unused.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	return clientTable.create(ctx, s, c.ID, c)
}

// UpdateClient applies fn to the stored client with its row locked, so
// concurrent updates never lose each other's changes; fn must not use the
// store with ctx. Inside a transaction it runs in a savepoint, leaving the
// transaction usable when it fails.
func (s *Store) UpdateClient(ctx context.Context, id string, fn func(storage.Client) (storage.Client, error)) error {
	return clientTable.change(ctx, s, id, fn)
}

// DeleteClient removes a client.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	return s.execOne(ctx, fmt.Sprintf("delete client %q", id), `DELETE FROM clients WHERE id = $1`, id)
}

// ListClients returns all clients ordered by id.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	return queryAll(ctx, s, "list clients", `SELECT `+clientColumns+` FROM clients ORDER BY id`, scanClient)
}

// list returns l, or an empty list for nil, for NOT NULL text[] columns.
func list(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// nullTime returns nil for the zero time, which stores NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
