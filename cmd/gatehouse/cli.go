package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/alecthomas/kong"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// cli is the command tree. Each command's help carries examples (the
// example tag), which TestHelpExamples runs against a real server.
type cli struct {
	Serve       serveCmd       `cmd:"" help:"Run the authorization server." example:"gatehouse serve" example:"gatehouse serve --dev --addr 127.0.0.1:8080 --admin-addr 127.0.0.1:8081 --json"`
	Migrate     migrateCmd     `cmd:"" help:"Apply database migrations; 'migrate status' lists them." example:"gatehouse migrate" example:"gatehouse migrate status --json"`
	Clients     clientsCmd     `cmd:"" help:"Create, list, show, update, delete clients; rotate secrets." example:"gatehouse clients list"`
	Users       usersCmd       `cmd:"" help:"Create, list, show users; set passwords; disable, enable, delete; roles." example:"gatehouse users list --json"`
	Connectors  connectorsCmd  `cmd:"" help:"Create, list, show, update, delete connectors: upstream OpenID Connect providers and LDAP directories users sign in through." example:"gatehouse connectors list"`
	Keys        keysCmd        `cmd:"" help:"List, rotate, revoke signing keys; re-encrypt them under a new master secret." example:"gatehouse keys list"`
	Bootstrap   bootstrapCmd   `cmd:"" help:"Create the first admin client, if none exists, and print its secret once." example:"gatehouse bootstrap"`
	Throttle    throttleCmd    `cmd:"" help:"List, show and clear login-throttle blocks." example:"gatehouse throttle list"`
	Healthcheck healthcheckCmd `cmd:"" help:"Probe a running server's /readyz (or /livez), for container health checks." example:"gatehouse healthcheck --url http://127.0.0.1:8080"`
}

// cliEnv is what every command's Run receives besides its context: the
// environment run was given and the standard streams.
type cliEnv struct {
	getenv         func(string) string
	stdin          io.Reader
	stdout, stderr io.Writer
	// envErrs are the environment variables that did not parse, reported
	// with the configuration's other problems.
	envErrs []error
}

// exitRequest is how kong's Exit (after --help) unwinds to parse.
type exitRequest int

// newParser builds the kong parser of root over the environment getenv:
// flags take their variable's value (envResolver), help goes to stdout
// with examples, and exiting is left to the caller.
func newParser(root any, getenv func(string) string, envErrs *[]error, stdout, stderr io.Writer) (*kong.Kong, error) {
	return kong.New(root,
		kong.Name("gatehouse"),
		kong.Description("Gatehouse, an OAuth 2.0 authorization server. A flag wins over its GATEHOUSE_* variable, the variable over the default."),
		kong.Writers(stdout, stderr),
		kong.Exit(func(code int) { panic(exitRequest(code)) }),
		kong.Resolvers(envResolver{getenv: getenv, errs: envErrs}),
		kong.ValueFormatter(helpValue),
		kong.Help(printHelp),
		kong.Vars{"grant_types": strings.Join(oauth.GrantTypes(), ", ")},
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
	)
}

// parse parses args; after --help it returns flag.ErrHelp, which main
// turns into exit status 0.
func parse(p *kong.Kong, args []string) (kctx *kong.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			code, ok := r.(exitRequest)
			if !ok {
				panic(r)
			}
			kctx = nil
			if err = flag.ErrHelp; code != 0 {
				err = fmt.Errorf("exit status %d", code)
			}
		}
	}()
	return p.Parse(args)
}

// run is the whole program, with its environment ("NAME=value" entries,
// as os.Environ returns them) passed in so tests can run it in-process.
// An unknown GATEHOUSE_* variable stops every command (design D11).
func run(ctx context.Context, args []string, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	e := &cliEnv{getenv: lookupEnv(environ), stdin: stdin, stdout: stdout, stderr: stderr}
	var root cli
	p, err := newParser(&root, e.getenv, &e.envErrs, stdout, stderr)
	if err != nil {
		return err
	}
	if err := checkEnviron(environ, knownEnv(p.Model)); err != nil {
		return fmt.Errorf("configuration:\n%w", err)
	}
	if err := checkArgs(args); err != nil {
		return err
	}
	kctx, err := parse(p, args)
	var pe *kong.ParseError
	if errors.As(err, &pe) && pe.Context != nil {
		return fmt.Errorf("%w (see '%s --help')", err, commandPath(pe.Context.Selected()))
	}
	if err != nil {
		return err
	}
	kctx.BindTo(ctx, (*context.Context)(nil))
	return kctx.Run(e)
}

// checkArgs is the command line's input boundary, as checkRequestText is
// the admin API's (design D9): an argument no store can hold (invalid
// UTF-8 or a NUL character) stops the command before any store sees it.
func checkArgs(args []string) error {
	for i, a := range args {
		if !storage.ValidText(a) {
			return fmt.Errorf("argument %d is not valid UTF-8 or contains a NUL character", i+1)
		}
	}
	return nil
}

// commandPath is "gatehouse" and the names of the commands down to n.
func commandPath(n *kong.Node) string {
	var names []string
	for ; n != nil && n.Parent != nil; n = n.Parent {
		names = append([]string{n.Name}, names...)
	}
	return strings.Join(append([]string{"gatehouse"}, names...), " ")
}

// examples are the examples of a command's help.
func examples(n *kong.Node) []string {
	if n.Parent == nil { // gatehouse --help
		return []string{"gatehouse serve", "gatehouse clients show billing --json"}
	}
	return n.Tag.GetAll("example")
}

// printHelp is kong's help followed by the command's examples.
func printHelp(opts kong.HelpOptions, ctx *kong.Context) error {
	if err := kong.DefaultHelpPrinter(opts, ctx); err != nil {
		return err
	}
	n := ctx.Selected()
	if n == nil {
		n = ctx.Model.Node
	}
	fmt.Fprintln(ctx.Stdout, "\nExample:")
	for _, ex := range examples(n) {
		fmt.Fprintln(ctx.Stdout, "  "+ex)
	}
	return nil
}

// output is --json, which every command that prints something takes.
type output struct {
	JSON bool `name:"json" help:"Print JSON instead of text, for scripts."`
}

// print writes v as JSON with --json, else calls text through a
// tabwriter.
func (o output) print(w io.Writer, v any, text func(w io.Writer)) error {
	if o.JSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// renameID returns v's JSON object (or array of objects) with "id" named
// idName, so that a client is "client_id" and a user "user_id" in every
// command's output.
func renameID(v any, idName string) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	var out any
	if dec.Decode(&out) != nil {
		return v
	}
	rename := func(x any) {
		if m, ok := x.(map[string]any); ok {
			if id, ok := m["id"]; ok {
				m[idName] = id
				delete(m, "id")
			}
		}
	}
	if l, ok := out.([]any); ok {
		for _, x := range l {
			rename(x)
		}
	} else {
		rename(out)
	}
	return out
}
