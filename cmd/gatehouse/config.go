package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
)

// Config is the server's one typed configuration (design D11). Every field
// has a flag and a GATEHOUSE_* environment variable; a flag wins over the
// environment, the environment over the default.
type Config struct {
	Addr        string
	Issuer      string
	DatabaseURL string
	// Dev is the embedded dev mode, decided by chooseMode: in-memory
	// store and keys, printed demo credentials, loopback only.
	Dev                   bool
	SigningAlg            string
	AccessTokenLifetime   time.Duration
	RefreshTokenLifetime  time.Duration
	RefreshFamilyLifetime time.Duration
	JWKSMaxAge            time.Duration
	Scopes                []string
	Argon2MemoryKiB       uint
	Argon2Iterations      uint
	Argon2Parallelism     uint
	LogLevel              string
	LogFormat             string
	Pprof                 bool // net/http/pprof on the admin listener, behind admin authentication
	Migrate               bool
	// Secrets are the master secrets (GATEHOUSE_SECRETS, never a flag, so
	// they stay out of shell history) or a file of them.
	Secrets            string
	SecretsFile        string
	DBMaxConns         uint
	DBConnectTimeout   time.Duration
	DBStatementTimeout time.Duration
	RequestTimeout     time.Duration
	JanitorInterval    time.Duration
	ClientCacheTTL     time.Duration
	AdminAddr          string
	AdminRole          string
	AdminScope         string
	AdminAudience      string
	// InsecureHTTPIssuer allows an http:// issuer outside dev mode.
	InsecureHTTPIssuer bool
	// The hosted login pages (issue 14).
	ProductName           string
	LogoFile              string
	LoginSessionLifetime  time.Duration
	LogoutRevokesFamilies bool
	// TLSCert and TLSKey serve the public listener over TLS; AdminTLSCert
	// and AdminTLSKey the admin listener (default: the public pair).
	TLSCert            string
	TLSKey             string
	AdminTLSCert       string
	AdminTLSKey        string
	KeyPublishLead     time.Duration
	KeyRotationPeriod  time.Duration
	KeyRefreshInterval time.Duration
	// Password-guessing limits and hashing bounds (design D5).
	ThrottleWindow          time.Duration
	ThrottlePerUserAddress  uint
	ThrottlePerUser         uint
	ThrottlePerAddress      uint
	ThrottleSlowInterval    time.Duration
	PasswordHashConcurrency uint
	PasswordHashQueue       uint
	// TrustedProxies are the proxies whose ForwardedHeader names the
	// client address.
	TrustedProxies  []netip.Prefix
	ForwardedHeader string
	// Now is the clock; tests set it, nil means time.Now.
	Now func() time.Time
}

// configFlags registers the serve flags on fs, with defaults taken from
// the environment, and returns a function that finishes the Config after
// fs.Parse and validates it; serving adds the checks of the listeners,
// the issuer and dev mode, which only serve needs.
//
// Every GATEHOUSE_* variable the server reads is read here, so knownEnv
// can list them. No flag shows the database URL as its default: its
// password would reach --help and every usage message.
func configFlags(fs *flag.FlagSet, getenv func(string) string) (*Config, func(serving bool) error) {
	c := &Config{}
	var errs []error
	env := func(name, def string) string {
		if v := getenv(name); v != "" {
			return v
		}
		return def
	}
	dur := func(p *time.Duration, name, envName string, def time.Duration, usage string) {
		d := def
		if v := getenv(envName); v != "" {
			var err error
			if d, err = time.ParseDuration(v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", envName, err))
				d = def
			}
		}
		fs.DurationVar(p, name, d, usage+" (env "+envName+")")
	}
	uintv := func(p *uint, name, envName string, def uint, usage string) {
		d := def
		if v := getenv(envName); v != "" {
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %v", envName, err))
			} else {
				d = uint(n)
			}
		}
		fs.UintVar(p, name, d, usage+" (env "+envName+")")
	}
	boolv := func(p *bool, name, envName string, usage string) {
		d := false
		if v := getenv(envName); v != "" {
			var err error
			if d, err = strconv.ParseBool(v); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: want true or false", envName, v))
			}
		}
		fs.BoolVar(p, name, d, usage+" (env "+envName+"=true)")
	}
	fs.StringVar(&c.Addr, "addr", env("GATEHOUSE_ADDR", "127.0.0.1:8080"), "listen address (env GATEHOUSE_ADDR)")
	fs.StringVar(&c.Issuer, "issuer", getenv("GATEHOUSE_ISSUER"), "issuer URL, exactly as tokens carry it; required outside dev mode, where it defaults to http:// plus --addr (env GATEHOUSE_ISSUER)")
	databaseURL := databaseURLFlag(fs, getenv)
	fs.StringVar(&c.SigningAlg, "signing-alg", env("GATEHOUSE_SIGNING_ALG", keys.ES256), "access-token signing algorithm: ES256, RS256 or EdDSA (env GATEHOUSE_SIGNING_ALG)")
	dur(&c.AccessTokenLifetime, "access-token-lifetime", "GATEHOUSE_ACCESS_TOKEN_LIFETIME", 10*time.Minute, "default access-token lifetime")
	dur(&c.RefreshTokenLifetime, "refresh-token-lifetime", "GATEHOUSE_REFRESH_TOKEN_LIFETIME", 24*time.Hour, "idle lifetime of a refresh token")
	dur(&c.RefreshFamilyLifetime, "refresh-family-lifetime", "GATEHOUSE_REFRESH_FAMILY_LIFETIME", 30*24*time.Hour, "absolute lifetime of a refresh-token family")
	dur(&c.JWKSMaxAge, "jwks-max-age", "GATEHOUSE_JWKS_MAX_AGE", 5*time.Minute, "Cache-Control max-age of the JWKS and discovery documents")
	scopes := fs.String("scopes", env("GATEHOUSE_SCOPES", "openid profile email read write offline_access"), "scopes the server knows, space- or comma-separated (env GATEHOUSE_SCOPES)")
	uintv(&c.Argon2MemoryKiB, "argon2-memory-kib", "GATEHOUSE_ARGON2_MEMORY_KIB", 12*1024, "argon2id memory per password hash, KiB (OWASP: 12 MiB with 3 passes, or 19 MiB with 2)")
	uintv(&c.Argon2Iterations, "argon2-iterations", "GATEHOUSE_ARGON2_ITERATIONS", 3, "argon2id passes")
	uintv(&c.Argon2Parallelism, "argon2-parallelism", "GATEHOUSE_ARGON2_PARALLELISM", 1, "argon2id lanes")
	fs.StringVar(&c.LogLevel, "log-level", env("GATEHOUSE_LOG_LEVEL", "info"), "debug, info, warn or error (env GATEHOUSE_LOG_LEVEL)")
	fs.StringVar(&c.LogFormat, "log-format", env("GATEHOUSE_LOG_FORMAT", "text"), "text or json (env GATEHOUSE_LOG_FORMAT)")
	boolv(&c.Pprof, "pprof", "GATEHOUSE_PPROF", "serve Go profiles at "+PprofPrefix+" on the admin listener, behind admin authentication")
	c.Secrets = getenv(keys.EnvSecrets)
	fs.StringVar(&c.SecretsFile, "secrets-file", getenv(keys.EnvSecretsFile), "file of master secrets, one per line, the first encrypts (env GATEHOUSE_SECRETS_FILE; or set GATEHOUSE_SECRETS)")
	boolv(&c.Migrate, "migrate", "GATEHOUSE_MIGRATE", "apply pending database migrations before serving")
	uintv(&c.DBMaxConns, "database-max-conns", "GATEHOUSE_DATABASE_MAX_CONNS", 0, "PostgreSQL pool size; 0 means pgx's default (max of 4 and the CPU count)")
	dur(&c.DBConnectTimeout, "database-connect-timeout", "GATEHOUSE_DATABASE_CONNECT_TIMEOUT", 2*time.Second, "timeout for opening one database connection")
	dur(&c.DBStatementTimeout, "database-statement-timeout", "GATEHOUSE_DATABASE_STATEMENT_TIMEOUT", 2*time.Second, "PostgreSQL statement_timeout")
	dur(&c.RequestTimeout, "request-timeout", "GATEHOUSE_REQUEST_TIMEOUT", 5*time.Second, "deadline of one request's work; past it the answer is 503")
	dur(&c.JanitorInterval, "janitor-interval", "GATEHOUSE_JANITOR_INTERVAL", time.Minute, "how often expired refresh tokens and deny-list entries are deleted")
	fs.StringVar(&c.AdminAddr, "admin-addr", env("GATEHOUSE_ADMIN_ADDR", "127.0.0.1:8081"), "listen address of the admin API; empty disables it (env GATEHOUSE_ADMIN_ADDR)")
	fs.StringVar(&c.AdminRole, "admin-role", env("GATEHOUSE_ADMIN_ROLE", "gatehouse-admin"), "role that grants the admin API (env GATEHOUSE_ADMIN_ROLE)")
	fs.StringVar(&c.AdminScope, "admin-scope", env("GATEHOUSE_ADMIN_SCOPE", "gatehouse:admin"), "scope that grants the admin API (env GATEHOUSE_ADMIN_SCOPE)")
	fs.StringVar(&c.AdminAudience, "admin-audience", getenv("GATEHOUSE_ADMIN_AUDIENCE"), "audience admin tokens must carry; default the issuer (env GATEHOUSE_ADMIN_AUDIENCE)")
	dur(&c.ClientCacheTTL, "client-cache-ttl", "GATEHOUSE_CLIENT_CACHE_TTL", time.Second, "how long a client record is reused without a database read; bounds how long a change made on another instance takes to apply (0 disables)")
	dur(&c.KeyPublishLead, "key-publish-lead", "GATEHOUSE_KEY_PUBLISH_LEAD", 0, "how long a new key is published before it signs; 0 means JWKS max-age + refresh interval + 1m")
	dur(&c.KeyRotationPeriod, "key-rotation-period", "GATEHOUSE_KEY_ROTATION_PERIOD", 24*time.Hour, "how long a signing key signs before the next one takes over")
	dur(&c.KeyRefreshInterval, "key-refresh-interval", "GATEHOUSE_KEY_REFRESH_INTERVAL", 10*time.Second, "how often each instance rereads the signing keys from the store")
	dur(&c.ThrottleWindow, "throttle-window", "GATEHOUSE_THROTTLE_WINDOW", oauth.DefaultThrottleWindow, "password-guessing window: each counter lasts this long from its first attempt")
	uintv(&c.ThrottlePerUserAddress, "throttle-per-user-address", "GATEHOUSE_THROTTLE_PER_USER_ADDRESS", oauth.DefaultThrottlePerUserAddress, "password attempts per username from one client address per window")
	uintv(&c.ThrottlePerUser, "throttle-per-user", "GATEHOUSE_THROTTLE_PER_USER", oauth.DefaultThrottlePerUser, "password attempts per username from all addresses per window, before its slow lane")
	uintv(&c.ThrottlePerAddress, "throttle-per-address", "GATEHOUSE_THROTTLE_PER_ADDRESS", oauth.DefaultThrottlePerAddress, "password attempts per client address against all usernames per window")
	dur(&c.ThrottleSlowInterval, "throttle-slow-interval", "GATEHOUSE_THROTTLE_SLOW_INTERVAL", oauth.DefaultThrottleSlowInterval, "past --throttle-per-user, one attempt per this interval per username, from addresses that made none in the window")
	uintv(&c.PasswordHashConcurrency, "password-hash-concurrency", "GATEHOUSE_PASSWORD_HASH_CONCURRENCY", 0, "argon2id hashes run at once; 0 means the number of CPUs")
	uintv(&c.PasswordHashQueue, "password-hash-queue", "GATEHOUSE_PASSWORD_HASH_QUEUE", 0, "password hashes that may wait for a slot; past it 503; 0 means 32 per slot, at least 64")
	trustedProxies := fs.String("trusted-proxies", getenv("GATEHOUSE_TRUSTED_PROXIES"), "comma-separated CIDRs (or addresses) of proxies whose forwarding header names the client address; empty: the peer address is the client's (env GATEHOUSE_TRUSTED_PROXIES)")
	fs.StringVar(&c.ForwardedHeader, "forwarded-header", env("GATEHOUSE_FORWARDED_HEADER", oauth.HeaderXForwardedFor), "header the trusted proxies set: X-Forwarded-For or Forwarded (env GATEHOUSE_FORWARDED_HEADER)")
	fs.StringVar(&c.ProductName, "product-name", env("GATEHOUSE_PRODUCT_NAME", "Gatehouse"), "name shown on the hosted login, consent and logout pages (env GATEHOUSE_PRODUCT_NAME)")
	fs.StringVar(&c.LogoFile, "logo-file", getenv("GATEHOUSE_LOGO_FILE"), "PNG, JPEG or SVG logo for the hosted pages, embedded in them as a data: URI (env GATEHOUSE_LOGO_FILE)")
	dur(&c.LoginSessionLifetime, "login-session-lifetime", "GATEHOUSE_LOGIN_SESSION_LIFETIME", oauth.DefaultLoginSessionLifetime, "how long a sign-in on the hosted login page lasts")
	boolv(&c.LogoutRevokesFamilies, "logout-revokes-families", "GATEHOUSE_LOGOUT_REVOKES_FAMILIES", "RP-initiated logout also revokes the refresh tokens issued in the ended login session")
	boolv(&c.InsecureHTTPIssuer, "insecure-http-issuer", "GATEHOUSE_INSECURE_HTTP_ISSUER", "allow an http:// issuer outside dev mode: tokens, secrets and passwords then cross the network in clear unless a proxy in front adds TLS")
	fs.StringVar(&c.TLSCert, "tls-cert", getenv("GATEHOUSE_TLS_CERT"), "PEM certificate chain: serve HTTPS (TLS 1.2 or later) on --addr; reread when the file changes (env GATEHOUSE_TLS_CERT)")
	fs.StringVar(&c.TLSKey, "tls-key", getenv("GATEHOUSE_TLS_KEY"), "PEM private key of --tls-cert (env GATEHOUSE_TLS_KEY)")
	fs.StringVar(&c.AdminTLSCert, "admin-tls-cert", getenv("GATEHOUSE_ADMIN_TLS_CERT"), "PEM certificate chain of the admin listener; default --tls-cert (env GATEHOUSE_ADMIN_TLS_CERT)")
	fs.StringVar(&c.AdminTLSKey, "admin-tls-key", getenv("GATEHOUSE_ADMIN_TLS_KEY"), "PEM private key of --admin-tls-cert; default --tls-key (env GATEHOUSE_ADMIN_TLS_KEY)")
	dev := fs.Bool("dev", false, "embedded dev mode: in-memory store and keys, demo client and user, loopback only (the default without a database URL when --addr and --issuer are loopback)")

	finish := func(serving bool) error {
		c.Scopes = strings.FieldsFunc(*scopes, func(r rune) bool { return r == ' ' || r == ',' })
		c.DatabaseURL = databaseURL()
		if c.AdminTLSCert == "" && c.AdminTLSKey == "" {
			c.AdminTLSCert, c.AdminTLSKey = c.TLSCert, c.TLSKey
		}
		proxies, err := parsePrefixes(*trustedProxies)
		if err != nil {
			errs = append(errs, fmt.Errorf("--trusted-proxies: %v", err))
		}
		c.TrustedProxies = proxies
		issuerGiven := c.Issuer != ""
		if !issuerGiven {
			c.Issuer = "http://" + c.Addr
		}
		all := append(errs, c.Validate())
		if serving {
			all = append(all, c.chooseMode(*dev, issuerGiven))
		} else {
			c.Dev = c.DatabaseURL == ""
		}
		return errors.Join(all...)
	}
	return c, finish
}

// chooseMode decides between dev mode and production (design D11): dev
// mode when asked with --dev, or by default only where it is harmless (no
// database URL, a loopback listen address, an http:// loopback issuer);
// it never listens beyond loopback. Outside it, the issuer must be given
// and be https:// unless --insecure-http-issuer says otherwise.
func (c *Config) chooseMode(dev, issuerGiven bool) error {
	var errs []error
	switch {
	case dev && c.DatabaseURL != "":
		return errors.New("--dev runs the in-memory store: drop --dev, or unset GATEHOUSE_DATABASE_URL and --database-url")
	case dev:
		c.Dev = true
	case c.DatabaseURL == "":
		var why []string
		if !loopbackAddr(c.Addr) {
			why = append(why, fmt.Sprintf("--addr %q is not a loopback address", c.Addr))
		}
		if u, err := url.Parse(c.Issuer); err != nil || u.Scheme != "http" || !loopbackHost(u.Hostname()) {
			why = append(why, fmt.Sprintf("--issuer %q is not an http:// loopback URL", c.Issuer))
		}
		if len(why) > 0 {
			return fmt.Errorf("no database URL: set GATEHOUSE_DATABASE_URL (or --database-url) to run in production, or pass --dev for the in-memory dev mode on loopback; dev mode is not the default here because %s",
				strings.Join(why, " and "))
		}
		c.Dev = true
	}
	if c.Dev {
		if !loopbackAddr(c.Addr) {
			errs = append(errs, fmt.Errorf("--addr %q: dev mode listens on loopback only (127.0.0.1, ::1 or localhost)", c.Addr))
		}
		if c.AdminAddr != "" && !loopbackAddr(c.AdminAddr) {
			errs = append(errs, fmt.Errorf("--admin-addr %q: dev mode listens on loopback only (127.0.0.1, ::1 or localhost)", c.AdminAddr))
		}
		if u, err := url.Parse(c.Issuer); err == nil && !loopbackHost(u.Hostname()) {
			errs = append(errs, fmt.Errorf("--issuer %q: dev mode serves a loopback issuer only; its throwaway keys must never sign for a real one", c.Issuer))
		}
		return errors.Join(errs...)
	}
	if !issuerGiven {
		return errors.New("--issuer (GATEHOUSE_ISSUER) is required outside dev mode: the exact https:// URL clients reach this server at")
	}
	if strings.HasPrefix(c.Issuer, "http://") && !c.InsecureHTTPIssuer {
		return fmt.Errorf("--issuer %q: an http:// issuer outside dev mode sends tokens and secrets in clear; use https://, or pass --insecure-http-issuer (GATEHOUSE_INSECURE_HTTP_ISSUER=true) if a proxy in front adds TLS or this is a trial", c.Issuer)
	}
	return nil
}

// loopbackHost reports whether host names the loopback interface.
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// loopbackAddr reports whether a listen address binds loopback only (an
// empty host binds every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	return err == nil && loopbackHost(host)
}

// Validate reports every problem at once.
func (c *Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("--addr %q: %v", c.Addr, err))
	}
	if !strings.HasPrefix(c.Issuer, "https://") && !strings.HasPrefix(c.Issuer, "http://") {
		errs = append(errs, fmt.Errorf("--issuer %q: must be an http(s) URL", c.Issuer))
	} else if strings.HasSuffix(c.Issuer, "/") || strings.ContainsAny(c.Issuer, "?#") {
		errs = append(errs, fmt.Errorf("--issuer %q: no trailing slash, query or fragment", c.Issuer))
	}
	if !slices.Contains(keys.SupportedAlgorithms(), c.SigningAlg) {
		errs = append(errs, fmt.Errorf("--signing-alg %q: want one of %v", c.SigningAlg, keys.SupportedAlgorithms()))
	}
	if c.AccessTokenLifetime < 10*time.Second || c.AccessTokenLifetime > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--access-token-lifetime %v: must be between 10s and 24h", c.AccessTokenLifetime))
	}
	if c.RefreshTokenLifetime <= 0 || c.RefreshFamilyLifetime < c.RefreshTokenLifetime {
		errs = append(errs, fmt.Errorf("--refresh-token-lifetime %v and --refresh-family-lifetime %v: both positive, family not shorter", c.RefreshTokenLifetime, c.RefreshFamilyLifetime))
	}
	if c.JWKSMaxAge < 0 || c.JWKSMaxAge > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--jwks-max-age %v: must be between 0 and 24h", c.JWKSMaxAge))
	}
	if c.Argon2MemoryKiB < 8*1024 || c.Argon2Iterations < 1 || c.Argon2Parallelism < 1 || c.Argon2Parallelism > 255 {
		errs = append(errs, fmt.Errorf("argon2id parameters m=%d KiB t=%d p=%d: need m >= 8192, t >= 1, 1 <= p <= 255", c.Argon2MemoryKiB, c.Argon2Iterations, c.Argon2Parallelism))
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.LogLevel) {
		errs = append(errs, fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel))
	}
	if c.RequestTimeout < 100*time.Millisecond || c.DBConnectTimeout <= 0 || c.DBStatementTimeout < 0 || c.JanitorInterval < time.Second {
		errs = append(errs, fmt.Errorf("timeouts: --request-timeout %v (>= 100ms), --database-connect-timeout %v (> 0), --database-statement-timeout %v (>= 0), --janitor-interval %v (>= 1s)",
			c.RequestTimeout, c.DBConnectTimeout, c.DBStatementTimeout, c.JanitorInterval))
	}
	if c.AdminAddr != "" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			errs = append(errs, fmt.Errorf("--admin-addr %q: %v", c.AdminAddr, err))
		} else if c.AdminAddr == c.Addr {
			errs = append(errs, fmt.Errorf("--admin-addr %q: must differ from --addr", c.AdminAddr))
		}
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("--client-cache-ttl %v: must be between 0 and 1m", c.ClientCacheTTL))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("--log-format %q: want text or json", c.LogFormat))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("--tls-cert and --tls-key: give both or neither"))
	}
	if (c.AdminTLSCert == "") != (c.AdminTLSKey == "") {
		errs = append(errs, errors.New("--admin-tls-cert and --admin-tls-key: give both or neither"))
	}
	if c.ThrottleWindow < time.Second || c.ThrottleSlowInterval < time.Second || c.ThrottleSlowInterval > c.ThrottleWindow {
		errs = append(errs, fmt.Errorf("--throttle-window %v and --throttle-slow-interval %v: both at least 1s, the interval not longer than the window", c.ThrottleWindow, c.ThrottleSlowInterval))
	}
	if c.ThrottlePerUserAddress < 1 || c.ThrottlePerUser < 1 || c.ThrottlePerAddress < 1 {
		errs = append(errs, fmt.Errorf("--throttle-per-user-address %d, --throttle-per-user %d, --throttle-per-address %d: each at least 1", c.ThrottlePerUserAddress, c.ThrottlePerUser, c.ThrottlePerAddress))
	}
	if c.ForwardedHeader != oauth.HeaderXForwardedFor && c.ForwardedHeader != oauth.HeaderForwarded {
		errs = append(errs, fmt.Errorf("--forwarded-header %q: want %s or %s", c.ForwardedHeader, oauth.HeaderXForwardedFor, oauth.HeaderForwarded))
	}
	return errors.Join(errs...)
}

// parsePrefixes parses comma-separated CIDRs; a bare address is its own
// /32 or /128.
func parsePrefixes(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
		} else if a, err := netip.ParseAddr(f); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		} else {
			errs = append(errs, fmt.Errorf("%q is not a CIDR or an address", f))
		}
	}
	return out, errors.Join(errs...)
}

// throttleLimits are the password-guessing limits of c.
func (c *Config) throttleLimits() oauth.ThrottleLimits {
	return oauth.ThrottleLimits{
		Window:         c.ThrottleWindow,
		PerUserAddress: int(c.ThrottlePerUserAddress),
		PerUser:        int(c.ThrottlePerUser),
		PerAddress:     int(c.ThrottlePerAddress),
		SlowInterval:   c.ThrottleSlowInterval,
	}
}

// usage prints a subcommand's help with an example.
func usage(fs *flag.FlagSet, w io.Writer, synopsis, example string) func() {
	return func() {
		fmt.Fprintf(w, "Usage: %s\n\nExample:\n  %s\n\nFlags:\n", synopsis, example)
		fs.SetOutput(w)
		fs.PrintDefaults()
	}
}

// envConfig is the server's configuration from the environment alone, for
// the commands that work on the same store as serve, so that they apply
// the same settings (scopes, argon2id parameters, key schedule).
func envConfig(getenv func(string) string) (*Config, error) {
	fs := flag.NewFlagSet("config", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	cfg, finish := configFlags(fs, getenv)
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	if err := finish(false); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}

// passwordParams are the argon2id parameters of c.
func (c *Config) passwordParams() oauth.PasswordParams {
	return oauth.PasswordParams{
		MemoryKiB:   uint32(c.Argon2MemoryKiB),
		Iterations:  uint32(c.Argon2Iterations),
		Parallelism: uint8(c.Argon2Parallelism),
		// The CLI's hasher gets the same bounds as serve's.
		MaxConcurrent: int(c.PasswordHashConcurrency),
		MaxQueue:      int(c.PasswordHashQueue),
	}
}

// keyOptions is the signing-key schedule of c. Keys stay published for the
// longest lifetime any access token can have (oauth.MaxTokenLifetime, a
// client's own lifetime included), not just the default lifetime.
func (c *Config) keyOptions(secrets *keys.Secrets, logger *slog.Logger) keys.Options {
	return keys.Options{
		Algorithm:        c.SigningAlg,
		Secrets:          secrets,
		Now:              c.Now,
		RotationPeriod:   c.KeyRotationPeriod,
		JWKSMaxAge:       c.JWKSMaxAge,
		RefreshInterval:  c.KeyRefreshInterval,
		PublishLead:      c.KeyPublishLead,
		MaxTokenLifetime: oauth.MaxTokenLifetime,
		Logger:           logger,
	}
}

// knownEnv lists the GATEHOUSE_* variables configFlags reads.
func knownEnv() []string {
	var names []string
	fs := flag.NewFlagSet("known", flag.ContinueOnError)
	configFlags(fs, func(name string) string {
		names = append(names, name)
		return ""
	})
	return names
}

// retiredEnv says what replaced a variable earlier versions read, or "".
func retiredEnv(name string) string {
	switch name {
	case "GATEHOUSE_BOOTSTRAP_ADMIN":
		return "serve no longer creates or prints an admin client; create one with `gatehouse bootstrap`"
	}
	return ""
}

// checkEnviron refuses GATEHOUSE_* variables that nothing reads (design
// D11): a misspelt GATEHOUSE_DATABASE_URL must not start a server in dev
// mode. The names are compared case-insensitively so that a lower-case
// spelling is caught too. Variables of this repository's other programs
// (GATEHOUSE_BENCH_*, GATEHOUSE_TEST_*) are theirs.
func checkEnviron(environ []string) error {
	known := knownEnv()
	var errs []error
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		upper := strings.ToUpper(name)
		if !strings.HasPrefix(upper, "GATEHOUSE_") || slices.Contains(known, name) ||
			strings.HasPrefix(upper, "GATEHOUSE_BENCH_") || strings.HasPrefix(upper, "GATEHOUSE_TEST_") {
			continue
		}
		if why := retiredEnv(name); why != "" {
			errs = append(errs, fmt.Errorf("environment variable %s is no longer read: %s", name, why))
			continue
		}
		errs = append(errs, fmt.Errorf("unknown environment variable %s: did you mean %s?", name, closest(upper, known)))
	}
	return errors.Join(errs...)
}

// closest returns the candidate with the smallest edit distance to s.
func closest(s string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		if d := editDistance(s, c); bestDist < 0 || d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// lookupEnv returns a getenv over environ ("NAME=value" entries); the first
// entry of a name wins, as with os.Getenv.
func lookupEnv(environ []string) func(string) string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		name, value, _ := strings.Cut(kv, "=")
		if _, dup := m[name]; !dup {
			m[name] = value
		}
	}
	return func(name string) string { return m[name] }
}

// databaseURLFlag registers --database-url for the commands that open the
// store. The flag shows no default: the environment's URL carries the
// database password, and a default is printed by --help and every usage
// message. The returned function gives the flag, else the environment.
func databaseURLFlag(fs *flag.FlagSet, getenv func(string) string) func() string {
	fromEnv := getenv("GATEHOUSE_DATABASE_URL")
	v := fs.String("database-url", "", "PostgreSQL URL; prefer the environment, which keeps the password out of the process list (env GATEHOUSE_DATABASE_URL)")
	return func() string {
		if *v != "" {
			return *v
		}
		return fromEnv
	}
}
