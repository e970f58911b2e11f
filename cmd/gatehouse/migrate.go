package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/storage/postgres"
)

// migrateCmd is `gatehouse migrate`: apply (the default) or status.
type migrateCmd struct {
	Apply  migrateApplyCmd  `cmd:"" default:"withargs" help:"Apply pending migrations (the default)." example:"gatehouse migrate apply --json"`
	Status migrateStatusCmd `cmd:"" help:"List the migrations and whether each is applied." example:"gatehouse migrate status"`
}

// open opens the database without checking its schema, which is what
// migrate is for.
func (c *storeCmd) openMigrations(ctx context.Context, e *cliEnv) (*postgres.Store, error) {
	if c.DatabaseURL == "" {
		return nil, errNoDatabase
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, nil))
	s, err := postgres.Open(ctx, c.DatabaseURL, postgres.Options{ConnectTimeout: 5 * time.Second, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", postgres.RedactURL(c.DatabaseURL), err)
	}
	return s, nil
}

type migrateApplyCmd struct{ storeCmd }

func (c *migrateApplyCmd) Run(ctx context.Context, e *cliEnv) error {
	s, err := c.openMigrations(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	applied, err := postgres.Migrate(ctx, s)
	if err != nil {
		return err
	}
	return c.print(e.stdout, map[string]any{"applied": append([]string{}, applied...)}, func(w io.Writer) {
		if len(applied) == 0 {
			fmt.Fprintln(w, "database schema is up to date; nothing to apply")
		}
		for _, name := range applied {
			fmt.Fprintln(w, "applied", name)
		}
	})
}

type migrateStatusCmd struct{ storeCmd }

func (c *migrateStatusCmd) Run(ctx context.Context, e *cliEnv) error {
	s, err := c.openMigrations(ctx, e)
	if err != nil {
		return err
	}
	defer s.Close()
	states, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	type row struct {
		Version   int        `json:"version"`
		Name      string     `json:"name"`
		State     string     `json:"state"`
		AppliedAt *time.Time `json:"applied_at,omitempty"`
	}
	rows := make([]row, 0, len(states))
	for _, m := range states {
		r := row{Version: m.Version, Name: m.Name, State: "pending"}
		if m.Applied {
			at := m.AppliedAt.UTC()
			r.State, r.AppliedAt = "applied", &at
		}
		if m.Unknown {
			r.State = "unknown to this binary"
		}
		rows = append(rows, r)
	}
	return c.print(e.stdout, rows, func(w io.Writer) {
		fmt.Fprintln(w, "VERSION\tNAME\tSTATE\tAPPLIED AT")
		for _, r := range rows {
			at := ""
			if r.AppliedAt != nil {
				at = r.AppliedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(w, "%04d\t%s\t%s\t%s\n", r.Version, r.Name, r.State, at)
		}
	})
}
