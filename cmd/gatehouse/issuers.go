package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// issuersCmd is `gatehouse issuers`: the external issuers whose tokens
// Gatehouse accepts (design D14). An issuer is named by its id or its
// issuer URL.
type issuersCmd struct {
	Create issuersCreateCmd `cmd:"" help:"Trust an external issuer: its tokens can be exchanged for Gatehouse tokens (JWT bearer grant, token exchange)." example:"gatehouse issuers create --id keycloak-prod --issuer https://kc.example.com/realms/acme --roles-claim realm_access.roles --role-map api-admin=admin --role-map ops=admin" example:"gatehouse issuers create --issuer https://token.actions.githubusercontent.com --audiences https://gatehouse.example.com/oauth2/token --subject-claim repository_id --subject-type client --max-token-age 10m --json"`
	List   issuersListCmd   `cmd:"" help:"List trusted issuers." example:"gatehouse issuers list --json"`
	Show   issuersShowCmd   `cmd:"" help:"Show one trusted issuer, by id or issuer URL." example:"gatehouse issuers show keycloak" example:"gatehouse issuers show https://kc.example/realms/acme --json"`
	Update issuersUpdateCmd `cmd:"" help:"Change a trusted issuer; only the flags given change." example:"gatehouse issuers update keycloak --role-map api-admin=admin --algorithms RS256 --disabled=false"`
	Delete issuersDeleteCmd `cmd:"" help:"Stop trusting an issuer; its tokens are refused from now on." example:"gatehouse issuers delete keycloak --json"`
}

// issuerRef is the positional issuer argument.
type issuerRef struct {
	Issuer string `arg:"" help:"Trusted issuer id or issuer URL."`
}

// issuerFields are the flags of an issuer's fields; pointers tell a flag
// not given from an empty one, for update.
type issuerFields struct {
	IssuerURL    *string           `name:"issuer" help:"The exact iss of its tokens: https (http only on a loopback host), no query or fragment."`
	JWKSURI      *string           `name:"jwks-uri" help:"Where its keys are; default: the jwks_uri of its discovery document (on the issuer's host)."`
	Audiences    *wordList         `name:"audiences" help:"Comma-separated accepted aud values; default: Gatehouse's issuer and token endpoint."`
	Algorithms   *wordList         `name:"algorithms" help:"Comma-separated JWS algorithms, asymmetric only; default ES256,ES384,RS256,PS256,EdDSA."`
	SubjectClaim *string           `name:"subject-claim" help:"The claim that names the subject; default sub."`
	SubjectType  *string           `name:"subject-type" help:"user: the subject is a Gatehouse username (default); client: a Gatehouse client id."`
	RolesClaim   *string           `name:"roles-claim" help:"Claim path of its roles: realm_access.roles, groups, or a quoted URL claim '\"https://example.com/roles\"'."`
	RoleMap      map[string]string `name:"role-map" mapsep:"none" placeholder:"UPSTREAM=ROLE" help:"Map an upstream role to a Gatehouse role (repeatable); unmapped roles are dropped."`
	MaxTokenAge  *time.Duration    `name:"max-token-age" help:"Refuse tokens issued longer ago than this (1s to 24h); 0 means the server default (1h)."`
	Provision    *bool             `name:"provision" help:"A token whose subject names no user creates one (no password, no roles of its own); subject type user only. Default false."`
}

func (f issuerFields) patch() (admin.TrustedIssuerPatch, error) {
	p := admin.TrustedIssuerPatch{Issuer: f.IssuerURL, JWKSURI: f.JWKSURI, Audiences: (*[]string)(f.Audiences),
		Algorithms: (*[]string)(f.Algorithms), SubjectClaim: f.SubjectClaim, SubjectType: f.SubjectType, RolesClaim: f.RolesClaim,
		Provision: f.Provision}
	if f.RoleMap != nil {
		m := maps.Clone(f.RoleMap)
		p.RoleMap = &m
	}
	if f.MaxTokenAge != nil {
		s, err := lifetimeSeconds("max-token-age", *f.MaxTokenAge)
		if err != nil {
			return p, err
		}
		p.MaxTokenAgeSeconds = &s
	}
	return p, nil
}

// withIssuer runs fn with the service and the issuer ref names.
func (c *storeCmd) withIssuer(ctx context.Context, e *cliEnv, ref issuerRef, fn func(context.Context, *admin.Service, admin.TrustedIssuer) error) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		ti, err := svc.FindTrustedIssuer(ctx, ref.Issuer)
		if err != nil {
			return err
		}
		return fn(ctx, svc, ti)
	})
}

type issuersCreateCmd struct {
	storeCmd
	ID string `name:"id" help:"Trusted issuer id; generated when empty."`
	issuerFields
	Disabled bool `name:"disabled" help:"Register it disabled."`
}

func (c *issuersCreateCmd) Run(ctx context.Context, e *cliEnv) error {
	p, err := c.patch()
	if err != nil {
		return err
	}
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		ti, err := svc.CreateTrustedIssuer(ctx, admin.TrustedIssuerParams{
			ID: c.ID, Issuer: deref(p.Issuer), JWKSURI: deref(p.JWKSURI), Audiences: deref(p.Audiences),
			Algorithms: deref(p.Algorithms), SubjectClaim: deref(p.SubjectClaim), SubjectType: deref(p.SubjectType),
			RolesClaim: deref(p.RolesClaim), RoleMap: deref(p.RoleMap), MaxTokenAgeSeconds: deref(p.MaxTokenAgeSeconds),
			Provision: deref(p.Provision), Disabled: c.Disabled,
		})
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, renameID(ti, "issuer_id"), func(w io.Writer) { printIssuer(w, ti) })
	})
}

type issuersListCmd struct {
	storeCmd
}

func (c *issuersListCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		l, err := svc.ListTrustedIssuers(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, renameID(l, "issuer_id"), func(w io.Writer) {
			fmt.Fprintln(w, "ID\tISSUER\tSUBJECT\tROLES CLAIM\tSTATUS")
			for _, ti := range l {
				fmt.Fprintf(w, "%s\t%s\t%s:%s\t%s\t%s\n", ti.ID, ti.Issuer, ti.SubjectType, ti.SubjectClaim,
					orDash(ti.RolesClaim), status(ti.Disabled))
			}
		})
	})
}

type issuersShowCmd struct {
	storeCmd
	issuerRef
}

func (c *issuersShowCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withIssuer(ctx, e, c.issuerRef, func(_ context.Context, _ *admin.Service, ti admin.TrustedIssuer) error {
		return c.print(e.stdout, renameID(ti, "issuer_id"), func(w io.Writer) { printIssuer(w, ti) })
	})
}

type issuersUpdateCmd struct {
	storeCmd
	issuerRef
	issuerFields
	ClearRoleMap bool  `name:"clear-role-map" help:"Remove every role mapping: no roles are taken from its tokens."`
	Disabled     *bool `name:"disabled" help:"Disable (true) or enable (false) the issuer."`
}

func (c *issuersUpdateCmd) Run(ctx context.Context, e *cliEnv) error {
	p, err := c.patch()
	if err != nil {
		return err
	}
	if c.ClearRoleMap {
		if p.RoleMap != nil {
			return fmt.Errorf("--clear-role-map and --role-map: choose one")
		}
		p.RoleMap = &map[string]string{}
	}
	p.Disabled = c.Disabled
	return c.withIssuer(ctx, e, c.issuerRef, func(ctx context.Context, svc *admin.Service, ti admin.TrustedIssuer) error {
		if ti, err = svc.UpdateTrustedIssuer(ctx, ti.ID, p); err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, renameID(ti, "issuer_id"), func(w io.Writer) { printIssuer(w, ti) })
	})
}

type issuersDeleteCmd struct {
	storeCmd
	issuerRef
}

func (c *issuersDeleteCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withIssuer(ctx, e, c.issuerRef, func(ctx context.Context, svc *admin.Service, ti admin.TrustedIssuer) error {
		if err := svc.DeleteTrustedIssuer(ctx, ti.ID); err != nil {
			return err
		}
		return c.print(e.stdout, map[string]any{"issuer_id": ti.ID, "issuer": ti.Issuer, "deleted": true}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted trusted issuer %s (%s); its tokens are refused from now on\n", ti.ID, ti.Issuer)
		})
	})
}

func printIssuer(w io.Writer, ti admin.TrustedIssuer) {
	fmt.Fprintf(w, "issuer_id:\t%s\nissuer:\t%s\nstatus:\t%s\njwks_uri:\t%s\naudiences:\t%s\nalgorithms:\t%s\n",
		ti.ID, ti.Issuer, status(ti.Disabled), orText(ti.JWKSURI, "from discovery"), orText(joinOr(ti.Audiences), "Gatehouse's issuer and token endpoint"),
		orText(joinOr(ti.Algorithms), "ES256,ES384,RS256,PS256,EdDSA"))
	provision := "no: an unknown subject is refused"
	if ti.Provision {
		provision = "yes: an unknown subject becomes a new user"
	}
	fmt.Fprintf(w, "subject:\t%s claim names a %s\nprovision:\t%s\nroles claim:\t%s\n", ti.SubjectClaim, ti.SubjectType, provision, orDash(ti.RolesClaim))
	for _, k := range slices.Sorted(maps.Keys(ti.RoleMap)) {
		fmt.Fprintf(w, "role %s:\t%s\n", k, ti.RoleMap[k])
	}
	age := "server default"
	if ti.MaxTokenAgeSeconds > 0 {
		age = (time.Duration(ti.MaxTokenAgeSeconds) * time.Second).String()
	}
	fmt.Fprintf(w, "max token age:\t%s\ncreated:\t%s\nupdated:\t%s\n", age, ti.CreatedAt.Format(time.RFC3339), ti.UpdatedAt.Format(time.RFC3339))
}

func orDash(s string) string { return orText(s, "-") }

// orText is s, or alt when s is empty or "-".
func orText(s, alt string) string {
	if s == "" || s == "-" {
		return alt
	}
	return s
}
