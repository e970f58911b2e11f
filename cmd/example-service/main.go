// Command example-service is a small API protected by Gatehouse access
// tokens, showing the discovery/verifier package: /public needs nothing,
// /me any valid token, /admin the "admin" role, /reports the "reports:read"
// scope.
//
//	go run ./cmd/example-service --issuer http://127.0.0.1:8080 --audience example-api
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
issuer's JWKS.

Example:
  example-service --issuer http://127.0.0.1:8080 --audience example-api --addr 127.0.0.1:9000
  curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:9000/me

Flags:
`

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("example-service", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "issuer URL of the authorization server")
	audience := fs.String("audience", "example-api", "audience this service accepts tokens for")
	addr := fs.String("addr", "127.0.0.1:9000", "listen address")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))

	v, err := verifier.New(verifier.Config{Issuer: *issuer, Audience: *audience, Logger: logger, TokenCacheSize: 10000})
	if err != nil {
		return err
	}
	if err := v.Refresh(ctx); err != nil {
		// Not fatal: keys are fetched again on the first request.
		logger.Warn("issuer keys not loaded yet", "issuer", *issuer, "err", err)
	}

	srv := &http.Server{Addr: *addr, Handler: routes(v), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("listening", "addr", *addr, "issuer", *issuer, "audience", *audience)
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
