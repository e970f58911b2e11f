package admin

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// UpdateClient applies p. Disabling a client revokes its refresh-token
// families and denies their access tokens at once.
func (s *Service) UpdateClient(ctx context.Context, id string, p ClientPatch) (Client, error) {
	cur, err := s.getClient(ctx, id)
	if err != nil {
		return Client{}, err
	}
	// Validate the patched client as a whole, with the same rules as
	// creation.
	want := ClientParams{
		Name: cur.Name, GrantTypes: cur.GrantTypes, Scopes: cur.Scopes, Audiences: cur.Audiences,
		Roles: cur.Roles, Claims: cur.Claims, TokenLifetimeSeconds: int64(cur.TokenLifetime / time.Second),
		RedirectURIs: cur.RedirectURIs, PostLogoutRedirectURIs: cur.PostLogoutRedirectURIs, WebOrigins: cur.WebOrigins,
		Public: cur.Public, ThirdParty: cur.ThirdParty,
		TokenEndpointAuthMethod: authMethodView(cur), JWKS: rawJWKS(cur.JWKS), JWKSURI: cur.JWKSURI,
		TokenEndpointAuthSigningAlgs: cur.AuthSigningAlgs,
	}
	var changed []string
	set := func(name string, ok bool) {
		if ok {
			changed = append(changed, name)
		}
	}
	if p.Name != nil {
		want.Name = *p.Name
	}
	if p.GrantTypes != nil {
		want.GrantTypes = *p.GrantTypes
	}
	if p.Scopes != nil {
		want.Scopes = *p.Scopes
	}
	if p.Audiences != nil {
		want.Audiences = *p.Audiences
	}
	if p.Roles != nil {
		want.Roles = *p.Roles
	}
	if p.Claims != nil {
		want.Claims = *p.Claims
	}
	if p.TokenLifetimeSeconds != nil {
		want.TokenLifetimeSeconds = *p.TokenLifetimeSeconds
	}
	if p.RedirectURIs != nil {
		want.RedirectURIs = *p.RedirectURIs
	}
	if p.PostLogoutRedirectURIs != nil {
		want.PostLogoutRedirectURIs = *p.PostLogoutRedirectURIs
	}
	if p.WebOrigins != nil {
		want.WebOrigins = *p.WebOrigins
	}
	if p.Public != nil {
		want.Public = *p.Public
	}
	if p.ThirdParty != nil {
		want.ThirdParty = *p.ThirdParty
	}
	authChanged := patchAuth(&want, cur, p)
	set("name", p.Name != nil)
	set("grant_types", p.GrantTypes != nil)
	set("scopes", p.Scopes != nil)
	set("audiences", p.Audiences != nil)
	set("roles", p.Roles != nil)
	set("claims", p.Claims != nil)
	set("token_lifetime_seconds", p.TokenLifetimeSeconds != nil)
	set("redirect_uris", p.RedirectURIs != nil)
	set("post_logout_redirect_uris", p.PostLogoutRedirectURIs != nil)
	set("web_origins", p.WebOrigins != nil)
	set("public", p.Public != nil)
	set("third_party", p.ThirdParty != nil)
	set("token_endpoint_auth_method", p.TokenEndpointAuthMethod != nil)
	set("jwks", p.JWKS != nil)
	set("jwks_uri", p.JWKSURI != nil)
	set("token_endpoint_auth_signing_algs", p.TokenEndpointAuthSigningAlgs != nil)
	set("disabled", p.Disabled != nil)
	if len(changed) == 0 {
		return s.clientView(cur), nil
	}
	sp, err := s.checkClientSpec(want)
	if err != nil {
		return Client{}, err
	}
	if sp.name != cur.Name {
		if taken, err := s.nameTaken(ctx, id, sp.name); err != nil {
			return Client{}, err
		} else if taken {
			return Client{}, nameConflict(sp.name)
		}
	}
	var (
		updated  storage.Client
		disabled bool
		revoked  int
	)
	err = s.inTx(ctx, func(ctx context.Context) error {
		err := s.store.UpdateClient(ctx, id, func(c storage.Client) (storage.Client, error) {
			// Only the patched fields: a concurrent change to another
			// field survives.
			if p.Name != nil {
				c.Name = sp.name
			}
			if p.GrantTypes != nil {
				c.GrantTypes = sp.grantTypes
			}
			if p.Scopes != nil {
				c.Scopes = sp.scopes
			}
			if p.Audiences != nil {
				c.Audiences = sp.auds
			}
			if p.Roles != nil {
				c.Roles = sp.roles
			}
			if p.Claims != nil {
				c.Claims = sp.claims
			}
			if p.TokenLifetimeSeconds != nil {
				c.TokenLifetime = sp.lifetime
			}
			if p.RedirectURIs != nil {
				c.RedirectURIs = sp.redirectURIs
			}
			if p.PostLogoutRedirectURIs != nil {
				c.PostLogoutRedirectURIs = sp.postLogoutURIs
			}
			if p.WebOrigins != nil {
				c.WebOrigins = sp.webOrigins
			}
			if p.Public != nil {
				c.Public = *p.Public
				if c.Public {
					// A public client has no secret to authenticate with.
					c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, nil, time.Time{}
				}
			}
			if p.ThirdParty != nil {
				c.ThirdParty = *p.ThirdParty
			}
			if authChanged {
				c.AuthMethod, c.JWKS, c.JWKSURI, c.AuthSigningAlgs = sp.auth.method, sp.auth.jwks, sp.auth.jwksURI, sp.auth.algs
				if c.AuthMethod == storage.AuthMethodPrivateKeyJWT {
					// No shared secret at all (RFC 7523 section 2.2).
					c.SecretHash, c.PreviousSecretHash, c.PreviousSecretExpiresAt = nil, nil, time.Time{}
				}
			}
			if p.Disabled != nil {
				disabled = *p.Disabled && !c.Disabled
				c.Disabled = *p.Disabled
			}
			c.UpdatedAt = s.now().UTC()
			updated = c
			return c, nil
		})
		switch {
		case errors.Is(err, storage.ErrNotFound):
			return &NotFoundError{Kind: "client", ID: id}
		case errors.Is(err, storage.ErrAlreadyExists):
			return nameConflict(sp.name)
		case err != nil:
			return fmt.Errorf("update client: %w", err)
		}
		if disabled {
			revoked, err = s.revokeSubject(ctx, id)
		}
		return err
	})
	if err != nil {
		return Client{}, err
	}
	s.audit(ctx, "client.update", "client", id, "fields", changed, "revoked_families", revoked)
	return s.clientView(updated), nil
}

// patchAuth applies p's authentication fields to want, the patched client
// as a whole, and reports whether any of them changes. Making a client
// public makes its method none; leaving private_key_jwt drops the keys;
// giving jwks drops a jwks_uri and the reverse.
func patchAuth(want *ClientParams, cur storage.Client, p ClientPatch) bool {
	changed := p.TokenEndpointAuthMethod != nil || p.JWKS != nil || p.JWKSURI != nil ||
		p.TokenEndpointAuthSigningAlgs != nil || (p.Public != nil && *p.Public != cur.Public)
	if !changed {
		return false
	}
	switch {
	case p.TokenEndpointAuthMethod != nil:
		want.TokenEndpointAuthMethod = *p.TokenEndpointAuthMethod
	case p.Public != nil && *p.Public:
		want.TokenEndpointAuthMethod = authNone
	case p.Public != nil && cur.Public:
		want.TokenEndpointAuthMethod = authSecretBasic
	}
	if want.TokenEndpointAuthMethod != authPrivateKeyJWT {
		want.JWKS, want.JWKSURI, want.TokenEndpointAuthSigningAlgs = nil, "", nil
	}
	if p.JWKS != nil {
		want.JWKS = *p.JWKS
		if p.JWKSURI == nil {
			want.JWKSURI = ""
		}
	}
	if p.JWKSURI != nil {
		want.JWKSURI = *p.JWKSURI
		if p.JWKS == nil {
			want.JWKS = nil
		}
	}
	if p.TokenEndpointAuthSigningAlgs != nil {
		want.TokenEndpointAuthSigningAlgs = *p.TokenEndpointAuthSigningAlgs
	}
	return true
}
