package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
)

// serveFlags are serve's flags: the table of settings and --dev.
type serveFlags struct {
	configTable
	DevMode bool `name:"dev" help:"Embedded dev mode: in-memory store and keys, demo client and user, loopback only (the default without a database URL when --addr and --issuer are loopback)."`
}

// configTable is Config without its methods: kong calls a Validate
// method while parsing, before finish has completed the settings.
type configTable Config

func (f *serveFlags) config() *Config { return (*Config)(&f.configTable) }

// parseConfig reads the settings from args (serve's flags) over the
// environment, and finishes them (finish).
func parseConfig(getenv func(string) string, args []string, serving bool) (*Config, error) {
	var f serveFlags
	var envErrs []error
	p, err := newParser(&f, getenv, &envErrs, io.Discard, io.Discard)
	if err != nil {
		return nil, err
	}
	if _, err := parse(p, args); err != nil {
		return nil, err
	}
	f.Secrets = getenv(keys.EnvSecrets)
	return f.config(), f.finish(envErrs, serving)
}

// finish completes the settings after parsing and reports every problem
// at once: the variables that did not parse (envErrs), Validate and, when
// serving, the choice of mode (chooseMode), which only serve needs. The
// other commands work on the shared store: dev mode for them means no
// database.
func (f *serveFlags) finish(envErrs []error, serving bool) error {
	c := f.config()
	if c.AdminTLSCert == "" && c.AdminTLSKey == "" {
		c.AdminTLSCert, c.AdminTLSKey = c.TLSCert, c.TLSKey
	}
	issuerGiven := c.Issuer != ""
	if !issuerGiven {
		c.Issuer = "http://" + c.Addr
	}
	all := append(envErrs, c.Validate())
	if serving {
		all = append(all, c.chooseMode(f.DevMode, issuerGiven))
	} else {
		c.Dev = c.DatabaseURL == ""
	}
	return errors.Join(all...)
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
	if c.FederationTimeout < 100*time.Millisecond || c.FederationTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("--federation-timeout %v: must be between 100ms and 1m", c.FederationTimeout))
	}
	if c.TrustedTokenMaxAge < time.Second || c.TrustedTokenMaxAge > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--trusted-token-max-age %v: must be between 1s and 24h", c.TrustedTokenMaxAge))
	}
	if c.ClientCacheTTL < 0 || c.ClientCacheTTL > time.Minute {
		errs = append(errs, fmt.Errorf("--client-cache-ttl %v: must be between 0 and 1m", c.ClientCacheTTL))
	}
	if c.ClientJWKSTimeout < 100*time.Millisecond || c.ClientJWKSTimeout > 30*time.Second {
		errs = append(errs, fmt.Errorf("--client-jwks-timeout %v: must be between 100ms and 30s", c.ClientJWKSTimeout))
	}
	if c.GCMinHeapMiB > maxGCMinHeapMiB {
		errs = append(errs, fmt.Errorf("--gc-min-heap-mib %d: at most %d (64 GiB)", c.GCMinHeapMiB, maxGCMinHeapMiB))
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

// envConfig is the server's configuration from the environment alone, for
// the commands that work on the same store as serve, so that they apply
// the same settings (scopes, argon2id parameters, key schedule).
func envConfig(getenv func(string) string) (*Config, error) {
	cfg, err := parseConfig(getenv, nil, false)
	if err != nil {
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

// loadSecrets reads the master secrets from the configuration's
// GATEHOUSE_SECRETS or GATEHOUSE_SECRETS_FILE (keys.LoadSecrets).
func (c *Config) loadSecrets() (*keys.Secrets, error) {
	return keys.LoadSecrets(func(name string) string {
		switch name {
		case keys.EnvSecrets:
			return c.Secrets
		case keys.EnvSecretsFile:
			return c.SecretsFile
		}
		return ""
	})
}
