package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
)

// serveConfig finishes a serve configuration from env and args without
// starting anything.
func serveConfig(env map[string]string, args ...string) (*Config, error) {
	return parseConfig(func(k string) string { return env[k] }, args, true)
}

// checkEnv is checkEnviron with the variables of run's command tree.
func checkEnv(environ []string) error {
	p, err := newParser(&cli{}, func(string) string { return "" }, new([]error), io.Discard, io.Discard)
	if err != nil {
		panic(err)
	}
	return checkEnviron(environ, knownEnv(p.Model))
}

// TestDevModeOnlyWhereHarmless: dev mode starts by default only with no
// database URL, a loopback address and an http:// loopback issuer; every
// other combination without a database URL refuses and names the missing
// setting; dev mode never listens beyond loopback; outside dev mode an
// http:// issuer needs --insecure-http-issuer (issue 11, point 1).
func TestDevModeOnlyWhereHarmless(t *testing.T) {
	const db = "postgres://gatehouse@db.internal/gatehouse"
	for _, tc := range []struct {
		name    string
		env     map[string]string
		args    []string
		wantDev bool
		// wantErr lists what the error must say; empty: no error.
		wantErr []string
	}{
		{name: "README's first command", wantDev: true},
		{name: "loopback ipv6", args: []string{"--addr", "[::1]:8080"}, wantDev: true},
		{name: "localhost", args: []string{"--addr", "localhost:8080", "--issuer", "http://localhost:8080"}, wantDev: true},
		{name: "the measured typo", env: map[string]string{"GATEHOUSE_ADDR": "0.0.0.0:18999", "GATEHOUSE_ISSUER": "https://id.example.com"},
			wantErr: []string{"GATEHOUSE_DATABASE_URL", `--addr "0.0.0.0:18999" is not a loopback`, `--issuer "https://id.example.com" is not an http:// loopback`, "--dev"}},
		{name: "all interfaces", args: []string{"--addr", ":8080"}, wantErr: []string{"GATEHOUSE_DATABASE_URL", "not a loopback"}},
		{name: "production issuer on loopback", args: []string{"--issuer", "https://id.example.com"}, wantErr: []string{"GATEHOUSE_DATABASE_URL", "not an http:// loopback URL"}},
		{name: "--dev on loopback", args: []string{"--dev"}, wantDev: true},
		{name: "--dev beyond loopback", args: []string{"--dev", "--addr", "0.0.0.0:8080", "--issuer", "http://127.0.0.1:8080"}, wantErr: []string{"dev mode listens on loopback only"}},
		{name: "--dev admin beyond loopback", args: []string{"--dev", "--admin-addr", "0.0.0.0:8081"}, wantErr: []string{"--admin-addr", "loopback only"}},
		{name: "--dev real issuer", args: []string{"--dev", "--issuer", "https://id.example.com"}, wantErr: []string{"dev mode serves a loopback issuer only"}},
		{name: "--dev with a database", env: map[string]string{"GATEHOUSE_DATABASE_URL": db}, args: []string{"--dev"}, wantErr: []string{"--dev runs the in-memory store"}},
		{name: "production", env: map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_ISSUER": "https://id.example.com", "GATEHOUSE_ADDR": "0.0.0.0:8080", "GATEHOUSE_ADMIN_ADDR": "0.0.0.0:8081"}},
		{name: "production without issuer", env: map[string]string{"GATEHOUSE_DATABASE_URL": db}, wantErr: []string{"--issuer (GATEHOUSE_ISSUER) is required outside dev mode"}},
		{name: "production http issuer", env: map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_ISSUER": "http://id.example.com"}, wantErr: []string{"--insecure-http-issuer"}},
		{name: "production loopback http issuer", env: map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_ISSUER": "http://127.0.0.1:8080"}, wantErr: []string{"--insecure-http-issuer"}},
		{name: "production http issuer, opted in", env: map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_ISSUER": "http://id.example.com", "GATEHOUSE_INSECURE_HTTP_ISSUER": "true"}},
		{name: "production http issuer, flag", env: map[string]string{"GATEHOUSE_DATABASE_URL": db, "GATEHOUSE_ISSUER": "http://id.example.com"}, args: []string{"--insecure-http-issuer"}},
		{name: "bool that is not one", env: map[string]string{"GATEHOUSE_MIGRATE": "yes"}, wantErr: []string{`GATEHOUSE_MIGRATE="yes": want true or false`}},
		{name: "half a TLS pair", args: []string{"--tls-cert", "cert.pem"}, wantErr: []string{"--tls-cert and --tls-key"}},
		{name: "heap floor too large", env: map[string]string{"GATEHOUSE_GC_MIN_HEAP_MIB": "17592186044416"}, wantErr: []string{"--gc-min-heap-mib 17592186044416: at most 65536"}},
		{name: "heap floor off", env: map[string]string{"GATEHOUSE_GC_MIN_HEAP_MIB": "0"}, wantDev: true},
		{name: "federation bounds", args: []string{"--federation-timeout", "0s", "--trusted-token-max-age", "48h"}, wantErr: []string{"--federation-timeout 0s: must be between", "--trusted-token-max-age 48h0m0s: must be between"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := serveConfig(tc.env, tc.args...)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("serve config: %v; want none", err)
				}
				if cfg.Dev != tc.wantDev {
					t.Errorf("Dev = %v; want %v", cfg.Dev, tc.wantDev)
				}
				return
			}
			if err == nil {
				t.Fatalf("serve config succeeded (Dev %v, addr %s, issuer %s); want an error saying %q", cfg.Dev, cfg.Addr, cfg.Issuer, tc.wantErr)
			}
			for _, want := range tc.wantErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q; want it to say %q", err, want)
				}
			}
		})
	}
}

// TestUnknownEnvironmentVariable runs the measured attack: a misspelt
// database variable, a public address and a production issuer. serve must
// refuse before it listens, naming the closest known variable; every
// other command refuses too.
func TestUnknownEnvironmentVariable(t *testing.T) {
	environ := []string{
		"GATEHOUSE_DATABSE_URL=postgres://gatehouse@db.internal/gatehouse",
		"GATEHOUSE_ADDR=127.0.0.1:0",
		"GATEHOUSE_ISSUER=https://id.example.com",
		"PATH=/usr/bin",
	}
	for _, args := range [][]string{{"serve"}, {"clients", "list"}, {"migrate"}, {"keys", "list"}, {"healthcheck"}} {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var out, errOut bytes.Buffer
		err := run(ctx, args, environ, nil, &out, &errOut)
		cancel()
		if err == nil || !strings.Contains(err.Error(), "GATEHOUSE_DATABSE_URL") || !strings.Contains(err.Error(), "did you mean GATEHOUSE_DATABASE_URL?") {
			t.Errorf("gatehouse %v with GATEHOUSE_DATABSE_URL: %v; want an error naming GATEHOUSE_DATABASE_URL", args, err)
		}
		if out.Len() > 0 {
			t.Errorf("gatehouse %v printed %q before refusing", args, out.String())
		}
	}
	for _, tc := range []struct{ env, want string }{
		{"gatehouse_database_url=x", "did you mean GATEHOUSE_DATABASE_URL?"},
		{"GATEHOUSE_SECRET=x", "did you mean GATEHOUSE_SECRETS?"},
		{"GATEHOUSE_TLS_CERTIFICATE=x", "did you mean GATEHOUSE_TLS_CERT?"},
		{"GATEHOUSE_INSECURE_ISSUER=true", "did you mean GATEHOUSE_INSECURE_HTTP_ISSUER?"},
		{"GATEHOUSE_BOOTSTRAP_ADMIN=false", "gatehouse bootstrap"},
	} {
		err := checkEnv([]string{tc.env})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("checkEnviron(%q) = %v; want an error saying %q", tc.env, err, tc.want)
		}
	}
	// Every variable the README documents is known; the other programs'
	// variables are theirs.
	ok := []string{"GATEHOUSE_DATABASE_URL=x", "GATEHOUSE_SECRETS=x", "GATEHOUSE_SECRETS_FILE=x", "GATEHOUSE_MIGRATE=true",
		"GATEHOUSE_TLS_CERT=x", "GATEHOUSE_TLS_KEY=x", "GATEHOUSE_ADMIN_TLS_CERT=x", "GATEHOUSE_ADMIN_TLS_KEY=x",
		"GATEHOUSE_INSECURE_HTTP_ISSUER=true", "GATEHOUSE_BENCH_URL=x", "GATEHOUSE_TEST_DATABASE_URL=x", "HOME=/root"}
	if err := checkEnv(ok); err != nil {
		t.Errorf("checkEnviron(known variables) = %v", err)
	}
}

// TestEnvironmentPassedIn: run reads the environment it is given, never
// the process's (kong's own env tag would read os.Getenv).
func TestEnvironmentPassedIn(t *testing.T) {
	t.Setenv("GATEHOUSE_ADDR", "0.0.0.0:9999")
	t.Setenv("GATEHOUSE_DATABASE_URL", "postgres://gatehouse:process-password@db.internal/gatehouse")
	cfg, err := serveConfig(nil)
	if err != nil {
		t.Fatalf("serve config: %v", err)
	}
	if cfg.Addr != "127.0.0.1:8080" || cfg.DatabaseURL != "" || !cfg.Dev {
		t.Errorf("with GATEHOUSE_* only in the process environment: addr %q, database %q, dev %v; want the defaults", cfg.Addr, cfg.DatabaseURL, cfg.Dev)
	}
}

// TestSettingsDefaults: the server's table agrees with the fallbacks the
// libraries keep for their own users.
func TestSettingsDefaults(t *testing.T) {
	cfg, err := serveConfig(nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := cfg.throttleLimits(), (oauth.ThrottleLimits{Window: oauth.DefaultThrottleWindow, PerUserAddress: oauth.DefaultThrottlePerUserAddress,
		PerUser: oauth.DefaultThrottlePerUser, PerAddress: oauth.DefaultThrottlePerAddress, SlowInterval: oauth.DefaultThrottleSlowInterval}); got != want {
		t.Errorf("throttle defaults = %+v; want oauth's %+v", got, want)
	}
	if cfg.FederationTimeout != oauth.DefaultFederationTimeout || cfg.TrustedTokenMaxAge != oauth.DefaultMaxTokenAge {
		t.Errorf("federation timeout %v, trusted token max age %v; want oauth's defaults", cfg.FederationTimeout, cfg.TrustedTokenMaxAge)
	}
	if cfg.SigningAlg != keys.ES256 || cfg.ForwardedHeader != oauth.HeaderXForwardedFor {
		t.Errorf("signing alg %q, forwarded header %q", cfg.SigningAlg, cfg.ForwardedHeader)
	}
	if cfg.LoginSessionLifetime != oauth.DefaultLoginSessionLifetime || cfg.AccessTokenLifetime != oauth.DefaultAccessTokenLifetime ||
		cfg.RefreshTokenLifetime != oauth.DefaultRefreshTokenLifetime || cfg.RefreshFamilyLifetime != oauth.DefaultRefreshFamilyLifetime {
		t.Errorf("lifetimes: login session %v, access %v, refresh %v, family %v; want oauth's defaults", cfg.LoginSessionLifetime,
			cfg.AccessTokenLifetime, cfg.RefreshTokenLifetime, cfg.RefreshFamilyLifetime)
	}
}

// TestHelpHidesDatabaseURL: --help names the database variable, never its
// value, wherever the URL comes from.
func TestHelpHidesDatabaseURL(t *testing.T) {
	const url = "postgres://gatehouse:help-password@db.internal/gatehouse"
	t.Setenv("GATEHOUSE_DATABASE_URL", url)
	for _, args := range [][]string{{"serve", "--help"}, {"clients", "list", "--help"}, {"migrate", "status", "--help"}, {"--help"}} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), args, []string{"GATEHOUSE_DATABASE_URL=" + url}, nil, &out, &errOut)
		if !errors.Is(err, flag.ErrHelp) || strings.Contains(out.String()+errOut.String(), "help-password") {
			t.Errorf("gatehouse %v: %v; printed the database password:\n%s", args, err, out.String())
		}
		if args[0] != "--help" && !strings.Contains(out.String(), "$GATEHOUSE_DATABASE_URL") {
			t.Errorf("gatehouse %v does not name $GATEHOUSE_DATABASE_URL:\n%s", args, out.String())
		}
	}
}

// TestEveryProblemAtOnce: variables that do not parse are reported with
// the settings Validate refuses, in one error.
func TestEveryProblemAtOnce(t *testing.T) {
	_, err := serveConfig(map[string]string{"GATEHOUSE_ACCESS_TOKEN_LIFETIME": "ten minutes", "GATEHOUSE_MIGRATE": "yes",
		"GATEHOUSE_TRUSTED_PROXIES": "not-a-cidr"}, "--log-level", "loud", "--jwks-max-age", "48h")
	for _, want := range []string{"GATEHOUSE_ACCESS_TOKEN_LIFETIME", `GATEHOUSE_MIGRATE="yes"`, "GATEHOUSE_TRUSTED_PROXIES", "--log-level", "--jwks-max-age"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("serve config = %v; want it to name %s", err, want)
		}
	}
}
