package oauth

import (
	"context"
	"errors"
	"html/template"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
)

// Server serves the token, introspection and revocation endpoints.
type Server struct {
	cfg      Config
	store    storage.Store
	ring     *keys.Ring
	provider fosite.OAuth2Provider
	adapter  *fositeStore
	hasher   *PasswordHasher
	logger   *slog.Logger
	obs      Observer
	// pages are the hosted login, consent, logout and error pages.
	pages *template.Template
	// origins are the clients' web origins, for CORS.
	origins *originSet
	// issuers holds a verifier per trusted issuer (federation_fetch.go).
	issuers *issuerVerifiers
	// forwardedIgnored: the warning about a forwarding header without
	// trusted proxies was logged (clientaddr.go).
	forwardedIgnored atomic.Bool
	// assertions authenticates private_key_jwt clients
	// (client_assertion.go).
	assertions *assertionAuth
	// upstream runs logins through OIDC connectors; nil without
	// Config.Secrets. rereaders re-read linked users at refresh, by
	// connector kind.
	upstream  *oidcUpstream
	rereaders map[string]UpstreamRereader
}

// New builds the protocol layer over store and ring.
func New(cfg Config, store storage.Store, ring *keys.Ring) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	hasher, err := NewPasswordHasher(cfg.Password)
	if err != nil {
		return nil, err
	}
	adapter := &fositeStore{store: store, hasher: hasher, now: cfg.Now, logger: cfg.Logger, issuer: cfg.Issuer,
		refreshLifetime: cfg.RefreshTokenLifetime, familyLifetime: cfg.RefreshFamilyLifetime,
		clients: newClientCache(cfg.ClientCacheTTL), ldap: ldapKind{secrets: cfg.Secrets}}
	adapter.throttle = &throttle{store: store, limits: cfg.Throttle, now: cfg.Now, logger: cfg.Logger, observer: cfg.Observer}
	s := &Server{cfg: cfg, store: store, ring: ring, adapter: adapter, hasher: hasher, logger: cfg.Logger, obs: cfg.Observer,
		pages: pageTemplates()}
	s.issuers = &issuerVerifiers{issuer: cfg.Issuer, tokenURL: cfg.tokenURL(), leeway: cfg.Leeway,
		timeout: cfg.FederationTimeout, transport: cfg.FederationTransport, now: cfg.Now, logger: cfg.Logger,
		m: map[string]cachedVerifier{}}
	s.origins = &originSet{list: s.webOrigins, ttl: cfg.ClientCacheTTL, now: cfg.Now}
	s.assertions = &assertionAuth{store: adapter, fetcher: newJWKSFetcher(cfg.ClientJWKSTimeout, cfg.Now),
		audiences: []string{cfg.tokenURL(), cfg.Issuer}, leeway: cfg.Leeway, now: cfg.Now, logger: cfg.Logger}
	s.provider = newProvider(cfg, adapter, ring, s.assertions)
	// The LDAP kind re-reads the directory (connector_ldap.go); it needs
	// the secrets only to open a bind password.
	s.rereaders = map[string]UpstreamRereader{storage.ConnectorLDAP: adapter.ldap}
	if cfg.Secrets != nil {
		s.upstream = newOIDCUpstream(cfg.Issuer, cfg.Secrets, cfg.Now)
		s.rereaders[storage.ConnectorOIDC] = s.upstream
	}
	for kind, rr := range cfg.Rereaders {
		s.rereaders[kind] = rr
	}
	return s, nil
}

// newProvider composes fosite from exactly the handlers Gatehouse serves.
// Every fosite setting that has a lazy default is set here: the lazy
// getters write to the config on first use, a data race under concurrent
// first requests.
func newProvider(cfg Config, store fositeStorage, ring *keys.Ring, assertions *assertionAuth) fosite.OAuth2Provider {
	fc := &fosite.Config{
		AccessTokenLifespan:  cfg.AccessTokenLifetime,
		RefreshTokenLifespan: cfg.RefreshTokenLifetime,
		// Unused grants still get a lifespan so no getter writes lazily.
		AuthorizeCodeLifespan: codeLifetime,
		IDTokenLifespan:       cfg.AccessTokenLifetime,
		AccessTokenIssuer:     cfg.Issuer,
		IDTokenIssuer:         cfg.Issuer,
		// RFC 9068 section 2.2.3: "scope" is a space-separated string.
		JWTScopeClaimKey:         jwt.JWTScopeFieldString,
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: audienceStrategy,
		// Client secrets are 256-bit random values: SHA-256 (design D4),
		// not fosite's default bcrypt.
		ClientSecretsHasher: secretHasher{},
		RefreshTokenScopes:  []string{ScopeOfflineAccess},
		TokenURL:            cfg.tokenURL(),
		MinParameterEntropy: fosite.MinParameterEntropy,
		// PKCE with S256 for every client, public or confidential (RFC
		// 9700 section 2.1.1); without it fosite lets a code be redeemed
		// with no verifier after a wrong one (FOSITE-OIDC.md).
		EnforcePKCE:                    true,
		EnablePKCEPlainChallengeMethod: false,
		// A code is stored with the parameters its redemption checks.
		SanitationWhiteList: codeFormParameters(),
		// Client assertions are Gatehouse's (client_assertion.go); the
		// fetcher is set too so that no fosite path builds its default
		// one (15 s of retries, then 500).
		JWKSFetcherStrategy: jwksStrategy{assertions.fetcher},
	}
	// Access tokens are JWTs signed by Gatehouse's signer; refresh tokens
	// are Gatehouse's own (refresh.go). fosite's HMAC strategy is left
	// only for authorization codes, which are not served, so no HMAC
	// secret is configured: master-secret rotation touches no token.
	jwtStrategy := compose.NewOAuth2JWTStrategy(
		func(context.Context) (any, error) { return nil, errors.New("oauth: fosite's own signer is not used") },
		compose.NewOAuth2HMACStrategy(fc),
		fc,
	)
	jwtStrategy.Signer = &signer{ring: ring}
	idTokens := &openid.DefaultStrategy{Signer: &signer{ring: ring, idTokens: true}, Config: fc}
	strategy := tokenStrategy{DefaultJWTStrategy: jwtStrategy, idTokens: idTokens, now: cfg.Now}
	// Handlers run in this order: an ID token hashes the access token a
	// grant handler before it made (at_hash).
	provider := compose.Compose(fc, store, strategy,
		// The code flow: fosite's order, PKCE after the code handler
		// (FOSITE-OIDC.md "Composition").
		ownGrantAndAuthorize[*oauth2.AuthorizeExplicitGrantHandler](compose.OAuth2AuthorizeExplicitFactory),
		ownGrantAndAuthorize[*pkce.Handler](compose.OAuth2PKCEFactory),
		ownGrantAndAuthorize[*openid.OpenIDConnectExplicitHandler](compose.OpenIDConnectExplicitFactory),
		ownGrantOnly[*oauth2.ClientCredentialsGrantHandler](compose.OAuth2ClientCredentialsGrantFactory),
		ownGrantOnly[*oauth2.ResourceOwnerPasswordCredentialsGrantHandler](compose.OAuth2ResourceOwnerPasswordCredentialsFactory),
		func(fosite.Configurator, any, any) any {
			return passwordIDTokenHandler{helper: &openid.IDTokenHandleHelper{IDTokenStrategy: strategy},
				lifespan: cfg.AccessTokenLifetime, now: cfg.Now}
		},
		ownGrantOnly[*oauth2.RefreshTokenGrantHandler](compose.OAuth2RefreshTokenGrantFactory),
		openIDRefreshOnly(compose.OpenIDConnectRefreshFactory),
		ownGrantFactory(selfCheckedGrant, cfg.Now),
		compose.OAuth2TokenIntrospectionFactory,
		compose.OAuth2TokenRevocationFactory,
	)
	// private_key_jwt (RFC 7523 section 2.2) is Gatehouse's; the secret
	// methods stay fosite's. Set before the first request.
	fc.ClientAuthenticationStrategy = assertions.strategy(provider.(*fosite.Fosite).DefaultClientAuthenticationStrategy)
	return provider
}

// ownGrantOnly wraps a grant factory so that its handler answers a request
// for another grant without work. fosite asks every grant handler to
// populate every token response, and the others answer with an error that
// carries a stack trace: 7% of a client_credentials request's CPU. The
// wrapper is generic because fosite keeps one handler per dynamic type.
func ownGrantOnly[H fosite.TokenEndpointHandler](f func(fosite.Configurator, any, any) any) compose.Factory {
	return func(cfg fosite.Configurator, store any, strategy any) any {
		return grantHandler[H]{f(cfg, store, strategy).(H)}
	}
}

type grantHandler[H fosite.TokenEndpointHandler] struct{ h H }

// openIDRefreshOnly is ownGrantOnly for fosite's OpenID Connect refresh
// handler, which also answers a refresh without openid with a
// stack-traced error.
func openIDRefreshOnly(f func(fosite.Configurator, any, any) any) compose.Factory {
	return func(cfg fosite.Configurator, store any, strategy any) any {
		return openIDRefresh{grantHandler[*openid.OpenIDConnectRefreshHandler]{f(cfg, store, strategy).(*openid.OpenIDConnectRefreshHandler)}}
	}
}

type openIDRefresh struct {
	grantHandler[*openid.OpenIDConnectRefreshHandler]
}

func (o openIDRefresh) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	if !r.GetGrantedScopes().Has(ScopeOpenID) {
		return fosite.ErrUnknownRequest
	}
	return o.grantHandler.HandleTokenEndpointRequest(ctx, r)
}

func (o openIDRefresh) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !r.GetGrantedScopes().Has(ScopeOpenID) {
		return fosite.ErrUnknownRequest
	}
	return o.grantHandler.PopulateTokenEndpointResponse(ctx, r, resp)
}

// ownGrantAndAuthorize is ownGrantOnly for a handler that also serves the
// authorization endpoint (the code flow's): its authorize side is passed
// through unchanged.
func ownGrantAndAuthorize[H interface {
	fosite.TokenEndpointHandler
	fosite.AuthorizeEndpointHandler
}](f func(fosite.Configurator, any, any) any) compose.Factory {
	return func(cfg fosite.Configurator, store any, strategy any) any {
		return grantAndAuthorizeHandler[H]{grantHandler[H]{f(cfg, store, strategy).(H)}}
	}
}

type grantAndAuthorizeHandler[H interface {
	fosite.TokenEndpointHandler
	fosite.AuthorizeEndpointHandler
}] struct{ grantHandler[H] }

func (g grantAndAuthorizeHandler[H]) HandleAuthorizeEndpointRequest(ctx context.Context, r fosite.AuthorizeRequester, resp fosite.AuthorizeResponder) error {
	return g.h.HandleAuthorizeEndpointRequest(ctx, r, resp)
}

func (g grantHandler[H]) PopulateTokenEndpointResponse(ctx context.Context, r fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !g.h.CanHandleTokenEndpointRequest(ctx, r) {
		return fosite.ErrUnknownRequest
	}
	return g.h.PopulateTokenEndpointResponse(ctx, r, resp)
}

func (g grantHandler[H]) HandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) error {
	return g.h.HandleTokenEndpointRequest(ctx, r)
}

func (g grantHandler[H]) CanSkipClientAuth(ctx context.Context, r fosite.AccessRequester) bool {
	return g.h.CanSkipClientAuth(ctx, r)
}

func (g grantHandler[H]) CanHandleTokenEndpointRequest(ctx context.Context, r fosite.AccessRequester) bool {
	return g.h.CanHandleTokenEndpointRequest(ctx, r)
}

// errInvalidTarget is RFC 8707 section 2's error for a resource or
// audience the client may not ask for.
var errInvalidTarget = &fosite.RFC6749Error{
	ErrorField:       "invalid_target",
	DescriptionField: "The requested resource or audience is invalid, unknown, or not allowed for this client.",
	CodeField:        400,
}

// audienceStrategy allows exactly the client's registered audiences.
func audienceStrategy(allowed []string, requested []string) error {
	for _, a := range requested {
		found := false
		for _, b := range allowed {
			if a == b {
				found = true
				break
			}
		}
		if !found {
			return errInvalidTarget.WithHintf("Audience %q is not allowed for this client.", a)
		}
	}
	return nil
}

// ForgetClient drops a client from this process's cache, so that an
// administrative change applies to its next request.
func (s *Server) ForgetClient(id string) { s.adapter.clients.forget(id) }

// PasswordHasher returns the hasher for administration code that sets
// passwords.
func (s *Server) PasswordHasher() *PasswordHasher { return s.hasher }

// now is the configured clock.
func (s *Server) now() time.Time { return s.cfg.Now() }
