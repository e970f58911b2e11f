package oauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"

	"github.com/gatehouse/gatehouse/storage"
)

// fositeStore adapts the storage contract to the storage interfaces of the
// fosite handlers Gatehouse composes. Access tokens are never stored
// (design D2): CreateAccessTokenSession stores nothing, and
// GetAccessTokenSession answers only for tokens that this request's handler
// has already verified (see reqState.verified).
type fositeStore struct {
	store   storage.Store
	hasher  *PasswordHasher
	now     func() time.Time
	logger  *slog.Logger
	issuer  string
	clients *clientCache
	// familyLifetime is the absolute lifetime of a refresh family.
	familyLifetime time.Duration
	// throttle counts password attempts (grant_password.go).
	throttle *throttle
}

var (
	_ fosite.ClientManager                                = (*fositeStore)(nil)
	_ oauth2.CoreStorage                                  = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage                       = (*fositeStore)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = (*fositeStore)(nil)
	_ oauth2.ClientCredentialsGrantStorage                = (*fositeStore)(nil)
	_ storage.Transactor                                  = (*fositeStore)(nil)
)

// MaxTokenLifetime caps any access token's lifetime, a client's own
// included; keys stay published at least this long after they sign.
const MaxTokenLifetime = 24 * time.Hour

// accessRequestPrefix marks the request id of a verified access token, so
// that revoking it never touches a refresh family.
const accessRequestPrefix = "jti:"

// errRefreshRace reports that another request rotated the same refresh
// token first.
var errRefreshRace = errors.New("refresh token was rotated concurrently")

// reqState is per-request state shared between Gatehouse's handlers and
// the storage adapter through the context.
type reqState struct {
	mu sync.Mutex
	// allowDisabled lets a disabled client authenticate so that the token
	// handler can refuse it with the grant's own error.
	allowDisabled bool
	clients       map[string]storage.Client
	// user is the user the password grant authenticated.
	user *storage.User
	// verified holds access tokens this request already verified, by
	// JWS signature.
	verified map[string]*accessToken
	// subjectUser is the refresh token's user as read with the token
	// (nil: none); subjectRead says it was read.
	subjectUser *storage.User
	subjectRead bool
	// rotating is the refresh token this request retires.
	rotating *rotation
}

type rotation struct {
	familyID, digest string
}

type stateKey struct{}

func withState(ctx context.Context, st *reqState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

func stateFrom(ctx context.Context) *reqState {
	st, _ := ctx.Value(stateKey{}).(*reqState)
	return st
}

// refreshDigest is what stores see of a refresh token's signature.
func refreshDigest(signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return hex.EncodeToString(sum[:])
}

func (s *fositeStore) loadClient(ctx context.Context, id string) (storage.Client, error) {
	st := stateFrom(ctx)
	if st != nil {
		st.mu.Lock()
		c, ok := st.clients[id]
		st.mu.Unlock()
		if ok {
			return c, nil
		}
	}
	c, ok := s.clients.get(id, s.now())
	if !ok {
		var err error
		if c, err = s.store.GetClient(ctx, id); err != nil {
			return storage.Client{}, err
		}
		s.clients.put(c, s.now())
	}
	if st != nil {
		st.mu.Lock()
		if st.clients == nil {
			st.clients = map[string]storage.Client{}
		}
		st.clients[id] = c
		st.mu.Unlock()
	}
	return c, nil
}

// GetClient implements fosite.ClientManager. A disabled client is
// unknown, except to the token handler, which refuses it itself.
func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.loadClient(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Disabled {
		if st := stateFrom(ctx); st == nil || !st.allowDisabled {
			return nil, fmt.Errorf("client %q is disabled: %w", id, fosite.ErrNotFound)
		}
	}
	return newClient(c, s.now(), s.issuer), nil
}

// ClientAssertionJWTValid is part of fosite.ClientManager; Gatehouse does
// not accept client assertions, so no jti is ever known.
func (s *fositeStore) ClientAssertionJWTValid(context.Context, string) error { return nil }

// SetClientAssertionJWT is part of fosite.ClientManager; see above.
func (s *fositeStore) SetClientAssertionJWT(context.Context, string, time.Time) error { return nil }

// CreateAccessTokenSession stores nothing: access tokens are
// self-contained JWTs (design D2).
func (s *fositeStore) CreateAccessTokenSession(context.Context, string, fosite.Requester) error {
	return nil
}

// GetAccessTokenSession returns the request of an access token that the
// current request has already verified; any other signature is unknown.
func (s *fositeStore) GetAccessTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	st := stateFrom(ctx)
	if st == nil {
		return nil, fosite.ErrNotFound
	}
	st.mu.Lock()
	at, ok := st.verified[signature]
	st.mu.Unlock()
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return at.request(), nil
}

// DeleteAccessTokenSession has nothing to delete.
func (s *fositeStore) DeleteAccessTokenSession(context.Context, string) error { return nil }

// CreateRefreshTokenSession stores a refresh token of the request's family.
func (s *fositeStore) CreateRefreshTokenSession(ctx context.Context, signature, _ string, r fosite.Requester) error {
	sess, err := sessionOf(r)
	if err != nil {
		return err
	}
	// The idle expiry never passes the family's absolute end (design D3).
	exp := sess.GetExpiresAt(fosite.RefreshToken)
	if end := sess.FamilyCreatedAt.Add(s.familyLifetime); exp.IsZero() || exp.After(end) {
		exp = end
		sess.SetExpiresAt(fosite.RefreshToken, exp)
	}
	b, err := marshalRequest(r, sess)
	if err != nil {
		return err
	}
	next := storage.RefreshToken{
		Signature:       refreshDigest(signature),
		FamilyID:        r.GetID(),
		ClientID:        r.GetClient().GetID(),
		Subject:         sess.Subject,
		Active:          true,
		RequestedAt:     s.now().UTC(),
		ExpiresAt:       exp,
		FamilyCreatedAt: sess.FamilyCreatedAt,
		Request:         b,
	}
	var rot *rotation
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		rot, st.rotating = st.rotating, nil
		st.mu.Unlock()
	}
	if rot == nil {
		return s.store.CreateRefreshToken(ctx, next)
	}
	err = s.store.RotateRefreshToken(ctx, rot.familyID, rot.digest, next)
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("%w: %w", errRefreshRace, err)
	}
	return err
}

// GetRefreshTokenSession loads a refresh token with its current client. A
// rotated or revoked token comes back with fosite.ErrInactiveToken and its
// request, so that fosite can revoke the family.
func (s *fositeStore) GetRefreshTokenSession(ctx context.Context, signature string, _ fosite.Session) (fosite.Requester, error) {
	t, u, err := s.store.GetRefreshTokenAndUser(ctx, refreshDigest(signature))
	if err != nil {
		return nil, err
	}
	if st := stateFrom(ctx); st != nil {
		st.mu.Lock()
		st.subjectUser, st.subjectRead = u, true
		st.mu.Unlock()
	}
	c, err := s.loadClient(ctx, t.ClientID)
	if err != nil {
		return nil, err
	}
	r, err := unmarshalRequest(t.Request, newClient(c, s.now(), s.issuer))
	if err != nil {
		return nil, err
	}
	if !t.Active {
		return r, fmt.Errorf("refresh token of family %s: %w", t.FamilyID, fosite.ErrInactiveToken)
	}
	return r, nil
}

// DeleteRefreshTokenSession keeps the token: fosite calls it only on reuse,
// right before revoking the whole family, and a rotated token must stay to
// detect later reuse.
func (s *fositeStore) DeleteRefreshTokenSession(context.Context, string) error { return nil }

// RotateRefreshToken notes which token this refresh retires; the store
// retires it together with storing its successor in
// CreateRefreshTokenSession, in one statement.
func (s *fositeStore) RotateRefreshToken(ctx context.Context, requestID, signature string) error {
	st := stateFrom(ctx)
	if st == nil {
		return errors.New("oauth: refresh rotation outside a token request")
	}
	st.mu.Lock()
	st.rotating = &rotation{familyID: requestID, digest: refreshDigest(signature)}
	st.mu.Unlock()
	return nil
}

// RevokeRefreshToken revokes the refresh family with this request id.
func (s *fositeStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	if strings.HasPrefix(requestID, accessRequestPrefix) {
		return fosite.ErrNotFound
	}
	return s.store.RevokeRefreshFamily(ctx, requestID)
}

// RevokeAccessToken denies a verified access token by jti until it
// expires, or a whole family's access tokens by family id (design D2).
func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if jti, ok := strings.CutPrefix(requestID, accessRequestPrefix); ok {
		until := s.now().Add(DenyTTL)
		if st := stateFrom(ctx); st != nil {
			st.mu.Lock()
			for _, at := range st.verified {
				if at.ID == jti {
					until = at.Expiry.Add(time.Minute)
				}
			}
			st.mu.Unlock()
		}
		return s.store.Deny(ctx, jti, until)
	}
	return s.store.Deny(ctx, requestID, s.now().Add(DenyTTL))
}

// Authorization codes are not served; the introspection handler's
// storage assertion needs the methods.

func (s *fositeStore) CreateAuthorizeCodeSession(context.Context, string, fosite.Requester) error {
	return fosite.ErrNotFound
}

func (s *fositeStore) GetAuthorizeCodeSession(context.Context, string, fosite.Session) (fosite.Requester, error) {
	return nil, fosite.ErrNotFound
}

func (s *fositeStore) InvalidateAuthorizeCodeSession(context.Context, string) error {
	return fosite.ErrNotFound
}

// BeginTX, Commit and Rollback are what fosite's refresh handler wraps a
// rotation in. The rotation is one statement (RotateRefreshToken stores
// the successor with it) and reuse revocation is two idempotent writes, so
// no multi-statement transaction is opened: that saves three round trips
// per refresh. The stores' transactions remain for callers that need them.
func (s *fositeStore) BeginTX(ctx context.Context) (context.Context, error) { return ctx, nil }
func (s *fositeStore) Commit(context.Context) error                         { return nil }
func (s *fositeStore) Rollback(context.Context) error                       { return nil }
