package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
	"github.com/gatehouse/gatehouse/storage/postgres"
)

// app is a wired Gatehouse server.
type app struct {
	cfg     *Config
	logger  *slog.Logger
	store   storage.Store
	ring    *keys.Ring
	keys    *keys.Manager
	oauth   *oauth.Server
	handler http.Handler
	// schema checks the store's schema for /readyz; nil in dev mode.
	schema func(context.Context) error
	// admin and adminHandler serve the admin API on its own listener.
	admin        *admin.Service
	adminHandler http.Handler
	// metrics are served on the admin listener; the access log wraps both
	// listeners' handlers.
	metrics *metrics
	// background tasks run for the server's lifetime (janitor, key
	// rotation); each returns when its context is done.
	background []func(context.Context) error
}

// newApp builds config -> store -> keys -> oauth -> router, in that order.
func newApp(ctx context.Context, cfg *Config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, logger: logger, metrics: newMetrics()}
	var secrets *keys.Secrets
	if cfg.Dev {
		mem := memory.New()
		a.store = mem
		secrets = keys.RandomSecrets()
		a.background = append(a.background, (&storage.Janitor{Store: mem, Interval: cfg.JanitorInterval, RevokedRetention: oauth.MaxTokenLifetime, Logger: logger, Deleted: a.metrics.janitorDeletedFunc}).Run)
	} else {
		var err error
		secrets, err = cfg.loadSecrets()
		if err != nil {
			return nil, fmt.Errorf("master secrets: %w", err)
		}
		pg, err := openPostgres(ctx, cfg.DatabaseURL, postgres.Options{
			MaxConns:         int32(cfg.DBMaxConns),
			ConnectTimeout:   cfg.DBConnectTimeout,
			StatementTimeout: cfg.DBStatementTimeout,
			Logger:           logger,
		}, cfg.Migrate)
		if err != nil {
			return nil, err
		}
		a.store = pg
		a.schema = pg.CheckSchema
		a.background = append(a.background, (&storage.Janitor{Store: pg, Interval: cfg.JanitorInterval, RevokedRetention: oauth.MaxTokenLifetime, Logger: logger, Deleted: a.metrics.janitorDeletedFunc}).Run)
		a.metrics.registerPool(pg.PoolStat)
	}
	mgr, err := keys.Open(ctx, a.store, cfg.keyOptions(secrets, logger))
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.keys, a.ring = mgr, mgr.Ring()
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a.metrics.registerKeys(a.ring, now)
	a.background = append(a.background, mgr.Run)
	logo, err := logoDataURI(cfg.LogoFile)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	o, err := oauth.New(oauth.Config{
		Issuer:                cfg.Issuer,
		AccessTokenLifetime:   cfg.AccessTokenLifetime,
		RefreshTokenLifetime:  cfg.RefreshTokenLifetime,
		RefreshFamilyLifetime: cfg.RefreshFamilyLifetime,
		Password:              cfg.passwordParams(),
		Logger:                logger,
		Now:                   cfg.Now,
		ClientCacheTTL:        cfg.ClientCacheTTL,
		ClientJWKSTimeout:     cfg.ClientJWKSTimeout,
		ProductName:           cfg.ProductName,
		LogoURI:               logo,
		LoginSessionLifetime:  cfg.LoginSessionLifetime,
		LogoutRevokesFamilies: cfg.LogoutRevokesFamilies,
		Observer:              a.metrics.observer(),
		Throttle:              cfg.throttleLimits(),
		TrustedProxies:        cfg.TrustedProxies,
		ForwardedHeader:       cfg.ForwardedHeader,
		FederationTransport:   cfg.FederationTransport,
		FederationTimeout:     cfg.FederationTimeout,
		AdminRole:             cfg.AdminRole,
		MaxTokenAge:           cfg.TrustedTokenMaxAge,
		Secrets:               secrets,
	}, a.store, a.ring)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.oauth = o
	a.admin, err = admin.NewService(admin.Config{
		Store:         a.store,
		Hasher:        o.PasswordHasher(),
		Logger:        logger,
		Now:           cfg.Now,
		Scopes:        cfg.Scopes,
		AdminRole:     cfg.AdminRole,
		Issuer:        cfg.Issuer,
		ClientChanged: o.ForgetClient,
		Secrets:       secrets,
		Observer:      a.metrics.observer(),
	})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.handler = routes(a.oauth, discovery.Config{
		Issuer:      cfg.Issuer,
		GrantTypes:  oauth.GrantTypes(),
		AuthMethods: oauth.AuthMethods(),
		// private_key_jwt assertions (oauth/client_assertion.go).
		AuthSigningAlgs:   oauth.AssertionAlgorithms(),
		Scopes:            cfg.Scopes,
		Algorithms:        a.ring.Algorithms,
		IDTokenAlgorithms: a.ring.IDTokenAlgorithms,
		MaxAge:            cfg.JWKSMaxAge,
	}, a.ring.JWKS, &readiness{
		ping:       a.store.Ping,
		schema:     a.schema,
		keysLoaded: func() bool { return a.ring.Set().Active != nil },
		logger:     logger,
	}, cfg.RequestTimeout)
	auth, err := admin.NewAuth(admin.AuthConfig{
		Issuer:   cfg.Issuer,
		Audience: cfg.AdminAudience,
		Role:     cfg.AdminRole,
		Scope:    cfg.AdminScope,
		// Discovery and the JWKS come from this process's own router: the
		// admin API verifies tokens exactly as a resource server would,
		// without needing to reach the public issuer URL.
		Local:         a.handler,
		Revoked:       o.Revoked,
		Now:           cfg.Now,
		Logger:        logger,
		Authenticated: a.metrics.observer().ClientAuthenticated,
	})
	if err != nil {
		a.store.Close()
		return nil, err
	}
	api := admin.NewHandler(a.admin, auth)
	adminHandler, adminRoute := adminListener(api, a.metrics, auth, cfg.Pprof)
	a.adminHandler = accessLog(adminHandler, logger, a.metrics, "admin", adminRoute)
	a.handler = accessLog(a.handler, logger, a.metrics, "public", muxRoute(a.handler))
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }

// start runs the background tasks until the returned stop is called.
func (a *app) start(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for _, task := range a.background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := task(ctx); err != nil && ctx.Err() == nil {
				a.logger.Error("background task stopped", "err", err)
			}
		}()
	}
	return func() {
		cancel()
		wg.Wait()
	}
}

// logoDataURI reads the hosted pages' logo and returns it as a data: URI,
// so the pages load nothing from elsewhere; no file, no logo.
func logoDataURI(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("--logo-file: %w", err)
	}
	if len(b) > 256<<10 {
		return "", fmt.Errorf("--logo-file: %d bytes; at most 256 KiB", len(b))
	}
	typ := http.DetectContentType(b)
	if strings.HasSuffix(strings.ToLower(path), ".svg") {
		typ = "image/svg+xml"
	}
	switch typ {
	case "image/png", "image/jpeg", "image/svg+xml":
	default:
		return "", fmt.Errorf("--logo-file: %s is not a PNG, JPEG or SVG image", typ)
	}
	return "data:" + typ + ";base64," + base64.StdEncoding.EncodeToString(b), nil
}
