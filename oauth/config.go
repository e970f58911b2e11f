package oauth

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys"
)

// Config is what the protocol layer needs; cmd/gatehouse fills it from the
// server configuration.
type Config struct {
	// Issuer is the exact "iss" of every token (RFC 9068 section 2.2).
	Issuer string
	// AccessTokenLifetime is the default access-token lifetime; clients
	// may override it. Default 10 minutes (design D1).
	AccessTokenLifetime time.Duration
	// RefreshTokenLifetime is the idle lifetime of one refresh token.
	RefreshTokenLifetime time.Duration
	// RefreshFamilyLifetime is the absolute lifetime of a refresh-token
	// family, from the password grant that started it (design D3).
	RefreshFamilyLifetime time.Duration
	// Leeway is the clock skew tolerated on the time claims of the access
	// tokens Gatehouse verifies itself (introspection, revocation), checked
	// by verifier.ValidateClaims as every Gatehouse verifier checks them.
	Leeway time.Duration
	// Password configures argon2id.
	Password PasswordParams
	// MaxBodyBytes bounds a token, introspection or revocation request.
	MaxBodyBytes int64
	// ClientCacheTTL is how long a client record is reused without reading
	// the store (0: never cached). It bounds how long a change made on
	// another instance takes to apply here.
	ClientCacheTTL time.Duration
	// Throttle holds the password-guessing limits (design D5).
	Throttle ThrottleLimits
	// TrustedProxies are the proxies whose forwarding header names the
	// client address; empty: the peer address is the client's.
	TrustedProxies []netip.Prefix
	// ForwardedHeader is the header trusted proxies set:
	// HeaderXForwardedFor (default) or HeaderForwarded.
	ForwardedHeader string
	// ProductName and LogoURI brand the hosted login, consent and logout
	// pages; LogoURI must be a data: URI (the pages load nothing from
	// elsewhere). Default "Gatehouse", no logo.
	ProductName string
	LogoURI     string
	// LoginSessionLifetime is how long a login on the hosted page lasts
	// before the user signs in again. Default 8 hours.
	LoginSessionLifetime time.Duration
	// LogoutRevokesFamilies makes RP-initiated logout also revoke the
	// refresh families issued in the ended login session.
	LogoutRevokesFamilies bool
	// AdminRole is the role that grants the admin API (default
	// "gatehouse-admin"): a trusted issuer's token never stands for a user
	// or client that holds it.
	AdminRole string
	// MaxTokenAge bounds now - iat of a trusted issuer's token when the
	// issuer sets no maximum (DefaultMaxTokenAge).
	MaxTokenAge time.Duration
	// FederationTimeout bounds one fetch of a trusted issuer's discovery
	// document or JWKS, and how long a request waits for one
	// (DefaultFederationTimeout).
	FederationTimeout time.Duration
	// FederationTransport, when set, carries those fetches (tests use it
	// to trust a test certificate); the host and scheme rules apply on
	// top of it. Default: a transport of its own.
	FederationTransport http.RoundTripper
	// ClientJWKSTimeout bounds one fetch of a private_key_jwt client's
	// jwks_uri. Default DefaultClientJWKSTimeout.
	ClientJWKSTimeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives request failures; never secrets.
	Logger *slog.Logger
	// Secrets seal the upstream login flow's cookie and upstream refresh
	// tokens, and open connector secrets (keys.Secrets.SealData); nil
	// switches connectors off (the login page offers none).
	Secrets *keys.Secrets
	// Rereaders re-read a linked user upstream at refresh, by connector
	// kind (UpstreamRereader); the OIDC kind's is built in. A link whose
	// kind has none is not re-read.
	Rereaders map[string]UpstreamRereader
	// Observer is told about requests, tokens, reuse, revocations,
	// throttle blocks and password-hash waits; nil observes nothing.
	Observer Observer
}

// Defaults for Config fields left zero.
const (
	DefaultAccessTokenLifetime   = 10 * time.Minute
	DefaultRefreshTokenLifetime  = 24 * time.Hour
	DefaultRefreshFamilyLifetime = 30 * 24 * time.Hour
	DefaultLeeway                = verifier.DefaultLeeway
	DefaultMaxBodyBytes          = 64 << 10
	DefaultLoginSessionLifetime  = 8 * time.Hour
)

// ScopeOfflineAccess asks for a refresh token with the password grant.
const ScopeOfflineAccess = "offline_access"

func (c *Config) setDefaults() {
	c.AccessTokenLifetime = cmp.Or(c.AccessTokenLifetime, DefaultAccessTokenLifetime)
	c.RefreshTokenLifetime = cmp.Or(c.RefreshTokenLifetime, DefaultRefreshTokenLifetime)
	c.RefreshFamilyLifetime = cmp.Or(c.RefreshFamilyLifetime, DefaultRefreshFamilyLifetime)
	c.Leeway = cmp.Or(c.Leeway, DefaultLeeway)
	c.AdminRole = cmp.Or(c.AdminRole, "gatehouse-admin")
	c.MaxBodyBytes = cmp.Or(c.MaxBodyBytes, DefaultMaxBodyBytes)
	c.ClientJWKSTimeout = cmp.Or(c.ClientJWKSTimeout, DefaultClientJWKSTimeout)
	if c.Now == nil {
		c.Now = time.Now
	}
	c.ProductName = cmp.Or(c.ProductName, "Gatehouse")
	c.LoginSessionLifetime = cmp.Or(c.LoginSessionLifetime, DefaultLoginSessionLifetime)
	c.Logger = cmp.Or(c.Logger, slog.New(slog.DiscardHandler))
	c.Observer = cmp.Or[Observer](c.Observer, NopObserver{})
	c.MaxTokenAge = cmp.Or(c.MaxTokenAge, DefaultMaxTokenAge)
	c.FederationTimeout = cmp.Or(c.FederationTimeout, DefaultFederationTimeout)
	if c.FederationTransport == nil {
		c.FederationTransport = defaultFederationTransport(c.FederationTimeout)
	}
	c.Password.setDefaults()
	c.Throttle.setDefaults()
	c.ForwardedHeader = cmp.Or(c.ForwardedHeader, HeaderXForwardedFor)
	c.Password.Observer = cmp.Or[PasswordObserver](c.Password.Observer, c.Observer)
}

// validate reports every problem at once.
func (c *Config) validate() error {
	var errs []error
	if c.Issuer == "" {
		errs = append(errs, errors.New("oauth: issuer is required"))
	}
	if c.AccessTokenLifetime < time.Second {
		errs = append(errs, fmt.Errorf("oauth: access token lifetime %v is too short", c.AccessTokenLifetime))
	}
	if c.RefreshFamilyLifetime < c.RefreshTokenLifetime {
		errs = append(errs, fmt.Errorf("oauth: refresh family lifetime %v is shorter than refresh token lifetime %v", c.RefreshFamilyLifetime, c.RefreshTokenLifetime))
	}
	if c.LogoURI != "" && !strings.HasPrefix(c.LogoURI, "data:image/") {
		errs = append(errs, errors.New("oauth: the logo must be a data:image/ URI"))
	}
	if err := c.Password.validate(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Throttle.validate(); err != nil {
		errs = append(errs, err)
	}
	if c.ForwardedHeader != HeaderXForwardedFor && c.ForwardedHeader != HeaderForwarded {
		errs = append(errs, fmt.Errorf("oauth: forwarded header %q: want %s or %s", c.ForwardedHeader, HeaderXForwardedFor, HeaderForwarded))
	}
	return errors.Join(errs...)
}

// tokenURL is the token endpoint's URL, as discovery publishes it: the
// audience a client assertion or a JWT bearer assertion names, and fosite's
// TokenURL.
func (c Config) tokenURL() string {
	return strings.TrimSuffix(c.Issuer, "/") + discovery.TokenPath
}
