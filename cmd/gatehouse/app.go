package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// app is a wired Gatehouse server.
type app struct {
	cfg     *Config
	logger  *slog.Logger
	store   storage.Store
	ring    *keys.Ring
	oauth   *oauth.Server
	handler http.Handler
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
		return nil, fmt.Errorf("database %s: the PostgreSQL store is not built into this binary yet", cfg.DatabaseURL)
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
	}, a.ring.JWKS, a.store)
	return a, nil
}

func (a *app) Close() error { return a.store.Close() }
