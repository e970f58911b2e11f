package oauth

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	fositestorage "github.com/ory/fosite/storage"

	"github.com/gatehouse/gatehouse/storage"
)

// fositeStore adapts the storage contract to the storage interfaces of the
// fosite handlers Gatehouse composes. Access tokens are never stored
// (design D2): CreateAccessTokenSession stores nothing, and
// GetAccessTokenSession answers only for tokens that this request's handler
// has already verified (see requestState.verified).
type fositeStore struct {
	store   storage.Store
	hasher  *PasswordHasher
	now     func() time.Time
	logger  *slog.Logger
	issuer  string
	clients *clientCache
	// refreshLifetime is a refresh token's idle lifetime, familyLifetime
	// the absolute lifetime of its family.
	refreshLifetime, familyLifetime time.Duration
	// throttle counts password attempts (grant_password.go).
	throttle *throttle
	// ldap checks passwords of directory users (connector_ldap.go).
	ldap ldapKind
}

// fositeStorage is what the composed handlers need of the storage
// adapter; fosite's factories assert each part at start-up.
type fositeStorage interface {
	fosite.ClientManager
	oauth2.CoreStorage
	oauth2.TokenRevocationStorage
	oauth2.ResourceOwnerPasswordCredentialsGrantStorage
	oauth2.ClientCredentialsGrantStorage
	pkce.PKCERequestStorage
	openid.OpenIDConnectRequestStorage
	fositestorage.Transactional
}

var (
	_ fositeStorage                                       = (*fositeStore)(nil)
	_ fosite.ClientManager                                = (*fositeStore)(nil)
	_ oauth2.CoreStorage                                  = (*fositeStore)(nil)
	_ oauth2.TokenRevocationStorage                       = (*fositeStore)(nil)
	_ oauth2.ResourceOwnerPasswordCredentialsGrantStorage = (*fositeStore)(nil)
	_ oauth2.ClientCredentialsGrantStorage                = (*fositeStore)(nil)
	_ fositestorage.Transactional                         = (*fositeStore)(nil)
)

// MaxTokenLifetime caps any access token's lifetime, a client's own
// included; keys stay published at least this long after they sign.
const MaxTokenLifetime = 24 * time.Hour

// accessRequestPrefix marks the request id of a verified access token, so
// that revoking it never touches a refresh family.
const accessRequestPrefix = "jti:"

// loadClient reads a client through the client cache.
func (s *fositeStore) loadClient(ctx context.Context, id string) (storage.Client, error) {
	if c, ok := s.clients.get(id, s.now()); ok {
		return c, nil
	}
	c, err := s.store.GetClient(ctx, id)
	if err != nil {
		return storage.Client{}, err
	}
	s.clients.put(c, s.now())
	return c, nil
}

// GetClient implements fosite.ClientManager. A disabled client is
// unknown, except to the token handler, which refuses it itself.
func (s *fositeStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	c, err := s.loadClient(ctx, id)
	if err != nil {
		return nil, err
	}
	st := stateFrom(ctx)
	if c.Disabled && !st.allowDisabled {
		return nil, fmt.Errorf("client %q is disabled: %w", id, fosite.ErrNotFound)
	}
	if c.Public && st.secretPresented {
		return nil, fmt.Errorf("public client %q presented a secret: %w", id, fosite.ErrNotFound)
	}
	if c.AuthMethod == storage.AuthMethodPrivateKeyJWT && st.secretPresented {
		// It has no secret at all (RFC 7523 section 2.2).
		return nil, fmt.Errorf("private_key_jwt client %q presented a secret: %w", id, fosite.ErrNotFound)
	}
	return newClient(c, s.now(), s.issuer), nil
}

// ClientAssertionJWTValid is part of fosite.ClientManager. fosite never
// calls it: client assertions are authenticated by Gatehouse
// (client_assertion.go), which records each jti in the AssertionStore
// after every other check.
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
	at, ok := stateFrom(ctx).verifiedToken(signature)
	if !ok {
		return nil, fosite.ErrNotFound
	}
	return at.request(), nil
}

// DeleteAccessTokenSession has nothing to delete.
func (s *fositeStore) DeleteAccessTokenSession(context.Context, string) error { return nil }

// RevokeAccessToken denies a verified access token by jti until it
// expires, or a whole family's access tokens by family id (design D2).
func (s *fositeStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	if jti, ok := strings.CutPrefix(requestID, accessRequestPrefix); ok {
		until := s.now().Add(DenyTTL)
		st := stateFrom(ctx)
		st.mu.Lock()
		for _, at := range st.verified {
			if at.ID == jti {
				until = at.Expiry.Add(time.Minute)
			}
		}
		st.mu.Unlock()
		return s.deny(ctx, jti, until)
	}
	return s.deny(ctx, requestID, s.now().Add(DenyTTL))
}
