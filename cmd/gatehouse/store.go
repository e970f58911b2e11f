package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
)

// errNoDatabase is what commands that need the shared store say in dev mode.
var errNoDatabase = errors.New("no database configured: set GATEHOUSE_DATABASE_URL or --database-url (the dev server's in-memory store lives in its own process)")

// openStore opens the PostgreSQL store and checks that its schema is the
// one this binary knows (design D8).
func openStore(ctx context.Context, databaseURL string, logger *slog.Logger) (storage.Store, error) {
	return openPostgres(ctx, databaseURL, postgres.Options{ConnectTimeout: 2 * time.Second, Logger: logger}, false)
}

func openPostgres(ctx context.Context, databaseURL string, opts postgres.Options, migrate bool) (*postgres.Store, error) {
	if databaseURL == "" {
		return nil, errNoDatabase
	}
	s, err := postgres.Open(ctx, databaseURL, opts)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", postgres.RedactURL(databaseURL), err)
	}
	if migrate {
		applied, err := postgres.Migrate(ctx, s)
		if err != nil {
			s.Close()
			return nil, err
		}
		for _, name := range applied {
			opts.Logger.Info("migration applied", "migration", name)
		}
	}
	// CheckSchema's errors say which command to run.
	if err := s.CheckSchema(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}
