package main

import (
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/alecthomas/kong"
)

// Config is the server's one table of settings (design D11): each field is
// one setting with its flag, its GATEHOUSE_* environment variable (the
// envvar tag), its default and its help, and nowhere else. A flag wins
// over the environment, the environment over the default. The library
// defaults in oauth.Config and keys.Options are fallbacks for library
// users; the server always passes the values below.
//
// kong's own env tag reads os.Getenv; run passes the environment in, so
// the tag here is envvar, read by envResolver and shown by helpValue.
type Config struct {
	Addr   string `name:"addr" envvar:"GATEHOUSE_ADDR" default:"127.0.0.1:8080" help:"Listen address."`
	Issuer string `name:"issuer" envvar:"GATEHOUSE_ISSUER" help:"Issuer URL, exactly as tokens carry it; required outside dev mode, where it defaults to http:// plus --addr."`
	databaseFlag
	SigningAlg            string        `name:"signing-alg" envvar:"GATEHOUSE_SIGNING_ALG" default:"ES256" help:"Access-token signing algorithm: ES256, RS256 or EdDSA."`
	AccessTokenLifetime   time.Duration `name:"access-token-lifetime" envvar:"GATEHOUSE_ACCESS_TOKEN_LIFETIME" default:"10m" help:"Default access-token lifetime."`
	RefreshTokenLifetime  time.Duration `name:"refresh-token-lifetime" envvar:"GATEHOUSE_REFRESH_TOKEN_LIFETIME" default:"24h" help:"Idle lifetime of a refresh token."`
	RefreshFamilyLifetime time.Duration `name:"refresh-family-lifetime" envvar:"GATEHOUSE_REFRESH_FAMILY_LIFETIME" default:"720h" help:"Absolute lifetime of a refresh-token family."`
	JWKSMaxAge            time.Duration `name:"jwks-max-age" envvar:"GATEHOUSE_JWKS_MAX_AGE" default:"5m" help:"Cache-Control max-age of the JWKS and discovery documents."`
	Scopes                wordList      `name:"scopes" envvar:"GATEHOUSE_SCOPES" default:"openid profile email read write offline_access" help:"Scopes the server knows, space- or comma-separated."`
	Argon2MemoryKiB       uint          `name:"argon2-memory-kib" envvar:"GATEHOUSE_ARGON2_MEMORY_KIB" default:"12288" help:"argon2id memory per password hash, KiB (OWASP: 12 MiB with 3 passes, or 19 MiB with 2)."`
	Argon2Iterations      uint          `name:"argon2-iterations" envvar:"GATEHOUSE_ARGON2_ITERATIONS" default:"3" help:"argon2id passes."`
	Argon2Parallelism     uint          `name:"argon2-parallelism" envvar:"GATEHOUSE_ARGON2_PARALLELISM" default:"1" help:"argon2id lanes."`
	LogLevel              string        `name:"log-level" envvar:"GATEHOUSE_LOG_LEVEL" default:"info" help:"debug, info, warn or error."`
	LogFormat             string        `name:"log-format" envvar:"GATEHOUSE_LOG_FORMAT" default:"text" help:"text or json."`
	// Pprof serves net/http/pprof on the admin listener, behind admin
	// authentication.
	Pprof   bool `name:"pprof" envvar:"GATEHOUSE_PPROF" help:"Serve Go profiles at /debug/pprof/ on the admin listener, behind admin authentication."`
	Migrate bool `name:"migrate" envvar:"GATEHOUSE_MIGRATE" help:"Apply pending database migrations before serving."`
	// Secrets are the master secrets: GATEHOUSE_SECRETS only, never a
	// flag, so they stay out of shell history and --help.
	Secrets            string        `kong:"-"`
	SecretsFile        string        `name:"secrets-file" envvar:"GATEHOUSE_SECRETS_FILE" help:"File of master secrets, one per line, the first encrypts (or set GATEHOUSE_SECRETS)."`
	DBMaxConns         uint          `name:"database-max-conns" envvar:"GATEHOUSE_DATABASE_MAX_CONNS" default:"0" help:"PostgreSQL pool size; 0 means 8 per CPU, between 16 and 64 (or the URL's pool_max_conns)."`
	DBConnectTimeout   time.Duration `name:"database-connect-timeout" envvar:"GATEHOUSE_DATABASE_CONNECT_TIMEOUT" default:"2s" help:"Timeout for opening one database connection."`
	DBStatementTimeout time.Duration `name:"database-statement-timeout" envvar:"GATEHOUSE_DATABASE_STATEMENT_TIMEOUT" default:"2s" help:"PostgreSQL statement_timeout."`
	RequestTimeout     time.Duration `name:"request-timeout" envvar:"GATEHOUSE_REQUEST_TIMEOUT" default:"5s" help:"Deadline of one request's work; past it the answer is 503."`
	JanitorInterval    time.Duration `name:"janitor-interval" envvar:"GATEHOUSE_JANITOR_INTERVAL" default:"1m" help:"How often expired refresh tokens and deny-list entries are deleted."`
	AdminAddr          string        `name:"admin-addr" envvar:"GATEHOUSE_ADMIN_ADDR" default:"127.0.0.1:8081" help:"Listen address of the admin API; empty disables it."`
	AdminRole          string        `name:"admin-role" envvar:"GATEHOUSE_ADMIN_ROLE" default:"gatehouse-admin" help:"Role that grants the admin API."`
	AdminScope         string        `name:"admin-scope" envvar:"GATEHOUSE_ADMIN_SCOPE" default:"gatehouse:admin" help:"Scope that grants the admin API."`
	AdminAudience      string        `name:"admin-audience" envvar:"GATEHOUSE_ADMIN_AUDIENCE" help:"Audience admin tokens must carry; default the issuer."`
	ClientCacheTTL     time.Duration `name:"client-cache-ttl" envvar:"GATEHOUSE_CLIENT_CACHE_TTL" default:"1s" help:"How long a client record is reused without a database read; bounds how long a change made on another instance takes to apply (0 disables)."`
	ClientJWKSTimeout  time.Duration `name:"client-jwks-timeout" envvar:"GATEHOUSE_CLIENT_JWKS_TIMEOUT" default:"2s" help:"Timeout of one fetch of a private_key_jwt client's jwks_uri; past it the client's request gets invalid_client."`
	KeyPublishLead     time.Duration `name:"key-publish-lead" envvar:"GATEHOUSE_KEY_PUBLISH_LEAD" default:"0s" help:"How long a new key is published before it signs; 0 means JWKS max-age + refresh interval + 1m."`
	KeyRotationPeriod  time.Duration `name:"key-rotation-period" envvar:"GATEHOUSE_KEY_ROTATION_PERIOD" default:"24h" help:"How long a signing key signs before the next one takes over."`
	KeyRefreshInterval time.Duration `name:"key-refresh-interval" envvar:"GATEHOUSE_KEY_REFRESH_INTERVAL" default:"10s" help:"How often each instance rereads the signing keys from the store."`
	// Password-guessing limits and hashing bounds (design D5).
	ThrottleWindow          time.Duration `name:"throttle-window" envvar:"GATEHOUSE_THROTTLE_WINDOW" default:"15m" help:"Password-guessing window: each counter lasts this long from its first attempt."`
	ThrottlePerUserAddress  uint          `name:"throttle-per-user-address" envvar:"GATEHOUSE_THROTTLE_PER_USER_ADDRESS" default:"10" help:"Password attempts per username from one client address per window."`
	ThrottlePerUser         uint          `name:"throttle-per-user" envvar:"GATEHOUSE_THROTTLE_PER_USER" default:"50" help:"Password attempts per username from all addresses per window, before its slow lane."`
	ThrottlePerAddress      uint          `name:"throttle-per-address" envvar:"GATEHOUSE_THROTTLE_PER_ADDRESS" default:"100" help:"Password attempts per client address against all usernames per window."`
	ThrottleSlowInterval    time.Duration `name:"throttle-slow-interval" envvar:"GATEHOUSE_THROTTLE_SLOW_INTERVAL" default:"10s" help:"Past --throttle-per-user, one attempt per this interval per username, from addresses that made none in the window."`
	PasswordHashConcurrency uint          `name:"password-hash-concurrency" envvar:"GATEHOUSE_PASSWORD_HASH_CONCURRENCY" default:"0" help:"argon2id hashes run at once; 0 means the number of CPUs."`
	PasswordHashQueue       uint          `name:"password-hash-queue" envvar:"GATEHOUSE_PASSWORD_HASH_QUEUE" default:"0" help:"Password hashes that may wait for a slot; past it 503; 0 means 32 per slot, at least 64."`
	GCMinHeapMiB            uint          `name:"gc-min-heap-mib" envvar:"GATEHOUSE_GC_MIN_HEAP_MIB" default:"24" help:"Heap size, MiB, below which the garbage collector does not start a cycle; 0, or GOGC in the environment, leaves Go's default."`
	// TrustedProxies are the proxies whose ForwardedHeader names the
	// client address.
	TrustedProxies  prefixList `name:"trusted-proxies" envvar:"GATEHOUSE_TRUSTED_PROXIES" help:"Comma-separated CIDRs (or addresses) of proxies whose forwarding header names the client address; empty: the peer address is the client's."`
	ForwardedHeader string     `name:"forwarded-header" envvar:"GATEHOUSE_FORWARDED_HEADER" default:"X-Forwarded-For" help:"Header the trusted proxies set: X-Forwarded-For or Forwarded."`
	// The hosted login, consent and logout pages (issue 14).
	ProductName           string        `name:"product-name" envvar:"GATEHOUSE_PRODUCT_NAME" default:"Gatehouse" help:"Name shown on the hosted login, consent and logout pages."`
	LogoFile              string        `name:"logo-file" envvar:"GATEHOUSE_LOGO_FILE" help:"PNG, JPEG or SVG logo for the hosted pages, embedded in them as a data: URI."`
	LoginSessionLifetime  time.Duration `name:"login-session-lifetime" envvar:"GATEHOUSE_LOGIN_SESSION_LIFETIME" default:"8h" help:"How long a sign-in on the hosted login page lasts."`
	FederationTimeout     time.Duration `name:"federation-timeout" envvar:"GATEHOUSE_FEDERATION_TIMEOUT" default:"5s" help:"Bound on one fetch of a trusted issuer's discovery document or keys, and on a request's wait for them (100ms to 1m)."`
	TrustedTokenMaxAge    time.Duration `name:"trusted-token-max-age" envvar:"GATEHOUSE_TRUSTED_TOKEN_MAX_AGE" default:"1h" help:"Oldest iat accepted on a trusted issuer's token when the issuer sets no maximum (1s to 24h)."`
	LogoutRevokesFamilies bool          `name:"logout-revokes-families" envvar:"GATEHOUSE_LOGOUT_REVOKES_FAMILIES" help:"RP-initiated logout also revokes the refresh tokens issued in the ended login session."`
	// InsecureHTTPIssuer allows an http:// issuer outside dev mode.
	InsecureHTTPIssuer bool `name:"insecure-http-issuer" envvar:"GATEHOUSE_INSECURE_HTTP_ISSUER" help:"Allow an http:// issuer outside dev mode: tokens, secrets and passwords then cross the network in clear unless a proxy in front adds TLS."`
	// TLSCert and TLSKey serve the public listener over TLS; AdminTLSCert
	// and AdminTLSKey the admin listener (default: the public pair).
	TLSCert      string `name:"tls-cert" envvar:"GATEHOUSE_TLS_CERT" help:"PEM certificate chain: serve HTTPS (TLS 1.2 or later) on --addr; reread when the file changes."`
	TLSKey       string `name:"tls-key" envvar:"GATEHOUSE_TLS_KEY" help:"PEM private key of --tls-cert."`
	AdminTLSCert string `name:"admin-tls-cert" envvar:"GATEHOUSE_ADMIN_TLS_CERT" help:"PEM certificate chain of the admin listener; default --tls-cert."`
	AdminTLSKey  string `name:"admin-tls-key" envvar:"GATEHOUSE_ADMIN_TLS_KEY" help:"PEM private key of --admin-tls-cert; default --tls-key."`

	// Dev is the embedded dev mode, decided by chooseMode: in-memory
	// store and keys, printed demo credentials, loopback only.
	Dev bool `kong:"-"`
	// Now is the clock; tests set it, nil means time.Now.
	Now func() time.Time `kong:"-"`
	// FederationTransport carries the fetches of trusted issuers'
	// discovery documents and keys; tests set it to trust a test
	// certificate, nil means oauth's own transport.
	FederationTransport http.RoundTripper `kong:"-"`
}

// databaseFlag is --database-url, shared by serve (in Config) and every
// command that opens the store. It has no default: the URL carries the
// database password, and a default is printed by --help.
type databaseFlag struct {
	DatabaseURL string `name:"database-url" envvar:"GATEHOUSE_DATABASE_URL" placeholder:"URL" help:"PostgreSQL URL; prefer the environment, which keeps the password out of the process list."`
}

// wordList is a list given space- or comma-separated.
type wordList []string

func (l *wordList) Decode(ctx *kong.DecodeContext) error {
	var s string
	if err := ctx.Scan.PopValueInto("list", &s); err != nil {
		return err
	}
	*l = listFlag(s)
	return nil
}

// listFlag splits a comma- or space-separated list; "" is the empty list.
func listFlag(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// prefixList is a list of CIDRs; a bare address is its own /32 or /128.
type prefixList []netip.Prefix

func (l *prefixList) Decode(ctx *kong.DecodeContext) error {
	var s string
	if err := ctx.Scan.PopValueInto("list", &s); err != nil {
		return err
	}
	p, err := parsePrefixes(s)
	*l = p
	return err
}
