package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/storage/postgres"
)

// runMigrate applies pending migrations, or lists them with "status".
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := databaseURLFlag(fs, getenv)
	fs.Usage = usage(fs, stderr, "gatehouse migrate [status] [flags]",
		"GATEHOUSE_DATABASE_URL=postgres://gatehouse@localhost/gatehouse gatehouse migrate")
	if err := fs.Parse(args); err != nil {
		return err
	}
	status := false
	switch rest := fs.Args(); {
	case len(rest) == 0:
	case len(rest) == 1 && rest[0] == "status":
		status = true
	default:
		return fmt.Errorf("migrate: unexpected arguments %q", rest)
	}
	if dbURL() == "" {
		return errNoDatabase
	}
	logger := slog.New(slog.NewTextHandler(stderr, nil))
	s, err := postgres.Open(ctx, dbURL(), postgres.Options{ConnectTimeout: 5 * time.Second, Logger: logger})
	if err != nil {
		return fmt.Errorf("open database %s: %w", postgres.RedactURL(dbURL()), err)
	}
	defer s.Close()
	if status {
		states, err := s.MigrationStatus(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, m := range states {
			state, at := "pending", ""
			if m.Applied {
				state, at = "applied", m.AppliedAt.UTC().Format(time.RFC3339)
			}
			if m.Unknown {
				state = "unknown to this binary"
			}
			fmt.Fprintf(tw, "%04d\t%s\t%s\t%s\n", m.Version, m.Name, state, at)
		}
		return tw.Flush()
	}
	applied, err := postgres.Migrate(ctx, s)
	if err != nil {
		return err
	}
	if len(applied) == 0 {
		fmt.Fprintln(stdout, "database schema is up to date; nothing to apply")
	}
	for _, name := range applied {
		fmt.Fprintln(stdout, "applied", name)
	}
	return nil
}
