package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/oauth"
)

// The clients and users commands administer the configured PostgreSQL
// store through admin.Service, the same rules the admin HTTP API applies.
// Flags may come before or after the positional arguments.

const clientsUsage = `Usage: gatehouse clients COMMAND [flags]

Commands:
  create          register a client; prints its id and generated secret once
  list            list clients
  show ID         show one client
  update ID       change a client's fields
  delete ID       delete a client and revoke its refresh tokens
  rotate-secret ID  give a client a new secret; prints it once

Run 'gatehouse clients COMMAND --help' for a command's flags and an example.
`

// adminCmd is what every clients and users command shares: its flag set,
// the common flags, and the service once opened.
type adminCmd struct {
	fs          *flag.FlagSet
	databaseURL func() string
	asJSON      *bool
	getenv      func(string) string
	stdout      io.Writer
	stderr      io.Writer
}

func newAdminCmd(name string, getenv func(string) string, stdout, stderr io.Writer, synopsis, example string) *adminCmd {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := &adminCmd{fs: fs, getenv: getenv, stdout: stdout, stderr: stderr}
	c.databaseURL = databaseURLFlag(fs, getenv)
	c.asJSON = fs.Bool("json", false, "print JSON instead of a table, for scripts")
	fs.Usage = usage(fs, stderr, synopsis, example)
	return c
}

// parse parses flags wherever they are among args and checks the number of
// positional arguments (max < 0: no limit).
func (c *adminCmd) parse(args []string, min, max int) ([]string, error) {
	var pos []string
	for {
		if err := c.fs.Parse(args); err != nil {
			return nil, err
		}
		rest := c.fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		if len(rest) == 0 {
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	switch {
	case len(pos) < min:
		c.fs.Usage()
		return nil, fmt.Errorf("%s: missing argument", c.fs.Name())
	case max >= 0 && len(pos) > max:
		return nil, fmt.Errorf("%s: unexpected arguments %q", c.fs.Name(), pos[max:])
	}
	return pos, nil
}

// open opens the store named by --database-url and builds the service with
// the server's configuration from the environment (known scopes, argon2id
// parameters, log format). Audit events go to stderr.
func (c *adminCmd) open(ctx context.Context) (context.Context, *admin.Service, func(), error) {
	cfg, err := envConfig(c.getenv)
	if err != nil {
		return nil, nil, nil, err
	}
	if c.databaseURL() == "" {
		return nil, nil, nil, errNoDatabase
	}
	logger := newLogger(cfg, c.stderr)
	store, err := openStore(ctx, c.databaseURL(), logger)
	if err != nil {
		return nil, nil, nil, err
	}
	hasher, err := oauth.NewPasswordHasher(cfg.passwordParams())
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	svc, err := admin.NewService(admin.Config{
		Store: store, Hasher: hasher, Logger: logger, Now: cfg.Now, Scopes: cfg.Scopes, AdminRole: cfg.AdminRole,
	})
	if err != nil {
		store.Close()
		return nil, nil, nil, err
	}
	actor := "cli"
	if u := c.getenv("USER"); u != "" {
		actor += ":" + u
	}
	return admin.WithActor(ctx, actor), svc, func() { store.Close() }, nil
}

// print writes v as JSON with --json, else calls text.
func (c *adminCmd) print(v any, text func(w io.Writer)) error {
	if *c.asJSON {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	text(tw)
	return tw.Flush()
}

// cliError names the flag behind a refused field.
func cliError(err error) error {
	var fe *admin.FieldError
	if !errors.As(err, &fe) {
		return err
	}
	return fmt.Errorf("%s: %s", flagFor(fe.Field), fe.Reason)
}

func flagFor(field string) string {
	switch {
	case field == "token_lifetime_seconds":
		return "--token-lifetime"
	case field == "grace_seconds":
		return "--grace"
	case field == "claims" || strings.HasPrefix(field, "claims."):
		return "--claim " + strings.TrimPrefix(strings.TrimPrefix(field, "claims"), ".")
	case field == "password":
		return "password"
	}
	return "--" + strings.ReplaceAll(field, "_", "-")
}

// listFlag splits a comma- or space-separated list; "" is the empty list.
func listFlag(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' })
}

// claimsFlag collects repeated --claim key=value (a string value) or
// --claim-json key=JSON flags.
type claimsFlag struct {
	m    map[string]any
	json bool
}

func (f *claimsFlag) String() string { return "" }

func (f *claimsFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	if f.m == nil {
		f.m = map[string]any{}
	}
	if !f.json {
		f.m[k] = v
		return nil
	}
	var val any
	if err := json.Unmarshal([]byte(v), &val); err != nil {
		return fmt.Errorf("value of %q is not JSON: %v", k, err)
	}
	f.m[k] = val
	return nil
}

// lifetimeSeconds turns a duration flag into whole seconds.
func lifetimeSeconds(name string, d time.Duration) (int64, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("--%s %v: must be whole seconds", name, d)
	}
	return int64(d / time.Second), nil
}

func runClients(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, clientsUsage)
		return errors.New("clients: no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "create":
		return clientsCreate(ctx, args, getenv, stdout, stderr)
	case "list":
		return clientsList(ctx, args, getenv, stdout, stderr)
	case "show":
		return clientsShow(ctx, args, getenv, stdout, stderr)
	case "update":
		return clientsUpdate(ctx, args, getenv, stdout, stderr)
	case "delete":
		return clientsDelete(ctx, args, getenv, stdout, stderr)
	case "rotate-secret":
		return clientsRotate(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, clientsUsage)
		return nil
	default:
		fmt.Fprint(stderr, clientsUsage)
		return fmt.Errorf("clients: unknown command %q", cmd)
	}
}

// clientFieldFlags registers the flags of a client's fields.
type clientFieldFlags struct {
	name, grantTypes, scopes, audiences, roles *string
	claims, claimsJSON                         *claimsFlag
	lifetime                                   *time.Duration
}

func registerClientFields(fs *flag.FlagSet) clientFieldFlags {
	f := clientFieldFlags{
		name:       fs.String("name", "", "client name, unique"),
		grantTypes: fs.String("grant-types", "", "comma-separated grants: "+strings.Join(oauth.GrantTypes(), ", ")),
		scopes:     fs.String("scopes", "", "comma-separated scopes, each known to the server (GATEHOUSE_SCOPES)"),
		audiences:  fs.String("audiences", "", "comma-separated audiences; none means tokens carry the issuer"),
		roles:      fs.String("roles", "", "comma-separated roles put in the client's tokens"),
		claims:     &claimsFlag{},
		claimsJSON: &claimsFlag{json: true},
		lifetime:   fs.Duration("token-lifetime", 0, "access-token lifetime, 1s to 24h; 0 means the server default"),
	}
	fs.Var(f.claims, "claim", "custom claim `key=value` with a string value (repeatable)")
	fs.Var(f.claimsJSON, "claim-json", "custom claim `key=JSON` with a JSON value (repeatable)")
	return f
}

func (f clientFieldFlags) allClaims() map[string]any {
	m := maps.Clone(f.claims.m)
	if m == nil && f.claimsJSON.m != nil {
		m = map[string]any{}
	}
	maps.Copy(m, f.claimsJSON.m)
	return m
}

func clientsCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients create", getenv, stdout, stderr, "gatehouse clients create --name NAME --grant-types G[,G] [flags]",
		"gatehouse clients create --name billing --grant-types client_credentials --scopes read --audiences billing-api --roles service --claim tenant=acme --token-lifetime 5m")
	id := c.fs.String("id", "", "client id; generated when empty")
	f := registerClientFields(c.fs)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	lifetime, err := lifetimeSeconds("token-lifetime", *f.lifetime)
	if err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	cl, err := svc.CreateClient(ctx, admin.ClientParams{
		ID: *id, Name: *f.name, GrantTypes: listFlag(*f.grantTypes), Scopes: listFlag(*f.scopes),
		Audiences: listFlag(*f.audiences), Roles: listFlag(*f.roles), Claims: f.allClaims(),
		TokenLifetimeSeconds: lifetime,
	})
	if err != nil {
		return cliError(err)
	}
	return c.print(cl, func(w io.Writer) {
		fmt.Fprintf(w, "# The secret is shown once: only its digest is stored.\nclient_id=%s\nclient_secret=%s\n", cl.ID, cl.ClientSecret)
	})
}

func clientsList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients list", getenv, stdout, stderr, "gatehouse clients list [--json]", "gatehouse clients list --json")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	cs, err := svc.ListClients(ctx)
	if err != nil {
		return err
	}
	return c.print(cs, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tNAME\tGRANT TYPES\tSCOPES\tAUDIENCES\tROLES\tSTATUS")
		for _, cl := range cs {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, joinOr(cl.GrantTypes), joinOr(cl.Scopes),
				joinOr(cl.Audiences), joinOr(cl.Roles), status(cl.Disabled))
		}
	})
}

func joinOr(l []string) string {
	if len(l) == 0 {
		return "-"
	}
	return strings.Join(l, ",")
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func printClient(w io.Writer, cl admin.Client) {
	fmt.Fprintf(w, "id:\t%s\nname:\t%s\nstatus:\t%s\ngrant types:\t%s\nscopes:\t%s\naudiences:\t%s\nroles:\t%s\n",
		cl.ID, cl.Name, status(cl.Disabled), joinOr(cl.GrantTypes), joinOr(cl.Scopes), joinOr(cl.Audiences), joinOr(cl.Roles))
	for _, k := range slices.Sorted(maps.Keys(cl.Claims)) {
		b, _ := json.Marshal(cl.Claims[k])
		fmt.Fprintf(w, "claim %s:\t%s\n", k, b)
	}
	lifetime := "server default"
	if cl.TokenLifetimeSeconds > 0 {
		lifetime = (time.Duration(cl.TokenLifetimeSeconds) * time.Second).String()
	}
	fmt.Fprintf(w, "token lifetime:\t%s\n", lifetime)
	if cl.PreviousSecretExpiresAt != nil {
		fmt.Fprintf(w, "previous secret valid until:\t%s\n", cl.PreviousSecretExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "created:\t%s\nupdated:\t%s\n", cl.CreatedAt.Format(time.RFC3339), cl.UpdatedAt.Format(time.RFC3339))
}

func clientsShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients show", getenv, stdout, stderr, "gatehouse clients show ID [--json]", "gatehouse clients show billing")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	cl, err := svc.GetClient(ctx, pos[0])
	if err != nil {
		return err
	}
	return c.print(cl, func(w io.Writer) { printClient(w, cl) })
}

func clientsUpdate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients update", getenv, stdout, stderr, "gatehouse clients update ID [flags]",
		"gatehouse clients update billing --roles service,reporting --disabled=false --token-lifetime 15m")
	f := registerClientFields(c.fs)
	clearClaims := c.fs.Bool("clear-claims", false, "remove every custom claim")
	disabled := c.fs.Bool("disabled", false, "disable (true) or enable (false) the client; disabling revokes its refresh tokens")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	var p admin.ClientPatch
	var perr error
	c.fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			p.Name = f.name
		case "grant-types":
			l := listFlag(*f.grantTypes)
			p.GrantTypes = &l
		case "scopes":
			l := listFlag(*f.scopes)
			p.Scopes = &l
		case "audiences":
			l := listFlag(*f.audiences)
			p.Audiences = &l
		case "roles":
			l := listFlag(*f.roles)
			p.Roles = &l
		case "claim", "claim-json":
			m := f.allClaims()
			p.Claims = &m
		case "clear-claims":
			if *clearClaims {
				m := map[string]any{}
				p.Claims = &m
			}
		case "token-lifetime":
			s, err := lifetimeSeconds("token-lifetime", *f.lifetime)
			perr = errors.Join(perr, err)
			p.TokenLifetimeSeconds = &s
		case "disabled":
			p.Disabled = disabled
		}
	})
	if perr != nil {
		return perr
	}
	if *clearClaims && (f.claims.m != nil || f.claimsJSON.m != nil) {
		return errors.New("--clear-claims and --claim: choose one")
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	cl, err := svc.UpdateClient(ctx, pos[0], p)
	if err != nil {
		return cliError(err)
	}
	return c.print(cl, func(w io.Writer) { printClient(w, cl) })
}

func clientsDelete(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients delete", getenv, stdout, stderr, "gatehouse clients delete ID", "gatehouse clients delete billing")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	if err := svc.DeleteClient(ctx, pos[0]); err != nil {
		return err
	}
	return c.print(map[string]any{"id": pos[0], "deleted": true}, func(w io.Writer) {
		fmt.Fprintf(w, "deleted client %s; its tokens are revoked\n", pos[0])
	})
}

func clientsRotate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("clients rotate-secret", getenv, stdout, stderr, "gatehouse clients rotate-secret ID [--grace D]",
		"gatehouse clients rotate-secret billing --grace 1h")
	grace := c.fs.Duration("grace", 0, "keep the old secret valid this long (up to 720h); 0 stops it at once")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	secs, err := lifetimeSeconds("grace", *grace)
	if err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	s, err := svc.RotateClientSecret(ctx, pos[0], admin.RotateParams{GraceSeconds: secs})
	if err != nil {
		return cliError(err)
	}
	return c.print(s, func(w io.Writer) {
		fmt.Fprintf(w, "# The secret is shown once: only its digest is stored.\nclient_id=%s\nclient_secret=%s\n", s.ClientID, s.ClientSecret)
		if s.PreviousSecretExpiresAt != nil {
			fmt.Fprintf(w, "previous_secret_expires_at=%s\n", s.PreviousSecretExpiresAt.Format(time.RFC3339))
		} else {
			fmt.Fprintln(w, "# The previous secret no longer works.")
		}
	})
}
