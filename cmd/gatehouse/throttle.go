package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

const throttleUsage = `Usage: gatehouse throttle COMMAND [flags]

Commands:
  list     list login-throttle counters that are blocking (their next attempt gets 429)
  show     show the counters of a username and/or client address
  clear    clear the counters of a username and/or address, or one counter by key

Counters are named by a digest of what they count, never by the username or
address itself: look one up with show --username/--address. Clearing is an
audit event (action throttle.clear).

Run 'gatehouse throttle COMMAND --help' for a command's flags and an example.
`

func runThrottle(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, throttleUsage)
		return errors.New("throttle: no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "list", "show", "clear":
		return throttleRun(ctx, cmd, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, throttleUsage)
		return nil
	default:
		fmt.Fprint(stderr, throttleUsage)
		return fmt.Errorf("throttle: unknown command %q", cmd)
	}
}

func throttleRun(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	help := map[string][2]string{
		"list":  {"gatehouse throttle list [--json]", "gatehouse throttle list"},
		"show":  {"gatehouse throttle show [--username U] [--address A] [--key K] [--json]", "gatehouse throttle show --username alice --address 203.0.113.7"},
		"clear": {"gatehouse throttle clear [--username U] [--address A] [--key K] [--json]", "gatehouse throttle clear --username alice"},
	}[cmd]
	c := newAdminCmd("throttle "+cmd, getenv, stdout, stderr, help[0], help[1])
	var p admin.ThrottleParams
	if cmd != "list" {
		c.fs.StringVar(&p.Username, "username", "", "a username, in any spelling")
		c.fs.StringVar(&p.Address, "address", "", "a client address (IPv6 counts per /64)")
		c.fs.StringVar(&p.Key, "key", "", "one counter's key, as listed")
	}
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	var cs []admin.ThrottleCounter
	switch cmd {
	case "list":
		cs, err = svc.ListThrottleBlocks(ctx)
	case "show":
		cs, err = svc.ThrottleStatus(ctx, p)
	case "clear":
		n, err := svc.ClearThrottle(ctx, p)
		if err != nil {
			return cliError(err)
		}
		return c.print(map[string]int{"cleared": n}, func(w io.Writer) { fmt.Fprintf(w, "cleared=%d\n", n) })
	}
	if err != nil {
		return cliError(err)
	}
	return c.print(cs, func(w io.Writer) {
		fmt.Fprintln(w, "KEY\tKIND\tCOUNT\tLIMIT\tBLOCKED\tUNTIL")
		for _, x := range cs {
			fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%v\t%s\n", x.Key, x.Kind, x.Count, x.Limit, x.Blocked, x.Until.Format(time.RFC3339))
		}
	})
}
