package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
)

// connectorsCmd is `gatehouse connectors`. The client secret or bind
// password is read from standard input (--secret-stdin) or a file
// (--secret-file), never from a flag value, and never printed.
type connectorsCmd struct {
	Create    connectorsCreateCmd    `cmd:"" help:"Create a connector: an upstream OpenID Connect provider (--kind oidc) or LDAP directory (--kind ldap)." example:"gatehouse connectors create --id sso --kind oidc --name SSO --issuer https://sso.example.com --client-id gatehouse --secret-file /run/secrets/sso-client-secret --roles-claim groups --role-map sso-admins=admin,sso-devs=developer --provision"`
	List      connectorsListCmd      `cmd:"" help:"List connectors." example:"gatehouse connectors list --json"`
	Show      connectorsShowCmd      `cmd:"" help:"Show one connector (its secret is never shown)." example:"gatehouse connectors show corp"`
	Update    connectorsUpdateCmd    `cmd:"" help:"Change a connector; only the flags given change." example:"gatehouse connectors update corp --disabled"`
	Delete    connectorsDeleteCmd    `cmd:"" help:"Delete a connector and its identity links (the users stay)." example:"gatehouse connectors delete corp"`
	Reencrypt connectorsReencryptCmd `cmd:"" help:"Seal every connector's secret under the first master secret (after putting a new one first)." example:"gatehouse connectors reencrypt --json"`
}

type connectorsReencryptCmd struct {
	storeCmd
}

func (c *connectorsReencryptCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		n, err := svc.ReencryptConnectorSecrets(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, map[string]any{"reencrypted": n}, func(w io.Writer) {
			fmt.Fprintf(w, "re-encrypted the secrets of %d connectors\n", n)
		})
	})
}

// connectorRef is the positional connector argument.
type connectorRef struct {
	ID string `arg:"" name:"id" help:"Connector id."`
}

// secretFlags are --secret-stdin and --secret-file.
type secretFlags struct {
	SecretStdin bool   `name:"secret-stdin" help:"Read the client secret or bind password from standard input (one line)."`
	SecretFile  string `name:"secret-file" help:"Read the client secret or bind password from this file (one line)."`
}

// connectorFlags are the settings create and update share. Pointers tell
// a flag not given from an empty one.
type connectorFlags struct {
	Name         *string           `name:"name" help:"Shown on the login page as 'Sign in with NAME'."`
	Provision    *bool             `name:"provision" negatable:"" help:"Create a user at the first login of an unknown upstream identity (default off)."`
	LinkByEmail  *bool             `name:"link-by-email" negatable:"" help:"Link an unknown upstream identity to the one user with its email, when both sides verified it (default off)."`
	RolesClaim   *string           `name:"roles-claim" help:"OIDC: claim path of the upstream roles (groups, realm_access.roles)."`
	RoleMap      map[string]string `name:"role-map" mapsep:"," placeholder:"UPSTREAM=ROLE" help:"Upstream role or group to Gatehouse role; an allow-list (comma-separated or repeated)."`
	NoRoleMap    bool              `name:"no-role-map" help:"Remove the role map: the connector stops managing roles."`
	EmailDomains *wordList         `name:"email-domains" help:"Admit only verified emails in these domains (comma-separated; empty for any)."`
	Timeout      *time.Duration    `name:"timeout" help:"Bound on each upstream call (up to 60s; 0 is the default, 10s)."`

	Issuer       string   `name:"issuer" group:"oidc" help:"OIDC: the provider's issuer URL (https)."`
	ClientID     string   `name:"client-id" group:"oidc" help:"OIDC: Gatehouse's client id at the provider."`
	Scopes       wordList `name:"scopes" group:"oidc" help:"OIDC: scopes to ask for (openid is always added)."`
	SubjectClaim string   `name:"subject-claim" group:"oidc" help:"OIDC: claim identifying the user (default sub)."`

	URL                string `name:"url" group:"ldap" help:"LDAP: ldaps://host:port, or ldap:// with --start-tls."`
	StartTLS           *bool  `name:"start-tls" negatable:"" group:"ldap" help:"LDAP: upgrade ldap:// with StartTLS (--start-tls=false or --no-start-tls turns it off)."`
	InsecureNoTLS      *bool  `name:"insecure-no-tls" negatable:"" group:"ldap" help:"LDAP: allow plain ldap:// off loopback (passwords in clear; --insecure-no-tls=false turns it off)."`
	BindDN             string `name:"bind-dn" group:"ldap" help:"LDAP: DN to search as."`
	UserBaseDN         string `name:"user-base-dn" group:"ldap" help:"LDAP: where users are searched."`
	UserFilter         string `name:"user-filter" group:"ldap" help:"LDAP: filter with {username}, e.g. (uid={username})."`
	SubjectAttribute   string `name:"subject-attribute" group:"ldap" help:"LDAP: attribute identifying the user."`
	UsernameAttribute  string `name:"username-attribute" group:"ldap" help:"LDAP: attribute of the user's entry that fills {username} in --group-filter (default uid)."`
	EmailAttribute     string `name:"email-attribute" group:"ldap" help:"LDAP: email attribute."`
	NameAttribute      string `name:"name-attribute" group:"ldap" help:"LDAP: full-name attribute."`
	GroupBaseDN        string `name:"group-base-dn" group:"ldap" help:"LDAP: where groups are searched."`
	GroupFilter        string `name:"group-filter" group:"ldap" help:"LDAP: filter with {dn}, e.g. (member={dn})."`
	GroupNameAttribute string `name:"group-name-attribute" group:"ldap" help:"LDAP: group attribute mapped through --role-map."`
	CACertFile         string `name:"ca-cert-file" group:"ldap" type:"path" help:"LDAP: PEM file of the CA certificates that verify the directory (default: the system's)."`
	RequireGroup       *bool  `name:"require-group" negatable:"" group:"ldap" help:"LDAP: admit only users in a group --role-map names, at login and at every refresh."`

	secretFlags
}

func (f *connectorFlags) oidcGiven() bool {
	return f.Issuer != "" || f.ClientID != "" || len(f.Scopes) > 0 || f.SubjectClaim != ""
}

func (f *connectorFlags) ldapGiven() bool {
	return f.URL != "" || f.StartTLS != nil || f.InsecureNoTLS != nil || f.BindDN != "" || f.UserBaseDN != "" || f.UserFilter != "" ||
		f.SubjectAttribute != "" || f.UsernameAttribute != "" || f.EmailAttribute != "" || f.NameAttribute != "" || f.GroupBaseDN != "" ||
		f.GroupFilter != "" || f.GroupNameAttribute != "" || f.CACertFile != "" || f.RequireGroup != nil
}

func (f *connectorFlags) oidc() *storage.OIDCSettings {
	return &storage.OIDCSettings{Issuer: f.Issuer, ClientID: f.ClientID, Scopes: f.Scopes, SubjectClaim: f.SubjectClaim}
}

func (f *connectorFlags) ldap() (*storage.LDAPSettings, error) {
	l := &storage.LDAPSettings{URL: f.URL, StartTLS: deref(f.StartTLS), InsecureNoTLS: deref(f.InsecureNoTLS),
		BindDN: f.BindDN, UserBaseDN: f.UserBaseDN, UserFilter: f.UserFilter, SubjectAttribute: f.SubjectAttribute,
		UsernameAttribute: f.UsernameAttribute,
		EmailAttribute:    f.EmailAttribute, NameAttribute: f.NameAttribute, GroupBaseDN: f.GroupBaseDN,
		GroupFilter: f.GroupFilter, GroupNameAttribute: f.GroupNameAttribute, RequireGroup: deref(f.RequireGroup)}
	if f.CACertFile != "" {
		b, err := os.ReadFile(f.CACertFile)
		if err != nil {
			return nil, fmt.Errorf("--ca-cert-file: %w", err)
		}
		l.CACert = string(b)
	}
	return l, nil
}

func printConnector(w io.Writer, c admin.Connector) {
	fmt.Fprintf(w, "id:\t%s\nkind:\t%s\nname:\t%s\nstatus:\t%s\nsecret:\t%s\nprovision:\t%v\nlink by email:\t%v\n",
		c.ID, c.Kind, c.Name, status(!c.Enabled), map[bool]string{true: "set (sealed)", false: "none"}[c.SecretSet],
		c.Provision, c.LinkByEmail)
	if o := c.OIDC; o != nil {
		fmt.Fprintf(w, "issuer:\t%s\nclient id:\t%s\nscopes:\t%s\nsubject claim:\t%s\n", o.Issuer, o.ClientID, joinOr(o.Scopes), o.SubjectClaim)
	}
	if l := c.LDAP; l != nil {
		fmt.Fprintf(w, "url:\t%s\nstart tls:\t%v\nbind dn:\t%s\nuser base dn:\t%s\nuser filter:\t%s\ngroup base dn:\t%s\ngroup filter:\t%s\nca cert:\t%v\nrequire group:\t%v\n",
			l.URL, l.StartTLS, l.BindDN, l.UserBaseDN, l.UserFilter, l.GroupBaseDN, l.GroupFilter, l.CACert != "", l.RequireGroup)
	}
	var pairs []string
	for k, v := range c.RoleMap {
		pairs = append(pairs, k+"="+v)
	}
	timeout := fmt.Sprintf("%ds", c.TimeoutSeconds)
	if c.TimeoutSeconds == 0 {
		timeout = fmt.Sprintf("default (%v)", admin.DefaultConnectorTimeout)
	}
	fmt.Fprintf(w, "roles claim:\t%s\nrole map:\t%s\nemail domains:\t%s\ntimeout:\t%s\n",
		orDash(c.RolesClaim), joinOr(slices.Sorted(slices.Values(pairs))), joinOr(c.EmailDomains), timeout)
}

type connectorsCreateCmd struct {
	storeCmd
	ID       string `name:"id" required:"" help:"Connector id: lower-case letters, digits and -; it never changes."`
	Kind     string `name:"kind" required:"" enum:"oidc,ldap" help:"oidc or ldap."`
	Disabled bool   `name:"disabled" help:"Create it switched off."`
	connectorFlags
}

func (c *connectorsCreateCmd) Run(ctx context.Context, e *cliEnv) error {
	secret, err := readSecretInput(e.stdin, c.SecretStdin, c.SecretFile, "secret")
	if err != nil {
		return err
	}
	p := admin.ConnectorParams{ID: c.ID, Kind: c.Kind, Disabled: c.Disabled, Name: deref(c.Name), Secret: secret,
		Provision: deref(c.Provision), LinkByEmail: deref(c.LinkByEmail), RolesClaim: deref(c.RolesClaim),
		RoleMap: c.RoleMap}
	if c.EmailDomains != nil {
		p.EmailDomains = *c.EmailDomains
	}
	if c.Timeout != nil {
		p.TimeoutSeconds = int64(c.Timeout.Seconds())
	}
	switch c.Kind {
	case storage.ConnectorOIDC:
		if c.ldapGiven() {
			return fmt.Errorf("--kind oidc: the LDAP flags do not apply")
		}
		p.OIDC = c.oidc()
	case storage.ConnectorLDAP:
		if c.oidcGiven() {
			return fmt.Errorf("--kind ldap: the OIDC flags do not apply")
		}
		if p.LDAP, err = c.ldap(); err != nil {
			return err
		}
	}
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		out, err := svc.CreateConnector(ctx, p)
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, out, func(w io.Writer) { printConnector(w, out) })
	})
}

type connectorsListCmd struct {
	storeCmd
}

func (c *connectorsListCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cs, err := svc.ListConnectors(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, cs, func(w io.Writer) {
			fmt.Fprintln(w, "ID\tKIND\tNAME\tSTATUS\tPROVISION\tLINK-BY-EMAIL")
			for _, x := range cs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%v\t%v\n", x.ID, x.Kind, x.Name, status(!x.Enabled), x.Provision, x.LinkByEmail)
			}
		})
	})
}

type connectorsShowCmd struct {
	storeCmd
	connectorRef
}

func (c *connectorsShowCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		out, err := svc.GetConnector(ctx, c.ID)
		if err != nil {
			return err
		}
		return c.print(e.stdout, out, func(w io.Writer) { printConnector(w, out) })
	})
}

type connectorsUpdateCmd struct {
	storeCmd
	connectorRef
	Disabled    *bool `name:"disabled" negatable:"" help:"Switch the connector off (--no-disabled: on)."`
	ClearSecret bool  `name:"clear-secret" help:"Remove the stored secret."`
	connectorFlags
}

func (c *connectorsUpdateCmd) Run(ctx context.Context, e *cliEnv) error {
	secret, err := readSecretInput(e.stdin, c.SecretStdin, c.SecretFile, "secret")
	if err != nil {
		return err
	}
	p := admin.ConnectorPatch{Name: c.Name, Provision: c.Provision, LinkByEmail: c.LinkByEmail, RolesClaim: c.RolesClaim}
	if c.Disabled != nil {
		enabled := !*c.Disabled
		p.Enabled = &enabled
	}
	switch {
	case c.ClearSecret && secret != "":
		return fmt.Errorf("--clear-secret and --secret-*: choose one")
	case c.ClearSecret:
		p.Secret = new(string)
	case secret != "":
		p.Secret = &secret
	}
	switch {
	case c.NoRoleMap && len(c.RoleMap) > 0:
		return fmt.Errorf("--no-role-map and --role-map: choose one")
	case c.NoRoleMap:
		p.RoleMap = &map[string]string{}
	case len(c.RoleMap) > 0:
		p.RoleMap = &c.RoleMap
	}
	if c.EmailDomains != nil {
		d := []string(*c.EmailDomains)
		p.EmailDomains = &d
	}
	if c.Timeout != nil {
		s := int64(c.Timeout.Seconds())
		p.TimeoutSeconds = &s
	}
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cur, err := svc.GetConnector(ctx, c.ID)
		if err != nil {
			return err
		}
		// Kind settings given on the command line replace the stored
		// ones field by field: start from the stored settings.
		if c.oidcGiven() {
			if cur.OIDC == nil {
				return fmt.Errorf("connector %s is %s: the OIDC flags do not apply", c.ID, cur.Kind)
			}
			o := *cur.OIDC
			o.Issuer, o.ClientID, o.SubjectClaim = cmpStr(c.Issuer, o.Issuer), cmpStr(c.ClientID, o.ClientID), cmpStr(c.SubjectClaim, o.SubjectClaim)
			if len(c.Scopes) > 0 {
				o.Scopes = c.Scopes
			}
			p.OIDC = &o
		}
		if c.ldapGiven() {
			if cur.LDAP == nil {
				return fmt.Errorf("connector %s is %s: the LDAP flags do not apply", c.ID, cur.Kind)
			}
			n, err := c.ldap()
			if err != nil {
				return err
			}
			l := *cur.LDAP
			for _, f := range []struct {
				dst *string
				v   string
			}{
				{&l.URL, n.URL}, {&l.BindDN, n.BindDN}, {&l.UserBaseDN, n.UserBaseDN}, {&l.UserFilter, n.UserFilter},
				{&l.SubjectAttribute, n.SubjectAttribute}, {&l.UsernameAttribute, n.UsernameAttribute}, {&l.EmailAttribute, n.EmailAttribute}, {&l.NameAttribute, n.NameAttribute},
				{&l.GroupBaseDN, n.GroupBaseDN}, {&l.GroupFilter, n.GroupFilter}, {&l.GroupNameAttribute, n.GroupNameAttribute},
			} {
				*f.dst = cmpStr(f.v, *f.dst)
			}
			// Given flags set their value, false included: an update can
			// turn StartTLS or the insecure flag off.
			if c.StartTLS != nil {
				l.StartTLS = *c.StartTLS
			}
			if c.InsecureNoTLS != nil {
				l.InsecureNoTLS = *c.InsecureNoTLS
			}
			l.CACert = cmpStr(n.CACert, l.CACert)
			if c.RequireGroup != nil {
				l.RequireGroup = *c.RequireGroup
			}
			p.LDAP = &l
		}
		out, err := svc.UpdateConnector(ctx, c.ID, p)
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, out, func(w io.Writer) { printConnector(w, out) })
	})
}

func cmpStr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

type connectorsDeleteCmd struct {
	storeCmd
	connectorRef
}

func (c *connectorsDeleteCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		if err := svc.DeleteConnector(ctx, c.ID); err != nil {
			return err
		}
		return c.print(e.stdout, map[string]any{"id": c.ID, "deleted": true}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted connector %s\n", strings.TrimSpace(c.ID))
		})
	})
}
