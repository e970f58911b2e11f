// Command gatehouse runs the Gatehouse authorization server and its
// administration commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Environ(), os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatehouse:", err)
		}
		os.Exit(1)
	}
}

const topUsage = `Usage: gatehouse COMMAND [flags]

Commands:
  serve        run the authorization server
  migrate      apply database migrations ("migrate status" lists them)
  clients      create, list, show, update, delete clients; rotate secrets
  users        create, list, show users; set passwords; disable, enable, delete; roles
  keys         list, rotate, revoke signing keys; re-encrypt them under a new master secret
  bootstrap    create the first admin client, if none exists, and print its secret once
  throttle     list, show and clear login-throttle blocks
  healthcheck  probe a running server's /readyz (or /livez), for container health checks

Run 'gatehouse COMMAND --help' for a command's flags and an example.
`

// run is the whole program, with its environment ("NAME=value" entries,
// as os.Environ returns them) passed in so tests can run it in-process.
// An unknown GATEHOUSE_* variable stops every command (design D11).
func run(ctx context.Context, args []string, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, topUsage)
		return errors.New("no command given")
	}
	if err := checkEnviron(environ); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	getenv := lookupEnv(environ)
	switch args[0] {
	case "serve":
		return runServe(ctx, args[1:], getenv, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, args[1:], getenv, stdout, stderr)
	case "clients":
		return runClients(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "users":
		return runUsers(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "keys":
		return runKeys(ctx, args[1:], getenv, stdout, stderr)
	case "bootstrap":
		return runBootstrap(ctx, args[1:], getenv, stdout, stderr)
	case "healthcheck":
		return runHealthcheck(ctx, args[1:], getenv, stdout, stderr)
	case "throttle":
		return runThrottle(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, topUsage)
		return nil
	default:
		fmt.Fprint(stderr, topUsage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}
