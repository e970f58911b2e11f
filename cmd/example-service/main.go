// Command example-service is a small API protected by Gatehouse access
// tokens, showing the discovery/verifier package: /public needs nothing,
// /me any valid token, /admin the "admin" role, /reports the "reports:read"
// scope.
//
//	go run ./cmd/example-service --issuer http://127.0.0.1:8080 --audience example-api
//
// Against another issuer, say where its roles and scopes are and which
// upstream roles count as this service's:
//
//	go run ./cmd/example-service --issuer https://kc.example.com/realms/acme --audience example-api \
//	  --types at+jwt,JWT --roles-claim realm_access.roles --role-map api-admin=admin
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -help was printed
			return
		}
		fmt.Fprintln(os.Stderr, "example-service:", err)
		os.Exit(1)
	}
}

const usage = `Usage: example-service [flags]

A small API protected by Gatehouse access tokens through discovery/verifier:
/public needs nothing, /me any valid token, /admin the "admin" role, /reports
the "reports:read" scope. Tokens must carry --audience; keys come from the
issuer's JWKS. Other issuers' tokens work too (--roles-claim, --role-map,
--scope-claims, --types).

Example:
  example-service --issuer http://127.0.0.1:8080 --audience example-api --addr 127.0.0.1:9000
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9000/me

Flags:
`

func run(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, addr, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	cfg.Logger = logger
	cfg.TokenCacheSize = 10000
	v, err := verifier.New(cfg)
	if err != nil {
		return err
	}
	if err := v.Refresh(ctx); err != nil {
		// Not fatal: keys are fetched again on the first request.
		logger.Warn("issuer keys not loaded yet", "issuer", cfg.Issuer, "err", err)
	}

	srv := &http.Server{Addr: addr, Handler: routes(v), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", addr, "issuer", cfg.Issuer, "audience", cfg.Audience, "roles_claim", cfg.RolesClaim.String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseFlags reads the command line into the verifier's configuration and
// the listen address.
func parseFlags(args []string, stderr io.Writer) (verifier.Config, string, error) {
	fs := flag.NewFlagSet("example-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg verifier.Config
	fs.StringVar(&cfg.Issuer, "issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	fs.StringVar(&cfg.Audience, "audience", "example-api", "audience this service accepts tokens for")
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.Func("roles-claim", `claim path of the roles: roles (default), realm_access.roles, groups, "https://example.com/roles"`, func(s string) error {
		p, err := verifier.ParseClaimPath(s)
		cfg.RolesClaim = p
		return err
	})
	fs.Func("role-map", "upstream=local: map the issuer's role to this service's (repeat it; when given, unmapped roles are dropped)", func(s string) error {
		i := strings.LastIndexByte(s, '=')
		if i <= 0 || i == len(s)-1 {
			return fmt.Errorf("want upstream=local, got %q", s)
		}
		if cfg.RoleMap == nil {
			cfg.RoleMap = make(map[string]string)
		}
		cfg.RoleMap[s[:i]] = s[i+1:]
		return nil
	})
	fs.Func("scope-claims", "comma-separated claims to read scopes from, first present wins (default scope; scp for Entra ID and Okta)", func(s string) error {
		cfg.ScopeClaims = splitList(s)
		return nil
	})
	fs.Func("types", `comma-separated accepted JWT "typ" headers (default at+jwt; add JWT for issuers without RFC 9068; "" for none)`, func(s string) error {
		cfg.Types = splitList(s)
		for i, t := range cfg.Types {
			if t == `""` {
				cfg.Types[i] = "" // a token without "typ"
			}
		}
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return verifier.Config{}, "", err
	}
	if fs.NArg() > 0 {
		return verifier.Config{}, "", fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return cfg, *addr, nil
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// routes lists every route of the service.
func routes(v *verifier.Verifier) http.Handler {
	auth := verifier.Middleware(v)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /public", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"message": "anyone can read this"})
	})
	mux.Handle("GET /me", auth(http.HandlerFunc(me)))
	mux.Handle("GET /admin", auth(verifier.RequireRoles("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]string{"message": "welcome, admin"})
	}))))
	mux.Handle("GET /reports", auth(verifier.RequireScopes("reports:read")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{"reports": []string{"q1", "q2"}})
	}))))
	return mux
}

// me echoes the verified claims.
func me(w http.ResponseWriter, r *http.Request) {
	claims, _ := verifier.ClaimsFromContext(r.Context())
	writeJSON(w, claims)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
