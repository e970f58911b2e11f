package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
)

// The clients, users, throttle and bootstrap commands administer the
// configured PostgreSQL store through admin.Service, the same rules the
// admin HTTP API applies.

// storeCmd is what every command on the shared store takes: the database
// URL and --json.
type storeCmd struct {
	databaseFlag
	output
}

// open opens the store named by --database-url and builds the service with
// the server's configuration from the environment (known scopes, argon2id
// parameters, log format). Audit events go to stderr.
func (c *storeCmd) open(ctx context.Context, e *cliEnv) (context.Context, *admin.Service, func(), error) {
	cfg, err := envConfig(e.getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.DatabaseURL == "" {
		return nil, nil, nil, errNoDatabase
	}
	logger := newLogger(cfg, e.stderr)
	store, err := openStore(ctx, c.DatabaseURL, logger)
	if err != nil {
		return nil, nil, nil, err
	}
	hasher, err := oauth.NewPasswordHasher(cfg.passwordParams())
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	var secrets *keys.Secrets
	if cfg.Secrets != "" || cfg.SecretsFile != "" {
		// Only connectors need them (to seal their secrets); a command
		// that seals without them says so.
		if secrets, err = cfg.loadSecrets(); err != nil {
			store.Close()
			return nil, nil, nil, err
		}
	}
	svc, err := admin.NewService(admin.Config{
		Store: store, Hasher: hasher, Logger: logger, Now: cfg.Now, Scopes: cfg.Scopes, AdminRole: cfg.AdminRole,
		Secrets: secrets,
	})
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	actor := "cli"
	if u := e.getenv("USER"); u != "" {
		actor += ":" + u
	}
	return admin.WithActor(ctx, actor), svc, func() { store.Close() }, nil
}

// withService runs fn with the service open.
func (c *storeCmd) withService(ctx context.Context, e *cliEnv, fn func(context.Context, *admin.Service) error) error {
	ctx, svc, done, err := c.open(ctx, e)
	if err != nil {
		return err
	}
	defer done()
	return fn(ctx, svc)
}

// cliError names the flag behind a refused field.
func cliError(err error) error {
	var fe *admin.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%s: %s", flagFor(fe.Field), fe.Reason)
}

func flagFor(field string) string {
	switch {
	case field == "token_lifetime_seconds":
		return "--token-lifetime"
	case field == "grace_seconds":
		return "--grace"
	case field == "claims" || strings.HasPrefix(field, "claims."):
		return "--claim " + strings.TrimPrefix(strings.TrimPrefix(field, "claims"), ".")
	case field == "password":
		return "password"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}

func joinOr(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}
