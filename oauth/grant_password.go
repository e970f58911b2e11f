package oauth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// Authenticate checks a user's password (RFC 6749 section 4.3.2). The
// attempt is counted in the store before the password is hashed, so that
// no limit can be raced (design D5); a success, or an attempt whose
// password was never checked, is taken back. Unknown and disabled users
// cost one hash like a wrong password and get the same answer. A username
// with no local password is checked against the enabled LDAP connectors,
// under the same reservation.
func (s *fositeStore) Authenticate(ctx context.Context, username, password string) (string, error) {
	name := NormalizeUsername(username)
	st := stateFrom(ctx)
	st.mu.Lock()
	addr := st.clientAddr
	st.mu.Unlock()
	res, err := s.throttle.reserve(ctx, name, addr)
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	subject, err := s.authenticate(ctx, username, password)
	if !errors.Is(err, fosite.ErrNotFound) {
		s.throttle.release(ctx, res)
	}
	return subject, err
}

// UsernameGetter looks a user up by stored username.
type UsernameGetter interface {
	GetUserByUsername(ctx context.Context, username string) (storage.User, error)
}

// FindUserByUsername looks a user up by username as typed: by its
// normalised form (NormalizeUsername) and, when that differs and finds
// nobody, by the form usernames were stored in before case folding (NFC,
// lower case), so users created before the change keep working.
func FindUserByUsername(ctx context.Context, store UsernameGetter, username string) (storage.User, error) {
	name := NormalizeUsername(username)
	u, err := store.GetUserByUsername(ctx, name)
	if legacy := legacyUsername(username); errors.Is(err, storage.ErrNotFound) && legacy != name {
		u, err = store.GetUserByUsername(ctx, legacy)
	}
	return u, err
}

func (s *fositeStore) authenticate(ctx context.Context, username, password string) (string, error) {
	u, err := FindUserByUsername(ctx, s.store, username)
	if err == nil && u.PasswordHash == "" {
		// A user provisioned by a connector has no password here: the
		// directories below decide, or it fails as an unknown user does,
		// after the same hash.
		err = fmt.Errorf("user %s has no password: %w", u.ID, storage.ErrNotFound)
	}
	if errors.Is(err, storage.ErrNotFound) {
		// No local password: the LDAP directories decide, if there are
		// any (connector_ldap.go). A local user with a password never
		// reaches them, so no directory entry can take a local account
		// over.
		user, found, err := s.directoryLogin(ctx, username, password)
		if errors.Is(err, fosite.ErrNotFound) {
			// A refusal costs one hash, as a local user's wrong password
			// does and an unknown name's does below, so that the time of
			// the answer does not tell local usernames from the rest.
			if err := s.hasher.VerifyDummy(ctx, password); errors.Is(err, ErrHashBusy) {
				return "", fmt.Errorf("authenticate: %w", err)
			}
		}
		if found || err != nil {
			if err != nil {
				return "", fmt.Errorf("authenticate: %w", err)
			}
			stateFrom(ctx).setUser(&user)
			return user.ID, nil
		}
		if err := s.hasher.VerifyDummy(ctx, password); errors.Is(err, ErrHashBusy) {
			return "", fmt.Errorf("authenticate: %w", err)
		}
		return "", fmt.Errorf("authenticate: %w", fosite.ErrNotFound)
	}
	if err != nil {
		return "", fmt.Errorf("authenticate: %w", err)
	}
	ok, rehash, err := s.hasher.Verify(ctx, u.PasswordHash, password)
	if err != nil {
		if errors.Is(err, ErrHashBusy) {
			return "", fmt.Errorf("authenticate: %w", err)
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return "", fmt.Errorf("authenticate: %w", ctxErr)
		}
		s.logger.ErrorContext(ctx, "stored password hash unusable", "user_id", u.ID, "err", err)
		return "", fmt.Errorf("authenticate: %w", fosite.ErrNotFound)
	}
	if !ok || u.Disabled {
		return "", fmt.Errorf("authenticate: %w", fosite.ErrNotFound)
	}
	if rehash {
		s.rehash(ctx, u.ID, password)
	}
	stateFrom(ctx).setUser(&u)
	return u.ID, nil
}

// rehash stores a hash with the current parameters after a successful
// login (design D5). A failure only costs the upgrade.
func (s *fositeStore) rehash(ctx context.Context, userID, password string) {
	h, err := s.hasher.Hash(ctx, password)
	if err == nil {
		err = s.store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
			u.PasswordHash = h
			u.UpdatedAt = s.now()
			return u, nil
		})
	}
	if err != nil {
		s.logger.WarnContext(ctx, "password rehash failed", "user_id", userID, "err", err)
	}
}

// passwordClaims grants a password request (RFC 6749 section 4.3) and sets
// its claims from the user Authenticate found; offline_access starts a
// refresh family named by the request id.
func (s *Server) passwordClaims(ar fosite.AccessRequester, c storage.Client, user *storage.User, sess *Session, now time.Time) error {
	if user == nil {
		return fosite.ErrServerError.WithDebug("authenticated user missing")
	}
	s.grantRequested(ar, c, true)
	family := ""
	if ar.GetGrantedScopes().Has(ScopeOfflineAccess) {
		family = ar.GetID()
	}
	setClaims(sess, c, user, family, now)
	return nil
}
