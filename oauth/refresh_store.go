package oauth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// errRefreshRace reports that a rotation's compare-and-swap found another
// token current: a concurrent request presented the same token and won.
var errRefreshRace = errors.New("refresh token was rotated concurrently")

// refreshRefusal is why a refresh token that names a real family is
// refused; the token endpoint answers invalid_grant with it as the
// description. It is wrapped with fosite.ErrNotFound, which fosite's
// handlers turn into invalid_grant (token endpoint), 200 (RFC 7009) or
// inactive (RFC 7662).
type refreshRefusal string

func (r refreshRefusal) Error() string { return string(r) }

func refuse(hint string) error { return fmt.Errorf("%w: %w", fosite.ErrNotFound, refreshRefusal(hint)) }

// unitOfWork is what BeginTX starts: the writes fosite's refresh handler
// makes between BeginTX and Commit, held in memory and applied by Commit,
// each as one statement, or dropped by Rollback. A rotation
// (RotateRefreshToken names the presented token, CreateRefreshTokenSession
// its successor) becomes the one compare-and-swap on the family row, so
// no database transaction stays open across fosite's steps, and a request
// that fails before Commit has consumed nothing.
type unitOfWork struct {
	rotation *storage.RefreshRotation
	// completed says CreateRefreshTokenSession named the successor.
	completed bool
	writes    []func(context.Context) error
}

type unitKey struct{}

func unitFrom(ctx context.Context) *unitOfWork {
	u, _ := ctx.Value(unitKey{}).(*unitOfWork)
	return u
}

// BeginTX starts a unit of work carried by the returned context.
func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) {
	if unitFrom(ctx) != nil {
		return nil, errors.New("oauth: unit of work already open in context")
	}
	return context.WithValue(ctx, unitKey{}, &unitOfWork{}), nil
}

// Commit applies the unit's writes in order: the rotation first. A
// rotation whose compare-and-swap fails is errRefreshRace with
// fosite.ErrNotFound, and nothing after it is applied.
func (s *fositeStore) Commit(ctx context.Context) error {
	u := unitFrom(ctx)
	if u == nil {
		return errors.New("oauth: commit without a unit of work")
	}
	if u.rotation != nil {
		if !u.completed {
			return errors.New("oauth: refresh rotation without a successor")
		}
		err := s.store.RotateRefreshFamily(ctx, *u.rotation)
		if errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("%w: %w", errRefreshRace, err)
		}
		if err != nil {
			return err
		}
	}
	for _, w := range u.writes {
		if err := w(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Rollback drops the unit's writes; none has reached the store.
func (s *fositeStore) Rollback(ctx context.Context) error {
	if u := unitFrom(ctx); u != nil {
		u.rotation, u.writes = nil, nil
	}
	return nil
}

// write applies w at once, or at Commit inside a unit of work.
func (s *fositeStore) write(ctx context.Context, w func(context.Context) error) error {
	if u := unitFrom(ctx); u != nil {
		u.writes = append(u.writes, w)
		return nil
	}
	return w(ctx)
}

func (s *fositeStore) deny(ctx context.Context, id string, until time.Time) error {
	return s.write(ctx, func(ctx context.Context) error { return s.store.Deny(ctx, id, until) })
}

// GetRefreshTokenSession loads the family the token names, with its
// current client and user. A token of the family that is not its current
// one comes back with its request and fosite.ErrInactiveToken, so that
// fosite revokes the family (RFC 9700 section 4.14.2); at the revocation
// endpoint it names the family like the current one. A refused family
// (revoked, or its user disabled, deleted or with a changed password) is
// fosite.ErrNotFound with a refreshRefusal.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	t, ok := parseRefreshSignature(signature)
	if !ok {
		return nil, fmt.Errorf("refresh token is malformed: %w", fosite.ErrNotFound)
	}
	f, u, err := s.store.GetRefreshFamily(ctx, t.family)
	if err != nil {
		return nil, err
	}
	if subtle.ConstantTimeCompare(f.FamilyDigest, t.familyDigest) != 1 {
		return nil, fmt.Errorf("refresh token of family %s is not genuine: %w", f.ID, fosite.ErrNotFound)
	}
	if err := refusal(f, u); err != nil {
		return nil, err
	}
	c, err := s.loadClient(ctx, f.ClientID)
	if err != nil {
		return nil, err
	}
	r, err := familyRequest(f, u, newClient(c, s.now(), s.issuer))
	if err != nil {
		return nil, err
	}
	current := t.generation == f.Generation && subtle.ConstantTimeCompare(f.TokenDigest, t.tokenDigest) == 1
	if !current && !stateFrom(ctx).revocation {
		return r, fmt.Errorf("refresh token generation %d of family %s (current %d): %w",
			t.generation, f.ID, f.Generation, fosite.ErrInactiveToken)
	}
	return r, nil
}

// refusal says why family f of user u cannot be refreshed, or nil.
func refusal(f storage.RefreshFamily, u *storage.User) error {
	switch {
	case f.RevokedReason == storage.RevokedReuse:
		return refuse("The refresh token was already used; every token of its family is revoked.")
	case u == nil:
		return refuse("The user no longer exists.")
	case u.Disabled:
		return refuse("The user is disabled.")
	case u.CredentialsVersion != f.SubjectVersion:
		return refuse("The user's password was changed since this login.")
	case !f.RevokedAt.IsZero():
		return refuse("The refresh token was revoked.")
	}
	return nil
}

// DeleteRefreshTokenSession has nothing to delete: fosite calls it for a
// token presented after it was rotated, and a family keeps no row per
// token. The family is revoked by RevokeRefreshToken, which fosite calls
// next.
func (s *fositeStore) DeleteRefreshTokenSession(context.Context, string) error { return nil }

// RotateRefreshToken names the token this refresh retires; the unit of
// work swaps it for its successor at Commit.
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	u := unitFrom(ctx)
	if u == nil {
		return errors.New("oauth: refresh rotation outside a unit of work")
	}
	t, ok := parseRefreshSignature(signature)
	if !ok || t.family != requestID {
		return fmt.Errorf("oauth: rotation of family %s with a token of another: %w", requestID, fosite.ErrNotFound)
	}
	u.rotation = &storage.RefreshRotation{FamilyID: t.family, Generation: t.generation, TokenDigest: t.tokenDigest}
	return nil
}

// CreateRefreshTokenSession stores a new refresh token: inside a
// rotation, as the successor the unit of work swaps in; otherwise as the
// first token of a new family, whose user the password grant has just
// authenticated.
func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	t, ok := parseRefreshSignature(signature)
	if !ok || t.family != r.GetID() {
		return fmt.Errorf("oauth: refresh token signature of another family than %s", r.GetID())
	}
	now := s.now().UTC()
	if u := unitFrom(ctx); u != nil && u.rotation != nil {
		if u.completed || t.generation != u.rotation.Generation+1 {
			return fmt.Errorf("oauth: refresh token generation %d does not succeed %d", t.generation, u.rotation.Generation)
		}
		u.rotation.NextDigest, u.rotation.IdleExpiresAt, u.rotation.Now = t.tokenDigest, now.Add(s.refreshLifetime), now
		u.completed = true
		return nil
	}
	sess, err := sessionOf(r)
	if err != nil {
		return err
	}
	user := stateFrom(ctx).authenticatedUser()
	if user == nil || user.ID != sess.Subject {
		return errors.New("oauth: new refresh family without its authenticated user")
	}
	f, err := newFamily(r, sess, t, user.CredentialsVersion, now, s.refreshLifetime, s.familyLifetime)
	if err != nil {
		return err
	}
	return s.write(ctx, func(ctx context.Context) error { return s.store.CreateRefreshFamily(ctx, f) })
}

// RevokeRefreshToken revokes the refresh family with this request id: at
// the revocation endpoint for the client (RFC 7009), elsewhere for reuse.
func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if strings.HasPrefix(requestID, accessRequestPrefix) {
		return fosite.ErrNotFound
	}
	reason := storage.RevokedReuse
	if stateFrom(ctx).revocation {
		reason = storage.RevokedByClient
	}
	now := s.now().UTC()
	return s.write(ctx, func(ctx context.Context) error {
		err := s.store.RevokeRefreshFamily(ctx, requestID, reason, now)
		if errors.Is(err, storage.ErrNotFound) {
			// A request that issued no refresh token (a code redeemed
			// without offline_access): nothing to revoke.
			return nil
		}
		return err
	})
}
