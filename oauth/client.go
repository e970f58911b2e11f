package oauth

import (
	"slices"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// client is a storage.Client as fosite sees it.
type client struct {
	c storage.Client
	// audiences are the client's registered audiences or, if it has none,
	// the issuer, so that every token has an "aud" (RFC 9068 section 2.2).
	audiences []string
	// hashed is the current secret digest followed, during a rotation
	// grace period, by the previous one (see secretHasher).
	hashed []byte
}

var (
	_ fosite.Client                         = (*client)(nil)
	_ fosite.ClientWithCustomTokenLifespans = (*client)(nil)
)

func newClient(c storage.Client, now time.Time, issuer string) *client {
	hashed := slices.Clone(c.SecretHash)
	if len(c.PreviousSecretHash) > 0 && now.Before(c.PreviousSecretExpiresAt) {
		hashed = append(hashed, c.PreviousSecretHash...)
	}
	aud := c.Audiences
	if len(aud) == 0 {
		aud = []string{issuer}
	}
	return &client{c: c, hashed: hashed, audiences: aud}
}

// clientRecord is the stored client behind a fosite.Client that the
// storage adapter returned.
func clientRecord(fc fosite.Client) (storage.Client, bool) {
	c, ok := fc.(*client)
	if !ok {
		return storage.Client{}, false
	}
	return c.c, true
}

func (c *client) GetID() string                   { return c.c.ID }
func (c *client) GetHashedSecret() []byte         { return c.hashed }
func (c *client) GetRedirectURIs() []string       { return c.c.RedirectURIs }
func (c *client) GetGrantTypes() fosite.Arguments { return c.c.GrantTypes }

// GetResponseTypes is "code" for a client of the authorization code
// grant; Gatehouse serves no other response type (RFC 9700 section 2.1.2).
func (c *client) GetResponseTypes() fosite.Arguments {
	if slices.Contains(c.c.GrantTypes, "authorization_code") {
		return fosite.Arguments{"code"}
	}
	return nil
}
func (c *client) GetScopes() fosite.Arguments   { return c.c.Scopes }
func (c *client) IsPublic() bool                { return c.c.Public }
func (c *client) GetAudience() fosite.Arguments { return c.audiences }

// GetEffectiveLifespan applies the client's access-token lifetime.
func (c *client) GetEffectiveLifespan(gt fosite.GrantType, tt fosite.TokenType, fallback time.Duration) time.Duration {
	if tt == fosite.AccessToken && c.c.TokenLifetime > 0 {
		return c.c.TokenLifetime
	}
	return fallback
}
