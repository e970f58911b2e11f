package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"
	"sync"

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
	oauth   *oauth.Server
	handler http.Handler
	// background tasks run for the server's lifetime (janitor, key
	// rotation); each returns when its context is done.
	background []func(context.Context) error
}

// newApp builds config -> store -> keys -> oauth -> router, in that order.
func newApp(ctx context.Context, cfg *Config, logger *slog.Logger) (*app, error) {
	a := &app{cfg: cfg, logger: logger}
	var globalSecret []byte
	if cfg.Dev {
		a.store = memory.New()
		ring, err := keys.NewEphemeralRing(cfg.SigningAlg)
		if err != nil {
			return nil, err
		}
		a.ring = ring
		globalSecret = make([]byte, 32)
		rand.Read(globalSecret)
	} else {
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
		a.background = append(a.background, (&storage.Janitor{Store: pg, Interval: cfg.JanitorInterval, Logger: logger}).Run)
		return nil, fmt.Errorf("persistent signing keys are not wired yet")
	}
	o, err := oauth.New(oauth.Config{
		Issuer:                cfg.Issuer,
		AccessTokenLifetime:   cfg.AccessTokenLifetime,
		RefreshTokenLifetime:  cfg.RefreshTokenLifetime,
		RefreshFamilyLifetime: cfg.RefreshFamilyLifetime,
		GlobalSecret:          globalSecret,
		Scopes:                cfg.Scopes,
		Password: oauth.PasswordParams{
			MemoryKiB:   uint32(cfg.Argon2MemoryKiB),
			Iterations:  uint32(cfg.Argon2Iterations),
			Parallelism: uint8(cfg.Argon2Parallelism),
		},
		Logger: logger,
		Now:    cfg.Now,
	}, a.store, a.ring)
	if err != nil {
		a.store.Close()
		return nil, err
	}
	a.oauth = o
	a.handler = routes(a.oauth, discovery.Config{
		Issuer:      cfg.Issuer,
		GrantTypes:  oauth.GrantTypes,
		AuthMethods: oauth.AuthMethods,
		Scopes:      cfg.Scopes,
		Algorithms:  a.ring.Algorithms,
		MaxAge:      cfg.JWKSMaxAge,
	}, a.ring.JWKS, a.store, cfg.RequestTimeout)
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
