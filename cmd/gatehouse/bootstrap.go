package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse/gatehouse/admin"
)

// runBootstrap creates the first admin client when no client holds the
// admin role, and prints its credentials once to stdout: the terminal of
// the operator who runs it, never the server's log stream (serve does not
// create one outside dev mode). Run again, it creates nothing.
func runBootstrap(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bootstrap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &adminCmd{fs: fs, databaseURL: databaseURLFlag(fs, getenv), getenv: getenv, stdout: stdout, stderr: stderr}
	fs.Usage = usage(fs, stderr, "gatehouse bootstrap [flags]",
		"docker compose exec gatehouse gatehouse bootstrap   # prints admin_client_id=... admin_client_secret=...")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	created, err := admin.Bootstrap(ctx, svc, stdout)
	if err != nil {
		return err
	}
	if !created {
		fmt.Fprintln(stderr, "a client with the admin role exists already; nothing created (`gatehouse clients list` shows it, `gatehouse clients rotate-secret ID` gives it a new secret)")
	}
	return nil
}
