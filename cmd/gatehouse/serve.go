package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

func newLogger(cfg *Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(requestIDHandler{slog.NewJSONHandler(w, opts)})
	}
	return slog.New(requestIDHandler{slog.NewTextHandler(w, opts)})
}

// serveCmd is `gatehouse serve`: its flags are the table of settings.
type serveCmd struct {
	serveFlags
	JSON bool `name:"json" help:"In dev mode, print the demo credentials as one JSON object instead of key=value lines."`
}

func (c *serveCmd) Run(ctx context.Context, e *cliEnv) error {
	c.Secrets = e.getenv(keys.EnvSecrets)
	if err := c.finish(e.envErrs, true); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	return serve(ctx, c.config(), c.JSON, e.stdout, e.stderr)
}

// serve runs the server configured by cfg until ctx ends; asJSON prints
// dev mode's credentials as JSON.
func serve(ctx context.Context, cfg *Config, asJSON bool, stdout, stderr io.Writer) error {
	var err error
	logger := newLogger(cfg, stderr)
	var publicTLS, adminTLS *tls.Config
	if cfg.TLSCert != "" {
		if publicTLS, err = newTLSConfig(cfg.TLSCert, cfg.TLSKey, logger); err != nil {
			return err
		}
	}
	if cfg.AdminTLSCert != "" {
		if adminTLS, err = newTLSConfig(cfg.AdminTLSCert, cfg.AdminTLSKey, logger); err != nil {
			return err
		}
	}
	a, err := newApp(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer a.Close()
	startHeapFloor(cfg.GCMinHeapMiB)

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	var adminLn net.Listener
	if cfg.AdminAddr != "" {
		if adminLn, err = net.Listen("tcp", cfg.AdminAddr); err != nil {
			ln.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
	}
	if cfg.Dev {
		// Dev mode's credentials are throwaway: the store lives in this
		// process, which listens on loopback only. The one place a secret
		// is printed by serve.
		var creds bytes.Buffer
		if err := seedDemo(ctx, a, &creds); err != nil {
			ln.Close()
			return err
		}
		if _, err := admin.Bootstrap(ctx, a.admin, &creds); err != nil {
			ln.Close()
			return fmt.Errorf("dev admin client: %w", err)
		}
		if err := (output{JSON: asJSON}).print(stdout, keyValues(creds.String()), func(w io.Writer) { w.Write(creds.Bytes()) }); err != nil {
			ln.Close()
			return err
		}
		logger.Warn("DEV MODE: in-memory store and signing keys; NOTHING PERSISTS across restarts. Set GATEHOUSE_DATABASE_URL for production.")
	} else if has, err := a.admin.HasAdminClient(ctx); err == nil && !has {
		// Never create one here: its secret would land in the log stream.
		logger.Warn("no admin client exists yet; create one with `gatehouse bootstrap`, which prints its secret once to the terminal that runs it",
			"admin_role", cfg.AdminRole)
	}
	stopBackground := a.start(ctx)
	defer stopBackground()
	if adminLn == nil {
		return serveHTTP(ctx, ln, publicTLS, a.handler, logger, "token service", cfg.Issuer)
	}
	// Either listener failing stops both.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		defer cancel()
		errc <- serveHTTP(ctx, adminLn, adminTLS, a.adminHandler, logger, "admin API", cfg.Issuer)
	}()
	err = serveHTTP(ctx, ln, publicTLS, a.handler, logger, "token service", cfg.Issuer)
	cancel()
	return errors.Join(err, <-errc)
}

// serveHTTP serves until ctx is done, then shuts down gracefully; over TLS
// when tlsCfg is not nil.
func serveHTTP(ctx context.Context, ln net.Listener, tlsCfg *tls.Config, h http.Handler, logger *slog.Logger, what, issuer string) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsCfg,
	}
	errc := make(chan error, 1)
	go func() {
		if tlsCfg != nil {
			// The certificate comes from tlsCfg.GetCertificate.
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	logger.Info("gatehouse listening", "serves", what, "addr", ln.Addr().String(), "tls", tlsCfg != nil, "issuer", issuer)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if errors.Is(<-errc, http.ErrServerClosed) && err == nil {
		logger.Info("gatehouse stopped", "serves", what)
		return nil
	}
	return err
}

// demoRedirectURI is the dev-mode public client's redirect URI; being a
// loopback URI, it matches any port (RFC 8252 section 7.3).
const demoRedirectURI = "http://127.0.0.1/callback"

// seedDemo creates the dev-mode demo client and user and prints their
// credentials as key=value lines.
func seedDemo(ctx context.Context, a *app, out io.Writer) error {
	now := time.Now().UTC()
	secret, digest, err := oauth.NewClientSecret()
	if err != nil {
		return err
	}
	c := storage.Client{
		ID:         "demo-client",
		Name:       "demo",
		SecretHash: digest,
		GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes:     a.cfg.Scopes,
		Audiences:  []string{"api", "example-api"},
		Roles:      []string{"service"},
		CreatedAt:  now,
		UpdatedAt:  now,
	}
	if err := a.store.CreateClient(ctx, c); err != nil {
		return fmt.Errorf("create demo client: %w", err)
	}
	password, _, err := oauth.NewClientSecret()
	if err != nil {
		return err
	}
	password = password[:20]
	hash, err := a.oauth.PasswordHasher().Hash(ctx, password)
	if err != nil {
		return err
	}
	u := storage.User{
		ID:           "demo-user-0001",
		Username:     "demo",
		PasswordHash: hash,
		Roles:        []string{"user", "reader"},
		CreatedAt:    now,
		UpdatedAt:    now,
	}
	if err := a.store.CreateUser(ctx, u); err != nil {
		return fmt.Errorf("create demo user: %w", err)
	}
	// A public client for browser and native apps (authorization code with
	// PKCE): any loopback port, and cmd/example-webapp's default address.
	pc := storage.Client{
		ID: "demo-webapp", Name: "demo web app", Public: true,
		GrantTypes:             []string{"authorization_code", "refresh_token"},
		Scopes:                 []string{"openid", "profile", "email", "offline_access"},
		RedirectURIs:           []string{demoRedirectURI},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:9090/"},
		WebOrigins:             []string{"http://127.0.0.1:9090"},
		CreatedAt:              now, UpdatedAt: now,
	}
	if err := a.store.CreateClient(ctx, pc); err != nil {
		return fmt.Errorf("create demo public client: %w", err)
	}
	fmt.Fprintf(out, "# Gatehouse dev mode: in-memory store, nothing persists across restarts.\nissuer=%s\nclient_id=%s\nclient_secret=%s\nusername=%s\npassword=%s\npublic_client_id=%s\nredirect_uri=%s\n",
		a.cfg.Issuer, c.ID, secret, u.Username, password, pc.ID, demoRedirectURI)
	return nil
}
