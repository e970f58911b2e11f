package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/keys"
)

const keysUsage = `Usage: gatehouse keys COMMAND [flags]

Manage the access-token signing keys in the PostgreSQL store that every
instance shares (design D6). A key moves next (published) -> active
(signing) -> retired (published until its tokens expire) -> deleted.

Commands:
  list        list the keys with their state and times (--json for JSON)
  rotate      replace the active key as soon as the next key has been
              published for the publish lead; running servers carry it out
  revoke KID  withdraw a compromised key at once (JWKS and signing)
  reencrypt   seal every private key under the first master secret

Environment:
  GATEHOUSE_DATABASE_URL          PostgreSQL URL (or --database-url)
  GATEHOUSE_SECRETS               master secrets, comma-separated, newest first;
                                  each >= 32 bytes, or "base64:" + base64 of >= 32 bytes
  GATEHOUSE_SECRETS_FILE          instead: a file with one secret a line
  GATEHOUSE_SIGNING_ALG, GATEHOUSE_JWKS_MAX_AGE, GATEHOUSE_ACCESS_TOKEN_LIFETIME,
  GATEHOUSE_KEY_ROTATION_PERIOD, GATEHOUSE_KEY_REFRESH_INTERVAL
                                  as for 'gatehouse serve'; they set the times of new keys

Run 'gatehouse keys COMMAND --help' for a command's flags and an example.
`

// runKeys implements `gatehouse keys`.
func runKeys(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: no command given")
	}
	cmd, args := args[0], args[1:]
	var (
		synopsis, example string
		nargs             int
		asJSON            *bool
	)
	switch cmd {
	case "list":
		synopsis, example = "gatehouse keys list [--json] [flags]", "gatehouse keys list --json"
	case "rotate":
		synopsis, example = "gatehouse keys rotate [flags]", "GATEHOUSE_SECRETS_FILE=/run/secrets/gatehouse gatehouse keys rotate"
	case "revoke":
		synopsis, example, nargs = "gatehouse keys revoke KID [flags]", "gatehouse keys revoke 3mUz0pUhtRjB1iqbmdUgR3tHbOgmYtJTsU3ZzWHyxh8", 1
	case "reencrypt":
		synopsis, example = "gatehouse keys reencrypt [flags]", `GATEHOUSE_SECRETS="base64:NEW...,base64:OLD..." gatehouse keys reencrypt`
	case "help", "-h", "--help":
		fmt.Fprint(stdout, keysUsage)
		return nil
	default:
		fmt.Fprint(stderr, keysUsage)
		return fmt.Errorf("keys: unknown command %q", cmd)
	}
	fs := flag.NewFlagSet("keys "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := databaseURLFlag(fs, getenv)
	if cmd == "list" {
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	}
	fs.Usage = usage(fs, stderr, synopsis, example)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != nargs {
		fs.Usage()
		return fmt.Errorf("keys %s: want %d argument(s), got %d", cmd, nargs, fs.NArg())
	}
	cfg, err := envConfig(getenv)
	if err != nil {
		return err
	}
	var secrets *keys.Secrets
	if cmd != "list" { // list shows public facts only and needs no secret
		if secrets, err = keys.LoadSecrets(getenv); err != nil {
			return err
		}
	}
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	opts := cfg.keyOptions(secrets, logger)
	store, err := openStore(ctx, dbURL(), logger)
	if err != nil {
		return err
	}
	defer store.Close()
	m, err := keys.NewManager(store, opts)
	if err != nil {
		return err
	}
	switch cmd {
	case "list":
		return listKeys(ctx, m, *asJSON, stdout)
	case "rotate":
		r, err := m.Rotate(ctx)
		if err != nil {
			return err
		}
		if r.Pending {
			fmt.Fprintf(stdout, "rotation pending: key %s signs until the next key %s has been published long enough, at %s; running servers carry it out\n",
				r.Active, r.Next, r.At.UTC().Format(time.RFC3339))
			return nil
		}
		fmt.Fprintf(stdout, "rotated: %s signs now, %s retired, %s published as next\n", r.Active, r.Retired, r.Next)
		return nil
	case "revoke":
		r, err := m.Revoke(ctx, fs.Arg(0))
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s: removed from the JWKS and no longer signing; %s signs now\n", r.Revoked, r.Active)
		if r.Immature {
			fmt.Fprintf(stdout, "warning: %s was published only recently; verifiers whose cached JWKS lacks it refetch it on its first token\n", r.Active)
		}
		return nil
	default: // reencrypt
		n, err := m.Reencrypt(ctx)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "re-encrypted %d key(s) under the first master secret\n", n)
		return nil
	}
}

func listKeys(ctx context.Context, m *keys.Manager, asJSON bool, stdout io.Writer) error {
	l, err := m.List(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(l)
	}
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.RFC3339)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tPUBLISHED\tCREATED\tACTIVATES\tACTIVATED\tRETIRED\tDELETE AFTER")
	for _, k := range l {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%t\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State, k.Published,
			ts(k.CreatedAt), ts(k.ActivateAt), ts(k.ActivatedAt), ts(k.RetiredAt), ts(k.DeleteAfter))
	}
	return tw.Flush()
}
