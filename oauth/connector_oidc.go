package oauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
)

// Purposes of what the OIDC connector seals (keys.Secrets.SealData).
const (
	// sealConnectorSecret: a connector's client secret, id the connector's
	// (admin.SecretPurposeConnector).
	sealConnectorSecret = "connector"
	// sealUpstreamRefresh: an upstream refresh token, id
	// "<connector>\x00<subject>".
	sealUpstreamRefresh = "connector-refresh"
)

// Defaults of the OIDC connector.
const (
	// DefaultConnectorTimeout bounds each call to an upstream when the
	// connector sets none (as admin.DefaultConnectorTimeout).
	DefaultConnectorTimeout = 10 * time.Second
	// discoveryTTL is how long an upstream's discovery document and keys
	// are reused; a change of the connector drops them at once.
	discoveryTTL = time.Hour
	// maxUpstreamCall bounds any one upstream call, whatever its context
	// (admin.MaxConnectorTimeout).
	maxUpstreamCall = time.Minute
)

// Why an upstream OpenID provider's login failed; the login page shows a
// message per error.
var (
	// errUpstreamDown: the provider did not answer, answered late, or
	// answered something that is not its protocol.
	errUpstreamDown = errors.New("oauth: upstream provider unavailable")
	// errUpstreamForged: the ID token is not what the provider signed for
	// this login (signature, issuer, audience, expiry or nonce).
	errUpstreamForged = errors.New("oauth: upstream ID token refused")
	// errUpstreamRefused: the provider refused the code or the claims do
	// not identify a user.
	errUpstreamRefused = errors.New("oauth: upstream login refused")
)

// oidcUpstream runs Gatehouse's side of the authorization code flow with
// an upstream OpenID provider (OIDC Core 1.0 section 3.1) through go-oidc
// and x/oauth2, and implements UpstreamRereader for refreshes.
type oidcUpstream struct {
	issuer  string
	secrets *keys.Secrets
	now     func() time.Time
	// client makes every upstream call; its transport is http's default,
	// each call bounded by the connector's timeout through the context.
	// Its own Timeout bounds what go-oidc runs without a deadline (it
	// fetches a provider's JWKS with a context it never cancels).
	client *http.Client

	mu        sync.Mutex
	providers map[string]cachedProvider // by connector id
}

type cachedProvider struct {
	key     string // the settings the provider was discovered with
	p       *oidc.Provider
	fetched time.Time
}

func newOIDCUpstream(issuer string, secrets *keys.Secrets, now func() time.Time) *oidcUpstream {
	return &oidcUpstream{issuer: issuer, secrets: secrets, now: now,
		client: &http.Client{Transport: http.DefaultTransport, Timeout: maxUpstreamCall, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // an upstream's endpoints answer; they do not send Gatehouse elsewhere
		}},
		providers: map[string]cachedProvider{}}
}

// ConnectorPathPrefix is where the connectors' callbacks live:
// <issuer>/login/connectors/<id>/callback is the redirect URI to register
// at the upstream provider.
const ConnectorPathPrefix = "/login/connectors/"

// ConnectorCallbackURL is the redirect URI of connector id.
func ConnectorCallbackURL(issuer, id string) string {
	return strings.TrimSuffix(issuer, "/") + ConnectorPathPrefix + id + "/callback"
}

func connectorTimeout(c storage.Connector) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultConnectorTimeout
}

// upstreamContext carries the upstream HTTP client for go-oidc and
// x/oauth2.
func (u *oidcUpstream) upstreamContext(ctx context.Context) context.Context {
	ctx = oidc.ClientContext(ctx, u.client)
	return context.WithValue(ctx, oauth2.HTTPClient, u.client)
}

// provider returns connector c's discovered provider, discovering it
// (OpenID Connect Discovery 1.0; go-oidc checks that the document's issuer
// is c's) when it is not cached or c changed. Failures are not cached.
func (u *oidcUpstream) provider(ctx context.Context, c storage.Connector) (*oidc.Provider, error) {
	key := c.OIDC.Issuer + "\x00" + c.UpdatedAt.String()
	u.mu.Lock()
	cp, ok := u.providers[c.ID]
	u.mu.Unlock()
	if ok && cp.key == key && u.now().Sub(cp.fetched) < discoveryTTL {
		return cp.p, nil
	}
	p, err := oidc.NewProvider(u.upstreamContext(ctx), c.OIDC.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %w", errUpstreamDown, c.ID, err)
	}
	u.mu.Lock()
	u.providers[c.ID] = cachedProvider{key: key, p: p, fetched: u.now()}
	u.mu.Unlock()
	return p, nil
}

// oauth2Config is c's client at provider p.
func (u *oidcUpstream) oauth2Config(c storage.Connector, p *oidc.Provider) (*oauth2.Config, error) {
	secret := ""
	if len(c.SecretEnc) > 0 {
		b, err := u.secrets.OpenData(sealConnectorSecret, c.ID, c.SecretEnc)
		if err != nil {
			return nil, fmt.Errorf("connector %s: client secret: %w", c.ID, err)
		}
		secret = string(b)
	}
	return &oauth2.Config{ClientID: c.OIDC.ClientID, ClientSecret: secret, Endpoint: p.Endpoint(),
		RedirectURL: ConnectorCallbackURL(u.issuer, c.ID), Scopes: c.OIDC.Scopes}, nil
}

// authCodeURL starts the flow: the provider's authorization URL with
// state, nonce and an S256 PKCE challenge (RFC 7636) of verifier, and the
// client's prompt=login and max_age (OIDC Core 1.0 section 3.1.2.1), so
// that a request for a fresh login is not answered by the upstream's
// single sign-on session.
func (u *oidcUpstream) authCodeURL(ctx context.Context, c storage.Connector, state, nonce, verifier string, ra upstreamReauth) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, connectorTimeout(c))
	defer cancel()
	p, err := u.provider(ctx, c)
	if err != nil {
		return "", err
	}
	cfg, err := u.oauth2Config(c, p)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}
	if ra.Login {
		opts = append(opts, oauth2.SetAuthURLParam("prompt", "login"))
	}
	if ra.MaxAge != nil {
		opts = append(opts, oauth2.SetAuthURLParam("max_age", strconv.FormatInt(*ra.MaxAge, 10)))
	}
	return cfg.AuthCodeURL(state, opts...), nil
}

// exchange redeems code (with the PKCE verifier), verifies the ID token
// with go-oidc (signature against the provider's JWKS, iss, aud, exp) and
// its nonce, and returns the identity and the provider's tokens.
func (u *oidcUpstream) exchange(ctx context.Context, c storage.Connector, code, verifier, nonce string) (UpstreamIdentity, *oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(ctx, connectorTimeout(c))
	defer cancel()
	p, err := u.provider(ctx, c)
	if err != nil {
		return UpstreamIdentity{}, nil, err
	}
	cfg, err := u.oauth2Config(c, p)
	if err != nil {
		return UpstreamIdentity{}, nil, err
	}
	tok, err := cfg.Exchange(u.upstreamContext(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return UpstreamIdentity{}, nil, upstreamTokenError(c, err)
	}
	var authTime time.Time
	id, err := u.identity(ctx, c, p, tok, func(idt *oidc.IDToken) error {
		if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(nonce)) != 1 {
			return fmt.Errorf("%w: nonce does not match the login's", errUpstreamForged)
		}
		// auth_time (OIDC Core 1.0 section 2): a JSON number of seconds.
		var at struct {
			AuthTime *json.Number `json:"auth_time"`
		}
		if err := idt.Claims(&at); err != nil {
			return fmt.Errorf("%w: ID token claims: %w", errUpstreamForged, err)
		}
		if at.AuthTime != nil {
			n, err := strconv.ParseInt(at.AuthTime.String(), 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("%w: auth_time is not a positive integer", errUpstreamRefused)
			}
			authTime = time.Unix(n, 0).UTC()
		}
		// OIDC Core 1.0 section 3.1.3.7 items 4 and 5: a token for
		// several audiences must name Gatehouse as its authorized party.
		var azp struct {
			AZP string `json:"azp"`
		}
		if len(idt.Audience) > 1 && (idt.Claims(&azp) != nil || azp.AZP != c.OIDC.ClientID) {
			return fmt.Errorf("%w: several audiences and azp is not this client", errUpstreamForged)
		}
		return nil
	})
	id.AuthTime = authTime
	return id, tok, err
}

// upstreamTokenError classifies a token-endpoint failure: an OAuth error
// answer is a refusal (invalid_grant among them), anything else an
// outage.
func upstreamTokenError(c storage.Connector, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.ErrorCode != "" {
		if re.ErrorCode == "invalid_grant" {
			return fmt.Errorf("%w: connector %s: %w: %s", ErrUpstreamRevoked, c.ID, errUpstreamRefused, re.ErrorCode)
		}
		return fmt.Errorf("%w: connector %s: token endpoint answered %s", errUpstreamRefused, c.ID, re.ErrorCode)
	}
	return fmt.Errorf("%w: connector %s: token endpoint: %w", errUpstreamDown, c.ID, err)
}

// identity verifies tok's ID token, runs check on it, merges the
// userinfo claims (OIDC Core 1.0 section 5.3; its sub must be the ID
// token's, section 5.3.4) under the ID token's, and reads the identity. A
// refresh response may lack an ID token (OIDC Core 1.0 section 12.2):
// with check nil, userinfo alone is read then (the caller compares the
// subject with the one it knows).
func (u *oidcUpstream) identity(ctx context.Context, c storage.Connector, p *oidc.Provider, tok *oauth2.Token,
	check func(*oidc.IDToken) error) (UpstreamIdentity, error) {
	claims := map[string]any{}
	sub := ""
	raw, _ := tok.Extra("id_token").(string)
	switch {
	case raw != "":
		idt, err := p.Verifier(&oidc.Config{ClientID: c.OIDC.ClientID, Now: u.now}).Verify(u.upstreamContext(ctx), raw)
		if err != nil {
			if ctx.Err() != nil {
				return UpstreamIdentity{}, fmt.Errorf("%w: %w", errUpstreamDown, err)
			}
			return UpstreamIdentity{}, fmt.Errorf("%w: %w", errUpstreamForged, err)
		}
		if check != nil {
			if err := check(idt); err != nil {
				return UpstreamIdentity{}, err
			}
		}
		if err := idt.Claims(&claims); err != nil {
			return UpstreamIdentity{}, fmt.Errorf("%w: ID token claims: %w", errUpstreamForged, err)
		}
		sub = idt.Subject
	case check != nil || p.UserInfoEndpoint() == "":
		return UpstreamIdentity{}, fmt.Errorf("%w: no ID token in the token response", errUpstreamRefused)
	}
	if p.UserInfoEndpoint() != "" && tok.AccessToken != "" {
		ui, err := p.UserInfo(u.upstreamContext(ctx), oauth2.StaticTokenSource(tok))
		if err != nil {
			return UpstreamIdentity{}, fmt.Errorf("%w: userinfo: %w", errUpstreamDown, err)
		}
		if ui.Subject == "" || sub != "" && ui.Subject != sub {
			return UpstreamIdentity{}, fmt.Errorf("%w: userinfo sub is not the user's", errUpstreamForged)
		}
		extra := map[string]any{}
		if err := ui.Claims(&extra); err != nil {
			return UpstreamIdentity{}, fmt.Errorf("%w: userinfo claims: %w", errUpstreamRefused, err)
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	return identityFromClaims(c, claims)
}

// identityFromClaims reads an upstream identity from an OpenID provider's
// claims: the subject from c.OIDC.SubjectClaim (default "sub"); email,
// email_verified (a JSON boolean only), name and preferred_username (OIDC
// Core 1.0 section 5.1); the roles at c.RolesClaim, as the verifier reads
// a roles claim.
func identityFromClaims(c storage.Connector, claims map[string]any) (UpstreamIdentity, error) {
	str := func(k string) string { s, _ := claims[k].(string); return s }
	subClaim := cmpOr(c.OIDC.SubjectClaim, "sub")
	id := UpstreamIdentity{Subject: str(subClaim), Email: str("email"), Name: str("name"),
		PreferredUsername: str("preferred_username")}
	id.EmailVerified, _ = claims["email_verified"].(bool)
	if id.Subject == "" {
		return UpstreamIdentity{}, fmt.Errorf("%w: claim %q missing or not a string", errUpstreamRefused, subClaim)
	}
	if c.RolesClaim != "" {
		path, err := verifier.ParseClaimPath(c.RolesClaim)
		if err != nil {
			return UpstreamIdentity{}, fmt.Errorf("connector %s: roles claim: %w", c.ID, err)
		}
		if id.Roles, err = path.Roles(claims); err != nil {
			return UpstreamIdentity{}, fmt.Errorf("%w: %w", errUpstreamRefused, err)
		}
	}
	return id, nil
}

// sealRefresh seals an upstream refresh token for link (connector,
// subject); empty is none.
func (u *oidcUpstream) sealRefresh(connectorID, subject, token string) ([]byte, error) {
	if token == "" {
		return nil, nil
	}
	return u.secrets.SealData(sealUpstreamRefresh, connectorID+"\x00"+subject, []byte(token))
}

// Reread refreshes the upstream grant with the link's refresh token and
// reads the identity from the new ID token (and userinfo). A link without
// an upstream refresh token cannot be re-read, and an upstream answering
// invalid_grant no longer vouches for the user: both are
// ErrUpstreamRevoked. A rotated upstream refresh token comes back in the
// link.
func (u *oidcUpstream) Reread(ctx context.Context, c storage.Connector, link storage.IdentityLink) (UpstreamIdentity, storage.IdentityLink, error) {
	if len(link.RefreshTokenEnc) == 0 {
		return UpstreamIdentity{}, link, fmt.Errorf("%w: connector %s gave no refresh token at login (ask for offline_access)", ErrUpstreamRevoked, c.ID)
	}
	rt, err := u.secrets.OpenData(sealUpstreamRefresh, c.ID+"\x00"+link.Subject, link.RefreshTokenEnc)
	if err != nil {
		// Sealed under a master secret since dropped: the user signs in
		// again, which stores a new one.
		return UpstreamIdentity{}, link, fmt.Errorf("%w: connector %s: upstream refresh token: %w", ErrUpstreamRevoked, c.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, connectorTimeout(c))
	defer cancel()
	p, err := u.provider(ctx, c)
	if err != nil {
		return UpstreamIdentity{}, link, err
	}
	cfg, err := u.oauth2Config(c, p)
	if err != nil {
		return UpstreamIdentity{}, link, err
	}
	tok, err := cfg.TokenSource(u.upstreamContext(ctx), &oauth2.Token{RefreshToken: string(rt)}).Token()
	if err != nil {
		return UpstreamIdentity{}, link, upstreamTokenError(c, err)
	}
	id, err := u.identity(ctx, c, p, tok, nil)
	if err != nil {
		return UpstreamIdentity{}, link, err
	}
	if id.Subject != link.Subject {
		return UpstreamIdentity{}, link, fmt.Errorf("%w: the refreshed identity is another user", ErrUpstreamRevoked)
	}
	// Sealed again at each refresh, rotated or not, so that it moves to
	// the current master secret.
	next := cmpOr(tok.RefreshToken, string(rt))
	if link.RefreshTokenEnc, err = u.sealRefresh(c.ID, link.Subject, next); err != nil {
		return UpstreamIdentity{}, link, err
	}
	return id, link, nil
}
