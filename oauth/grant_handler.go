package oauth

import (
	"context"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
)

// fositeGrants are the grants fosite's own handlers serve. Every other
// grant in GrantTypes is one whose checks Gatehouse makes itself (its
// claims function in token.go verifies the grant's credential), served at
// fosite's level by ownGrantHandler.
func fositeGrants() []string {
	return []string{"authorization_code", "client_credentials", "password", "refresh_token"}
}

// selfCheckedGrant reports whether gt is a grant Gatehouse serves without
// a fosite handler of its own.
func selfCheckedGrant(gt string) bool {
	return slices.Contains(GrantTypes(), gt) && !slices.Contains(fositeGrants(), gt)
}

// ownGrantHandler is the fosite token-endpoint handler for the grants
// fosite does not know (RFC 7523 section 2.1, RFC 8693). Without one,
// fosite answers them with invalid_request. It does for such a grant what
// fosite's client_credentials handler does: the client must be
// confidential and allowed the grant (RFC 6749 section 5.2
// unauthorized_client), requested scopes and audiences must be the
// client's, and the response is an access token with no refresh token.
// The grant's own credential (an assertion, a subject token) is checked by
// Gatehouse between fosite's access request and its response, where the
// claims are set.
type ownGrantHandler struct {
	helper *oauth2.HandleHelper
	config interface {
		fosite.ScopeStrategyProvider
		fosite.AudienceStrategyProvider
		fosite.AccessTokenLifespanProvider
	}
	// grant reports whether the handler serves a grant type.
	grant func(gt string) bool
	now   func() time.Time
}

var _ fosite.TokenEndpointHandler = ownGrantHandler{}

// ownGrantFactory builds the ownGrantHandler for the grants selected by
// grant over fosite's core storage and access-token strategy.
func ownGrantFactory(grant func(string) bool, now func() time.Time) func(fosite.Configurator, any, any) any {
	return func(cfg fosite.Configurator, store any, strategy any) any {
		return ownGrantHandler{
			helper: &oauth2.HandleHelper{
				AccessTokenStrategy: strategy.(oauth2.AccessTokenStrategy),
				AccessTokenStorage:  store.(oauth2.AccessTokenStorage),
				Config:              cfg,
			},
			config: cfg,
			grant:  grant,
			now:    now,
		}
	}
}

func (h ownGrantHandler) CanSkipClientAuth(context.Context, fosite.AccessRequester) bool {
	return false
}

func (h ownGrantHandler) CanHandleTokenEndpointRequest(_ context.Context, r fosite.AccessRequester) bool {
	gts := r.GetGrantTypes()
	return len(gts) == 1 && h.grant(gts[0])
}

// HandleTokenEndpointRequest checks the client before any grant-specific
// work, so that a client without the grant learns nothing about the
// credential it sent.
func (h ownGrantHandler) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	gt := r.GetGrantTypes()[0]
	c := r.GetClient()
	if c.IsPublic() {
		return fosite.ErrUnauthorizedClient.WithHintf("A public client may not use the grant %q.", gt)
	}
	if !c.GetGrantTypes().Has(gt) {
		return fosite.ErrUnauthorizedClient.WithHintf("The client is not allowed to use the grant %q.", gt)
	}
	for _, sc := range r.GetRequestedScopes() {
		if !h.config.GetScopeStrategy(ctx)(c.GetScopes(), sc) {
			return fosite.ErrInvalidScope.WithHintf("The client is not allowed to request scope %q.", sc)
		}
	}
	if err := h.config.GetAudienceStrategy(ctx)(c.GetAudience(), r.GetRequestedAudience()); err != nil {
		return err
	}
	lifespan := fosite.GetEffectiveLifespan(c, fosite.GrantType(gt), fosite.AccessToken, h.config.GetAccessTokenLifespan(ctx))
	r.GetSession().SetExpiresAt(fosite.AccessToken, h.now().UTC().Add(lifespan))
	return nil
}

// PopulateTokenEndpointResponse issues the access token, as fosite's
// client_credentials handler does (RFC 6749 section 4.4.3: no refresh
// token).
func (h ownGrantHandler) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	gt := r.GetGrantTypes()[0]
	lifespan := fosite.GetEffectiveLifespan(r.GetClient(), fosite.GrantType(gt), fosite.AccessToken, h.config.GetAccessTokenLifespan(ctx))
	_, err := h.helper.IssueAccessToken(ctx, lifespan, r, resp)
	return err
}
