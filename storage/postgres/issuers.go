package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

const issuerColumns = `id, issuer, jwks_uri, audiences, algorithms, subject_claim, subject_type,
	roles_claim, role_map, max_token_age_ns, provision, disabled, created_at, updated_at`

func scanIssuer(row pgx.Row) (storage.TrustedIssuer, error) {
	var (
		ti      storage.TrustedIssuer
		roleMap []byte
		age     int64
	)
	err := row.Scan(&ti.ID, &ti.Issuer, &ti.JWKSURI, &ti.Audiences, &ti.Algorithms, &ti.SubjectClaim,
		&ti.SubjectType, &ti.RolesClaim, &roleMap, &age, &ti.Provision, &ti.Disabled, &ti.CreatedAt, &ti.UpdatedAt)
	if err != nil {
		return storage.TrustedIssuer{}, err
	}
	if ti.RoleMap, err = decodeRoleMap(roleMap); err != nil {
		return storage.TrustedIssuer{}, fmt.Errorf("decode role map: %w", err)
	}
	if len(ti.Audiences) == 0 {
		ti.Audiences = nil
	}
	if len(ti.Algorithms) == 0 {
		ti.Algorithms = nil
	}
	ti.MaxTokenAge = time.Duration(age)
	ti.CreatedAt, ti.UpdatedAt = ti.CreatedAt.UTC(), ti.UpdatedAt.UTC()
	return ti, nil
}

// issuerArgs returns ti's column values in issuerColumns order.
func issuerArgs(ti storage.TrustedIssuer) ([]any, error) {
	roleMap, err := encodeRoleMap(ti.RoleMap)
	if err != nil {
		return nil, fmt.Errorf("encode role map: %w", err)
	}
	return []any{ti.ID, ti.Issuer, ti.JWKSURI, list(ti.Audiences), list(ti.Algorithms), ti.SubjectClaim,
		ti.SubjectType, ti.RolesClaim, roleMap, int64(ti.MaxTokenAge), ti.Provision, ti.Disabled, ti.CreatedAt, ti.UpdatedAt}, nil
}

// GetTrustedIssuer returns the trusted issuer with the given id.
func (s *Store) GetTrustedIssuer(ctx context.Context, id string) (storage.TrustedIssuer, error) {
	return issuerTable.get(ctx, s, id)
}

// GetTrustedIssuerByIssuer returns the trusted issuer whose issuer is iss.
func (s *Store) GetTrustedIssuerByIssuer(ctx context.Context, iss string) (storage.TrustedIssuer, error) {
	return getOne(ctx, s, "get trusted issuer by issuer", `SELECT `+issuerColumns+` FROM trusted_issuers WHERE issuer = $1`, scanIssuer, iss)
}

// CreateTrustedIssuer stores a new trusted issuer; its id and issuer must
// be unused.
func (s *Store) CreateTrustedIssuer(ctx context.Context, ti storage.TrustedIssuer) error {
	return issuerTable.create(ctx, s, ti.ID, ti)
}

// UpdateTrustedIssuer applies fn to the stored issuer with its row locked;
// fn must not use the store with ctx.
func (s *Store) UpdateTrustedIssuer(ctx context.Context, id string, fn func(storage.TrustedIssuer) (storage.TrustedIssuer, error)) error {
	return issuerTable.change(ctx, s, id, fn)
}

// DeleteTrustedIssuer removes a trusted issuer.
func (s *Store) DeleteTrustedIssuer(ctx context.Context, id string) error {
	return s.execOne(ctx, fmt.Sprintf("delete trusted issuer %q", id), `DELETE FROM trusted_issuers WHERE id = $1`, id)
}

// ListTrustedIssuers returns every trusted issuer ordered by id.
func (s *Store) ListTrustedIssuers(ctx context.Context) ([]storage.TrustedIssuer, error) {
	return queryAll(ctx, s, "list trusted issuers", `SELECT `+issuerColumns+` FROM trusted_issuers ORDER BY id`, scanIssuer)
}
