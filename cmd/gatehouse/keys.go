package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/keys"
)

// keysCmd is `gatehouse keys`: the access-token signing keys in the
// PostgreSQL store that every instance shares (design D6).
type keysCmd struct {
	List      keysListCmd      `cmd:"" help:"List the keys with their state and times." example:"gatehouse keys list --json"`
	Rotate    keysRotateCmd    `cmd:"" help:"Replace the active key as soon as the next key has been published for the publish lead; running servers carry it out." example:"GATEHOUSE_SECRETS_FILE=/run/secrets/gatehouse gatehouse keys rotate"`
	Revoke    keysRevokeCmd    `cmd:"" help:"Withdraw a compromised key at once (JWKS and signing)." example:"gatehouse keys revoke 3mUz0pUhtRjB1iqbmdUgR3tHbOgmYtJTsU3ZzWHyxh8" example:"gatehouse keys revoke --json -- -8Xq2fQ4bYk3nT0a9WcEr5uLmPz1sDgVhJi7oKyN6Rt"`
	Reencrypt keysReencryptCmd `cmd:"" help:"Seal every private key under the first master secret." example:"GATEHOUSE_SECRETS=base64:bmV3LW1hc3Rlci1zZWNyZXQtb2YtMzItYnl0ZXMtMDEyMzQ=,base64:b2xkLW1hc3Rlci1zZWNyZXQtb2YtMzItYnl0ZXMtMDEyMzQ= gatehouse keys reencrypt"`
}

// Help is the detail of `gatehouse keys --help`.
func (keysCmd) Help() string {
	return `A key moves next (published) -> active (signing) -> retired (published
until its tokens expire) -> deleted.

Environment:
  GATEHOUSE_DATABASE_URL   PostgreSQL URL (or --database-url)
  GATEHOUSE_SECRETS        master secrets, comma-separated, newest first; each >= 32
                           bytes, or "base64:" + base64 of >= 32 bytes
  GATEHOUSE_SECRETS_FILE   instead: a file with one secret a line
  GATEHOUSE_SIGNING_ALG, GATEHOUSE_JWKS_MAX_AGE, GATEHOUSE_ACCESS_TOKEN_LIFETIME,
  GATEHOUSE_KEY_ROTATION_PERIOD, GATEHOUSE_KEY_REFRESH_INTERVAL
                           as for 'gatehouse serve'; they set the times of new keys
A kid that starts with "-" follows "--".`
}

// keysStore is what every keys command takes.
type keysStore struct {
	storeCmd
}

// manager opens the store and the key manager with the server's schedule
// from the environment; withSecrets loads the master secrets, which list
// does not need (it shows public facts only).
func (c *keysStore) manager(ctx context.Context, e *cliEnv, withSecrets bool) (*keys.Manager, func(), error) {
	cfg, err := envConfig(e.getenv)
	if err != nil {
		return nil, nil, err
	}
	var secrets *keys.Secrets
	if withSecrets {
		if secrets, err = keys.LoadSecrets(e.getenv); err != nil {
			return nil, nil, err
		}
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := openStore(ctx, c.DatabaseURL, logger)
	if err != nil {
		return nil, nil, err
	}
	m, err := keys.NewManager(store, cfg.keyOptions(secrets, logger))
	if err != nil {
		store.Close()
		return nil, nil, err
	}
	return m, func() { store.Close() }, nil
}

type keysListCmd struct{ keysStore }

func (c *keysListCmd) Run(ctx context.Context, e *cliEnv) error {
	m, done, err := c.manager(ctx, e, false)
	if err != nil {
		return err
	}
	defer done()
	l, err := m.List(ctx)
	if err != nil {
		return err
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	return c.print(e.stdout, l, func(w io.Writer) {
		fmt.Fprintln(w, "KID\tALG\tSIGNS\tSTATE\tPUBLISHED\tCREATED\tACTIVATES\tACTIVATED\tRETIRED\tDELETE AFTER")
		for _, k := range l {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, strings.ReplaceAll(k.Signs, " ", ","), k.State, k.Published,
				ts(k.CreatedAt), ts(k.ActivateAt), ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.DeleteAfter))
		}
	})
}

type keysRotateCmd struct{ keysStore }

func (c *keysRotateCmd) Run(ctx context.Context, e *cliEnv) error {
	m, done, err := c.manager(ctx, e, true)
	if err != nil {
		return err
	}
	defer done()
	r, err := m.Rotate(ctx)
	if err != nil {
		return err
	}
	out := map[string]any{"active_kid": r.Active, "next_kid": r.Next, "pending": r.Pending, "id_token_kid": r.IDToken}
	if r.Pending {
		out["rotates_at"] = r.At.UTC()
	} else {
		out["retired_kid"] = r.Retired
	}
	return c.print(e.stdout, out, func(w io.Writer) {
		if r.Pending {
			fmt.Fprintf(w, "rotation pending: key %s signs until the next key %s has been published long enough, at %s; running servers carry it out\n",
				r.Active, r.Next, r.At.UTC().Format(time.RFC3339))
			return
		}
		fmt.Fprintf(w, "rotated: %s signs now, %s retired, %s published as next; ID tokens: %s\n", r.Active, r.Retired, r.Next, r.IDToken)
	})
}

type keysRevokeCmd struct {
	keysStore
	KID string `arg:"" name:"kid" help:"Key id to revoke (after -- when it starts with -)."`
}

func (c *keysRevokeCmd) Run(ctx context.Context, e *cliEnv) error {
	m, done, err := c.manager(ctx, e, true)
	if err != nil {
		return err
	}
	defer done()
	r, err := m.Revoke(ctx, c.KID)
	if err != nil {
		return err
	}
	out := map[string]any{"revoked_kid": r.Revoked, "active_kid": r.Active, "immature": r.Immature}
	return c.print(e.stdout, out, func(w io.Writer) {
		fmt.Fprintf(w, "revoked %s: removed from the JWKS and no longer signing; %s signs now\n", r.Revoked, r.Active)
		if r.Immature {
			fmt.Fprintf(w, "warning: %s was published only recently; verifiers whose cached JWKS lacks it refetch it on its first token\n", r.Active)
		}
	})
}

type keysReencryptCmd struct{ keysStore }

func (c *keysReencryptCmd) Run(ctx context.Context, e *cliEnv) error {
	m, done, err := c.manager(ctx, e, true)
	if err != nil {
		return err
	}
	defer done()
	n, err := m.Reencrypt(ctx)
	if err != nil {
		return err
	}
	return c.print(e.stdout, map[string]int{"reencrypted": n}, func(w io.Writer) {
		fmt.Fprintf(w, "re-encrypted %d key(s) under the first master secret\n", n)
	})
}
