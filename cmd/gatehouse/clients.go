package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// clientsCmd is `gatehouse clients`. A client is named by its name or its
// id, as a user by its username or id; a name that starts with "-" follows
// "--".
type clientsCmd struct {
	Create       clientsCreateCmd `cmd:"" help:"Register a client; prints its client_id and generated secret once." example:"gatehouse clients create --name reports --grant-types client_credentials --scopes read --audiences billing-api --roles service --claim tenant=acme --token-lifetime 5m" example:"gatehouse clients create --name batch-job --grant-types client_credentials --scopes read --auth-method private_key_jwt --jwks-uri https://batch.example.com/jwks.json" example:"gatehouse clients create --name my-spa --public --grant-types authorization_code,refresh_token --scopes openid,profile,offline_access --redirect-uris https://app.example.com/callback,http://127.0.0.1/callback --post-logout-redirect-uris https://app.example.com/ --web-origins https://app.example.com" example:"gatehouse clients create --id orders-api --name orders --grant-types urn:ietf:params:oauth:grant-type:token-exchange --scopes read --audiences inventory-api"`
	List         clientsListCmd   `cmd:"" help:"List clients." example:"gatehouse clients list --json"`
	Show         clientsShowCmd   `cmd:"" help:"Show one client." example:"gatehouse clients show billing"`
	Update       clientsUpdateCmd `cmd:"" help:"Change a client's fields; only the flags given change." example:"gatehouse clients update billing --roles service,reporting --disabled=false --token-lifetime 15m" example:"gatehouse clients update billing --auth-method private_key_jwt --jwks-file /etc/gatehouse/billing-jwks.json --auth-signing-algs ES256"`
	Delete       clientsDeleteCmd `cmd:"" help:"Delete a client and revoke its refresh tokens." example:"gatehouse clients delete billing --json" example:"gatehouse clients delete -- -legacy"`
	RotateSecret clientsRotateCmd `cmd:"" help:"Give a client a new secret; prints it once." example:"gatehouse clients rotate-secret billing --grace 1h"`
}

// clientRef is the positional client argument.
type clientRef struct {
	Client string `arg:"" help:"Client name or id (after -- when it starts with -)."`
}

// find returns the client whose id, or else whose name, is the reference.
func (r clientRef) find(ctx context.Context, svc *admin.Service) (admin.Client, error) {
	cl, err := svc.GetClient(ctx, r.Client)
	var nf *admin.NotFoundError
	if !errors.As(err, &nf) {
		return cl, err
	}
	cs, lerr := svc.ListClients(ctx)
	if lerr != nil {
		return admin.Client{}, lerr
	}
	for _, c := range cs {
		if c.Name == r.Client {
			return c, nil
		}
	}
	return admin.Client{}, err
}

// withClient runs fn with the service and the client ref names.
func (c *storeCmd) withClient(ctx context.Context, e *cliEnv, ref clientRef, fn func(context.Context, *admin.Service, admin.Client) error) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cl, err := ref.find(ctx, svc)
		if err != nil {
			return err
		}
		return fn(ctx, svc, cl)
	})
}

type clientsCreateCmd struct {
	storeCmd
	ID string `name:"id" help:"Client id; generated when empty."`
	clientFields
}

func (c *clientsCreateCmd) Run(ctx context.Context, e *cliEnv) error {
	p, err := c.patch(e.stdin)
	if err != nil {
		return err
	}
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cl, err := svc.CreateClient(ctx, admin.ClientParams{
			ID: c.ID, Name: deref(p.Name), GrantTypes: deref(p.GrantTypes), Scopes: deref(p.Scopes),
			Audiences: deref(p.Audiences), Roles: deref(p.Roles), Claims: deref(p.Claims),
			TokenLifetimeSeconds: deref(p.TokenLifetimeSeconds), RedirectURIs: deref(p.RedirectURIs),
			PostLogoutRedirectURIs: deref(p.PostLogoutRedirectURIs), WebOrigins: deref(p.WebOrigins),
			Public: deref(p.Public), ThirdParty: deref(p.ThirdParty),
			TokenEndpointAuthMethod: deref(p.TokenEndpointAuthMethod), JWKS: deref(p.JWKS), JWKSURI: deref(p.JWKSURI),
			TokenEndpointAuthSigningAlgs: deref(p.TokenEndpointAuthSigningAlgs),
		})
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, renameID(cl, "client_id"), func(w io.Writer) {
			if cl.Public {
				fmt.Fprintf(w, "# A public client: it has no secret.\nclient_id=%s\n", cl.ID)
				return
			}
			if cl.TokenEndpointAuthMethod == "private_key_jwt" {
				fmt.Fprintf(w, "# A private_key_jwt client: it has no secret; it signs assertions with its keys.\nclient_id=%s\n", cl.ID)
				return
			}
			fmt.Fprintf(w, "# The secret is shown once: only its digest is stored.\nclient_id=%s\nclient_secret=%s\n", cl.ID, cl.ClientSecret)
		})
	})
}

type clientsListCmd struct {
	storeCmd
}

func (c *clientsListCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		cs, err := svc.ListClients(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, renameID(cs, "client_id"), func(w io.Writer) {
			fmt.Fprintln(w, "ID\tNAME\tGRANT TYPES\tSCOPES\tAUDIENCES\tROLES\tSTATUS")
			for _, cl := range cs {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", cl.ID, cl.Name, joinOr(cl.GrantTypes), joinOr(cl.Scopes),
					joinOr(cl.Audiences), joinOr(cl.Roles), status(cl.Disabled))
			}
		})
	})
}

type clientsShowCmd struct {
	storeCmd
	clientRef
}

func (c *clientsShowCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withClient(ctx, e, c.clientRef, func(_ context.Context, _ *admin.Service, cl admin.Client) error {
		return c.print(e.stdout, renameID(cl, "client_id"), func(w io.Writer) { printClient(w, cl) })
	})
}

type clientsUpdateCmd struct {
	storeCmd
	clientRef
	clientFields
	ClearClaims bool  `name:"clear-claims" help:"Remove every custom claim."`
	Disabled    *bool `name:"disabled" help:"Disable (true) or enable (false) the client; disabling revokes its refresh tokens."`
}

func (c *clientsUpdateCmd) Run(ctx context.Context, e *cliEnv) error {
	p, err := c.patch(e.stdin)
	if err != nil {
		return err
	}
	if c.ClearClaims {
		if p.Claims != nil {
			return errors.New("--clear-claims and --claim: choose one")
		}
		p.Claims = &map[string]any{}
	}
	p.Disabled = c.Disabled
	return c.withClient(ctx, e, c.clientRef, func(ctx context.Context, svc *admin.Service, cl admin.Client) error {
		if cl, err = svc.UpdateClient(ctx, cl.ID, p); err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, renameID(cl, "client_id"), func(w io.Writer) { printClient(w, cl) })
	})
}

type clientsDeleteCmd struct {
	storeCmd
	clientRef
}

func (c *clientsDeleteCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withClient(ctx, e, c.clientRef, func(ctx context.Context, svc *admin.Service, cl admin.Client) error {
		if err := svc.DeleteClient(ctx, cl.ID); err != nil {
			return err
		}
		return c.print(e.stdout, map[string]any{"client_id": cl.ID, "name": cl.Name, "deleted": true}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted client %s (%s); its tokens are revoked\n", cl.Name, cl.ID)
		})
	})
}

type clientsRotateCmd struct {
	storeCmd
	clientRef
	Grace time.Duration `name:"grace" default:"0s" help:"Keep the old secret valid this long (up to 720h); 0 stops it at once."`
}

func (c *clientsRotateCmd) Run(ctx context.Context, e *cliEnv) error {
	secs, err := lifetimeSeconds("grace", c.Grace)
	if err != nil {
		return err
	}
	return c.withClient(ctx, e, c.clientRef, func(ctx context.Context, svc *admin.Service, cl admin.Client) error {
		s, err := svc.RotateClientSecret(ctx, cl.ID, admin.RotateParams{GraceSeconds: secs})
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, s, func(w io.Writer) {
			fmt.Fprintf(w, "# The secret is shown once: only its digest is stored.\nclient_id=%s\nclient_secret=%s\n", s.ClientID, s.ClientSecret)
			if s.PreviousSecretExpiresAt != nil {
				fmt.Fprintf(w, "previous_secret_expires_at=%s\n", s.PreviousSecretExpiresAt.Format(time.RFC3339))
			} else {
				fmt.Fprintln(w, "# The previous secret no longer works.")
			}
		})
	})
}
