package verifier

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults applied by New to zero-valued Config fields.
const (
	DefaultLeeway             = 30 * time.Second
	DefaultMaxTokenSize       = 16 << 10
	DefaultMinRefreshInterval = 10 * time.Second
	DefaultKeysTTL            = 5 * time.Minute
	DefaultKeysMinTTL         = 30 * time.Second
	DefaultKeysMaxTTL         = 24 * time.Hour
	DefaultHTTPTimeout        = 10 * time.Second

	// maxKeyIDLen bounds the "kid" header; Gatehouse kids are 43-character
	// RFC 7638 thumbprints, so anything near this is an attack or a bug.
	maxKeyIDLen = 256
	// maxDocumentSize bounds discovery and JWKS response bodies.
	maxDocumentSize = 1 << 20
	// maxKeys bounds how many keys of a JWKS are kept.
	maxKeys = 100
)

// DefaultAlgorithms are the JWS algorithms (RFC 7518 §3.1, RFC 8037 §3.1)
// accepted when Config.Algorithms is empty. It is a function so that no
// caller can change the package default.
func DefaultAlgorithms() []string {
	return []string{"ES256", "ES384", "RS256", "PS256", "EdDSA"}
}

// DefaultTypes are the "typ" header values accepted when Config.Types is
// empty: the RFC 9068 §4 access-token type in both its spellings.
func DefaultTypes() []string { return []string{"at+jwt", "application/at+jwt"} }

// DefaultScopeClaims are the claims scopes are read from when
// Config.ScopeClaims is empty: the "scope" claim of RFC 9068 §2.2.3.
func DefaultScopeClaims() []string { return []string{"scope"} }

// registeredClaim reports whether name is a claim the verifier decodes into
// its own Claims field, which a roles or scope claim must not be.
func registeredClaim(name string) bool {
	switch name {
	case "iss", "sub", "aud", "exp", "nbf", "iat", "jti", "client_id":
		return true
	}
	return false
}

// supportedAlgorithm reports whether the verifier can check alg. "none"
// and the HMAC algorithms are deliberately absent: a resource server never
// shares a secret with the issuer (RFC 8725 §3.1, §3.2).
func supportedAlgorithm(alg string) bool {
	switch alg {
	case "ES256", "ES384", "ES512",
		"RS256", "RS384", "RS512",
		"PS256", "PS384", "PS512",
		"EdDSA":
		return true
	}
	return false
}

// Config configures a Verifier. Zero values select the documented defaults.
type Config struct {
	// Issuer is the authorization server's issuer identifier (RFC 8414 §2),
	// compared byte for byte with the discovery document's "issuer" and
	// the token's "iss". Required.
	Issuer string
	// Audience is this resource server's identifier; the token's "aud"
	// must contain it (RFC 9068 §4). Required unless Audiences is set.
	Audience string
	// Audiences are further accepted audiences: the token's "aud" must
	// contain Audience or one of these. An authorization server that
	// accepts assertions names itself in two ways (RFC 7523 §3: its issuer
	// or its token endpoint).
	Audiences []string
	// JWKSURI, when set, is where the keys are fetched from; the discovery
	// document is then never fetched. Default: the discovery document's
	// "jwks_uri".
	JWKSURI string
	// Algorithms is the allow-list of JWS "alg" values; default
	// DefaultAlgorithms. "none" and HS* are rejected by New.
	Algorithms []string
	// Types is the list of accepted "typ" header values, compared
	// case-insensitively with an optional "application/" prefix (RFC 7515
	// §4.1.9). Default DefaultTypes. Add "JWT" for third-party issuers
	// that do not implement RFC 9068, and "" to accept a missing "typ".
	Types []string

	// RolesClaim is where Claims.Roles is read from: a claim, possibly
	// nested (see ClaimPath), holding an array of strings or a
	// space-separated string. Default DefaultRolesClaim, the root "roles".
	// Keycloak: {"realm_access", "roles"}; Entra ID: {"roles"} (app roles)
	// or {"groups"}; Okta: {"groups"}; Auth0: {"https://your.namespace/roles"}.
	// A missing or null claim means no roles; a claim of another type (or a
	// non-object on the way) makes the token malformed: 401, never a
	// request admitted with fewer roles.
	RolesClaim ClaimPath
	// RoleMap, when not empty, maps the issuer's role names to this
	// service's and is an allow-list: roles it does not name are dropped.
	// Several upstream roles may map to one local role. Empty keeps the
	// issuer's roles as they are.
	RoleMap map[string]string
	// ScopeClaims are the claims Claims.Scopes is read from, in order of
	// precedence: the first one present and not null is read (a string is
	// split on spaces, an array taken as it is) and the rest are ignored,
	// never merged. Default DefaultScopeClaims, "scope" only (RFC 9068
	// §2.2.3, RFC 8693 §4.2). Entra ID and Okta put scopes in "scp":
	// {"scp"}, or {"scope", "scp"} to take "scope" when a token has it.
	ScopeClaims []string

	// Leeway is the clock skew tolerated on "exp", "nbf" and "iat".
	// Zero means DefaultLeeway; a negative value means no leeway.
	Leeway time.Duration
	// MaxTokenSize caps the token length in bytes before any parsing.
	// Default DefaultMaxTokenSize.
	MaxTokenSize int
	// HTTPClient fetches discovery and JWKS documents. Default: a client
	// with a DefaultHTTPTimeout timeout.
	HTTPClient *http.Client
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Logger receives key-fetch failures; default discards.
	Logger *slog.Logger

	// MinRefreshInterval is the shortest time between two JWKS fetches
	// triggered by an unknown "kid" or by a retry after a failed fetch.
	// Default DefaultMinRefreshInterval.
	MinRefreshInterval time.Duration
	// KeysTTL is how long a key set is cached when the JWKS response has
	// no Cache-Control max-age. Default DefaultKeysTTL.
	KeysTTL time.Duration
	// KeysMinTTL and KeysMaxTTL bound the max-age the issuer advertises.
	// Defaults DefaultKeysMinTTL and DefaultKeysMaxTTL.
	KeysMinTTL, KeysMaxTTL time.Duration

	// TokenCacheSize, when positive, enables a cache of that many verified
	// tokens so a token seen again skips signature verification until it
	// expires. Default 0 (off).
	TokenCacheSize int
}

// withDefaults returns cfg with every zero field set to its default.
func (cfg Config) withDefaults() Config {
	if len(cfg.Algorithms) == 0 {
		cfg.Algorithms = DefaultAlgorithms()
	}
	if len(cfg.Types) == 0 {
		cfg.Types = DefaultTypes()
	}
	if len(cfg.RolesClaim) == 0 {
		cfg.RolesClaim = DefaultRolesClaim()
	}
	if len(cfg.ScopeClaims) == 0 {
		cfg.ScopeClaims = DefaultScopeClaims()
	}
	switch {
	case cfg.Leeway == 0:
		cfg.Leeway = DefaultLeeway
	case cfg.Leeway < 0:
		cfg.Leeway = 0
	}
	if cfg.MaxTokenSize == 0 {
		cfg.MaxTokenSize = DefaultMaxTokenSize
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MinRefreshInterval == 0 {
		cfg.MinRefreshInterval = DefaultMinRefreshInterval
	}
	if cfg.KeysTTL == 0 {
		cfg.KeysTTL = DefaultKeysTTL
	}
	if cfg.KeysMinTTL == 0 {
		cfg.KeysMinTTL = DefaultKeysMinTTL
	}
	if cfg.KeysMaxTTL == 0 {
		cfg.KeysMaxTTL = DefaultKeysMaxTTL
	}
	return cfg
}

// Validate reports every problem with cfg at once. It checks cfg as given;
// New applies defaults before validating.
func (cfg Config) Validate() error {
	var errs []error
	if cfg.Issuer == "" {
		errs = append(errs, errors.New("issuer is required"))
	} else if u, err := url.Parse(cfg.Issuer); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		// RFC 8414 §2: an https URL with no query or fragment; http is
		// tolerated for local development.
		errs = append(errs, fmt.Errorf("issuer %q is not an http(s) URL without query or fragment", cfg.Issuer))
	}
	if cfg.Audience == "" && len(cfg.Audiences) == 0 {
		errs = append(errs, errors.New("audience is required"))
	}
	for _, a := range cfg.Audiences {
		if a == "" {
			errs = append(errs, errors.New("audiences has an empty audience"))
		}
	}
	if cfg.JWKSURI != "" {
		if u, err := url.Parse(cfg.JWKSURI); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fmt.Errorf("jwks uri %q is not an http(s) URL", cfg.JWKSURI))
		}
	}
	for _, alg := range cfg.Algorithms {
		if !supportedAlgorithm(alg) {
			errs = append(errs, fmt.Errorf("algorithm %q is not allowed (want one of ES256/384/512, RS256/384/512, PS256/384/512, EdDSA)", alg))
		}
	}
	for _, seg := range cfg.RolesClaim {
		if seg == "" || !utf8.ValidString(seg) {
			errs = append(errs, fmt.Errorf("roles claim %q has an empty or non-UTF-8 claim name", cfg.RolesClaim.String()))
		}
	}
	if len(cfg.RolesClaim) > 0 && registeredClaim(cfg.RolesClaim[0]) {
		errs = append(errs, fmt.Errorf("roles claim %q is a registered claim", cfg.RolesClaim.String()))
	}
	for _, name := range cfg.ScopeClaims {
		if name == "" || registeredClaim(name) {
			errs = append(errs, fmt.Errorf("scope claim %q is empty or a registered claim", name))
		}
	}
	for from, to := range cfg.RoleMap {
		if from == "" || to == "" {
			errs = append(errs, fmt.Errorf("role mapping %q -> %q has an empty role", from, to))
		}
	}
	if cfg.MaxTokenSize < 0 {
		errs = append(errs, fmt.Errorf("max token size %d is negative", cfg.MaxTokenSize))
	}
	if cfg.MinRefreshInterval < 0 || cfg.KeysTTL < 0 || cfg.KeysMinTTL < 0 || cfg.KeysMaxTTL < 0 {
		errs = append(errs, errors.New("refresh interval and key TTLs must not be negative"))
	}
	if cfg.KeysMaxTTL > 0 && cfg.KeysMinTTL > cfg.KeysMaxTTL {
		errs = append(errs, fmt.Errorf("keys min TTL %v exceeds max TTL %v", cfg.KeysMinTTL, cfg.KeysMaxTTL))
	}
	if cfg.TokenCacheSize < 0 {
		errs = append(errs, fmt.Errorf("token cache size %d is negative", cfg.TokenCacheSize))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("verifier config: %w", err)
	}
	return nil
}

// normalizeType folds a "typ" value for comparison: media types are
// case-insensitive and "application/" may be omitted (RFC 7515 §4.1.9).
func normalizeType(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}
