package postgres

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage"
)

var _ storage.KeyStore = (*Store)(nil)

// signingKeysLockKey is the pg_advisory_xact_lock key that serialises
// UpdateSigningKeys across every instance ("gh-keys!" in ASCII). A row lock
// would not do: the first rotation of an empty table has no row to lock.
const signingKeysLockKey int64 = 0x67682d6b657973_21

const signingKeyColumns = `kid, alg, state, private_key_enc, public_jwk, created_at, activate_at,
	activated_at, retire_at, retired_at, delete_after, updated_at`

func scanSigningKey(row pgx.Row) (storage.SigningKey, error) {
	var (
		k                                            storage.SigningKey
		activateAt, activatedAt, retireAt, retiredAt *time.Time
		deleteAfter                                  *time.Time
	)
	err := row.Scan(&k.ID, &k.Algorithm, &k.State, &k.PrivateKeyEnc, &k.PublicJWK, &k.CreatedAt,
		&activateAt, &activatedAt, &retireAt, &retiredAt, &deleteAfter, &k.UpdatedAt)
	if err != nil {
		return storage.SigningKey{}, err
	}
	k.CreatedAt, k.UpdatedAt = k.CreatedAt.UTC(), k.UpdatedAt.UTC()
	for _, p := range []struct {
		dst *time.Time
		src *time.Time
	}{{&k.ActivateAt, activateAt}, {&k.ActivatedAt, activatedAt}, {&k.RetireAt, retireAt},
		{&k.RetiredAt, retiredAt}, {&k.DeleteAfter, deleteAfter}} {
		if p.src != nil {
			*p.dst = p.src.UTC()
		}
	}
	return k, nil
}

// signingKeyArgs returns k's column values in signingKeyColumns order.
func signingKeyArgs(k storage.SigningKey) []any {
	var jwk []byte
	if len(k.PublicJWK) > 0 {
		jwk = k.PublicJWK
	}
	enc := k.PrivateKeyEnc
	if enc == nil {
		enc = []byte{}
	}
	return []any{k.ID, k.Algorithm, k.State, enc, jwk, k.CreatedAt, nullTime(k.ActivateAt),
		nullTime(k.ActivatedAt), nullTime(k.RetireAt), nullTime(k.RetiredAt), nullTime(k.DeleteAfter), k.UpdatedAt}
}

func listSigningKeys(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}) ([]storage.SigningKey, error) {
	rows, err := q.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY created_at, kid`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.SigningKey, error) { return scanSigningKey(row) })
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	const op = "list signing keys"
	q, release, err := s.conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	defer release()
	out, err := listSigningKeys(ctx, q)
	if err != nil {
		return nil, s.wrap(err, op)
	}
	return out, nil
}

// UpdateSigningKeys applies fn to the signing keys in one transaction (a
// savepoint inside a context's transaction) that holds a transaction-level
// advisory lock, so that concurrent callers on any number of instances
// run one after the other and each fn sees the previous one's result. It
// writes only the rows fn changed, bumping their version.
func (s *Store) UpdateSigningKeys(ctx context.Context, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	const op = "update signing keys"
	return s.inOwnTx(ctx, op, func(tx pgx.Tx) error {
		return s.updateSigningKeys(ctx, tx, op, fn)
	})
}

func (s *Store) updateSigningKeys(ctx context.Context, tx pgx.Tx, op string, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, signingKeysLockKey); err != nil {
		return s.wrap(err, op)
	}
	old, err := listSigningKeys(ctx, tx)
	if err != nil {
		return s.wrap(err, op)
	}
	next, err := fn(old)
	if err != nil {
		return err
	}
	byID := make(map[string]storage.SigningKey, len(old))
	for _, k := range old {
		byID[k.ID] = k
	}
	keep := make(map[string]bool, len(next))
	for _, k := range next {
		if k.ID == "" {
			return fmt.Errorf("%s: key without id", op)
		}
		if keep[k.ID] {
			return fmt.Errorf("%s: key %q twice: %w", op, k.ID, storage.ErrAlreadyExists)
		}
		keep[k.ID] = true
	}
	var gone []string
	for _, k := range old {
		if !keep[k.ID] {
			gone = append(gone, k.ID)
		}
	}
	if len(gone) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM signing_keys WHERE kid = ANY($1)`, gone); err != nil {
			return s.wrap(err, op)
		}
	}
	for _, k := range next {
		prev, existed := byID[k.ID]
		switch {
		case !existed:
			_, err = tx.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`, signingKeyArgs(k)...)
		case !sameSigningKey(prev, k):
			_, err = tx.Exec(ctx, `UPDATE signing_keys SET alg = $2, state = $3, private_key_enc = $4,
				public_jwk = $5, created_at = $6, activate_at = $7, activated_at = $8, retire_at = $9,
				retired_at = $10, delete_after = $11, updated_at = $12, version = version + 1
				WHERE kid = $1`, signingKeyArgs(k)...)
		}
		if err != nil {
			return s.wrap(err, fmt.Sprintf("%s: key %q", op, k.ID))
		}
	}
	return nil
}

// sameSigningKey reports whether b would store what a holds; times are
// compared at the microsecond precision PostgreSQL keeps.
func sameSigningKey(a, b storage.SigningKey) bool {
	eq := func(x, y time.Time) bool { return x.Truncate(time.Microsecond).Equal(y.Truncate(time.Microsecond)) }
	return a.Algorithm == b.Algorithm && a.State == b.State &&
		bytes.Equal(a.PrivateKeyEnc, b.PrivateKeyEnc) && bytes.Equal(a.PublicJWK, b.PublicJWK) &&
		eq(a.CreatedAt, b.CreatedAt) && eq(a.ActivateAt, b.ActivateAt) && eq(a.ActivatedAt, b.ActivatedAt) &&
		eq(a.RetireAt, b.RetireAt) && eq(a.RetiredAt, b.RetiredAt) && eq(a.DeleteAfter, b.DeleteAfter) &&
		eq(a.UpdatedAt, b.UpdatedAt)
}
