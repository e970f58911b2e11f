package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// throttleCmd is `gatehouse throttle`.
type throttleCmd struct {
	List  throttleListCmd  `cmd:"" help:"List login-throttle counters that are blocking (their next attempt gets 429)." example:"gatehouse throttle list --json"`
	Show  throttleShowCmd  `cmd:"" help:"Show the counters of a username or directory entry and/or client address." example:"gatehouse throttle show --username alice --address 203.0.113.7"`
	Clear throttleClearCmd `cmd:"" help:"Clear the counters of a username or directory entry and/or address, or one counter by key." example:"gatehouse throttle clear --username alice --json"`
}

// Help is the detail of `gatehouse throttle --help`.
func (throttleCmd) Help() string {
	return `Counters are named by a digest of what they count, never by the username or
address itself: look one up with show --username/--address. A login through
an LDAP connector is also counted by the directory entry it reached, under
every spelling of the username: name it with --connector ID --dn DN.
Clearing is an audit event (action throttle.clear).`
}

// throttleTarget names the counters show and clear work on.
type throttleTarget struct {
	Username  string `name:"username" help:"A username, in any spelling."`
	Connector string `name:"connector" help:"An LDAP connector's id; with --dn, a directory entry instead of a username."`
	DN        string `name:"dn" help:"The directory entry's DN (any case); with --connector."`
	Address   string `name:"address" help:"A client address (IPv6 counts per /64)."`
	Key       string `name:"key" help:"One counter's key, as listed."`
}

func (t throttleTarget) params() admin.ThrottleParams {
	return admin.ThrottleParams{Username: t.Username, Connector: t.Connector, DN: t.DN, Address: t.Address, Key: t.Key}
}

// showCounters prints the throttle counters fn returns.
func (c *storeCmd) showCounters(ctx context.Context, e *cliEnv, fn func(context.Context, *admin.Service) ([]admin.ThrottleCounter, error)) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cs, err := fn(ctx, svc)
		if err != nil {
			return cliError(err)
		}
		if cs == nil {
			cs = []admin.ThrottleCounter{}
		}
		return c.print(e.stdout, cs, func(w io.Writer) {
			fmt.Fprintln(w, "KEY\tKIND\tCOUNT\tLIMIT\tBLOCKED\tUNTIL")
			for _, x := range cs {
				fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%v\t%s\n", x.Key, x.Kind, x.Count, x.Limit, x.Blocked, x.Until.Format(time.RFC3339))
			}
		})
	})
}

type throttleListCmd struct{ storeCmd }

func (c *throttleListCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.showCounters(ctx, e, func(ctx context.Context, svc *admin.Service) ([]admin.ThrottleCounter, error) {
		return svc.ListThrottleBlocks(ctx)
	})
}

type throttleShowCmd struct {
	storeCmd
	throttleTarget
}

func (c *throttleShowCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.showCounters(ctx, e, func(ctx context.Context, svc *admin.Service) ([]admin.ThrottleCounter, error) {
		return svc.ThrottleStatus(ctx, c.params())
	})
}

type throttleClearCmd struct {
	storeCmd
	throttleTarget
}

func (c *throttleClearCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		n, err := svc.ClearThrottle(ctx, c.params())
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, map[string]int{"cleared": n}, func(w io.Writer) { fmt.Fprintf(w, "cleared=%d\n", n) })
	})
}
