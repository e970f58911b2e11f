package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// clientFields are the flags of a client's fields. Pointers tell a flag
// not given from an empty one, for update.
type clientFields struct {
	Name          *string           `name:"name" help:"Client name, unique."`
	GrantTypes    *wordList         `name:"grant-types" help:"Comma-separated grants: ${grant_types}."`
	Scopes        *wordList         `name:"scopes" help:"Comma-separated scopes, each known to the server (GATEHOUSE_SCOPES)."`
	Audiences     *wordList         `name:"audiences" help:"Comma-separated audiences; none means tokens carry the issuer."`
	Roles         *wordList         `name:"roles" help:"Comma-separated roles put in the client's tokens."`
	Claim         map[string]string `name:"claim" mapsep:"none" placeholder:"KEY=VALUE" help:"Custom claim with a string value (repeatable)."`
	ClaimJSON     map[string]string `name:"claim-json" mapsep:"none" placeholder:"KEY=JSON" help:"Custom claim with a JSON value (repeatable)."`
	TokenLifetime *time.Duration    `name:"token-lifetime" help:"Access-token lifetime, 1s to 24h; 0 means the server default."`
	// Browser and native apps (the authorization code flow).
	RedirectURIs           *wordList `name:"redirect-uris" help:"Comma-separated redirect URIs of the authorization code flow: https, http://127.0.0.1 or http://[::1] (any port matches), or a private-use scheme such as com.example.app:/cb."`
	PostLogoutRedirectURIs *wordList `name:"post-logout-redirect-uris" help:"Comma-separated URIs RP-initiated logout may return to."`
	WebOrigins             *wordList `name:"web-origins" help:"Comma-separated origins (scheme://host[:port]) allowed to call the token, userinfo and revocation endpoints from a browser (CORS)."`
	Public                 *bool     `name:"public" negatable:"" help:"A client without a secret (a browser or native app); it must use PKCE."`
	ThirdParty             *bool     `name:"third-party" negatable:"" help:"Show the consent page to the client's users."`
	// private_key_jwt clients (RFC 7523 section 2.2).
	AuthMethod *string   `name:"auth-method" placeholder:"METHOD" help:"How the client authenticates: client_secret_basic (a generated secret; client_secret_post works too), private_key_jwt (no secret: signed assertions, with --jwks-file or --jwks-uri) or none (public)."`
	JWKSFile   *string   `name:"jwks-file" placeholder:"FILE" help:"private_key_jwt: a JSON file holding the client's JWK Set of public RSA or EC keys (- reads standard input)."`
	JWKSURI    *string   `name:"jwks-uri" placeholder:"URL" help:"private_key_jwt: https URL the server fetches the client's JWK Set from."`
	AuthAlgs   *wordList `name:"auth-signing-algs" help:"private_key_jwt: comma-separated JWS algorithms the client may sign with (default RS256,RS384,RS512,ES256,ES384,ES512,PS256,PS384,PS512)."`
}

// maxJWKSFile bounds what --jwks-file reads; the admin rules refuse a set
// over 32 KiB.
const maxJWKSFile = 64 << 10

// patch is the change the flags given ask for; stdin serves --jwks-file -.
func (f clientFields) patch(stdin io.Reader) (admin.ClientPatch, error) {
	p := admin.ClientPatch{Name: f.Name, GrantTypes: (*[]string)(f.GrantTypes), Scopes: (*[]string)(f.Scopes),
		Audiences: (*[]string)(f.Audiences), Roles: (*[]string)(f.Roles), RedirectURIs: (*[]string)(f.RedirectURIs),
		PostLogoutRedirectURIs: (*[]string)(f.PostLogoutRedirectURIs), WebOrigins: (*[]string)(f.WebOrigins),
		Public: f.Public, ThirdParty: f.ThirdParty, TokenEndpointAuthMethod: f.AuthMethod, JWKSURI: f.JWKSURI,
		TokenEndpointAuthSigningAlgs: (*[]string)(f.AuthAlgs)}
	if f.JWKSFile != nil {
		b, err := readJWKSFile(*f.JWKSFile, stdin)
		if err != nil {
			return p, err
		}
		raw := json.RawMessage(b)
		p.JWKS = &raw
	}
	if f.Claim != nil || f.ClaimJSON != nil {
		m := map[string]any{}
		for k, v := range f.Claim {
			m[k] = v
		}
		for k, v := range f.ClaimJSON {
			var val any
			if err := json.Unmarshal([]byte(v), &val); err != nil {
				return p, fmt.Errorf("--claim-json: value of %q is not JSON: %v", k, err)
			}
			m[k] = val
		}
		p.Claims = &m
	}
	if f.TokenLifetime != nil {
		s, err := lifetimeSeconds("token-lifetime", *f.TokenLifetime)
		if err != nil {
			return p, err
		}
		p.TokenLifetimeSeconds = &s
	}
	return p, nil
}

// deref is *p, or the zero value of a flag not given.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// lifetimeSeconds turns a duration flag into whole seconds.
func lifetimeSeconds(name string, d time.Duration) (int64, error) {
	if d%time.Second != 0 {
		return 0, fmt.Errorf("--%s %v: must be whole seconds", name, d)
	}
	return int64(d / time.Second), nil
}

func printClient(w io.Writer, cl admin.Client) {
	fmt.Fprintf(w, "client_id:\t%s\nname:\t%s\nstatus:\t%s\ngrant types:\t%s\nscopes:\t%s\naudiences:\t%s\nroles:\t%s\n",
		cl.ID, cl.Name, status(cl.Disabled), joinOr(cl.GrantTypes), joinOr(cl.Scopes), joinOr(cl.Audiences), joinOr(cl.Roles))
	fmt.Fprintf(w, "public:\t%v\nthird party:\t%v\nredirect URIs:\t%s\npost-logout URIs:\t%s\nweb origins:\t%s\n",
		cl.Public, cl.ThirdParty, joinOr(cl.RedirectURIs), joinOr(cl.PostLogoutRedirectURIs), joinOr(cl.WebOrigins))
	for _, k := range slices.Sorted(maps.Keys(cl.Claims)) {
		b, _ := json.Marshal(cl.Claims[k])
		fmt.Fprintf(w, "claim %s:\t%s\n", k, b)
	}
	lifetime := "server default"
	if cl.TokenLifetimeSeconds > 0 {
		lifetime = (time.Duration(cl.TokenLifetimeSeconds) * time.Second).String()
	}
	fmt.Fprintf(w, "token lifetime:\t%s\n", lifetime)
	fmt.Fprintf(w, "auth method:\t%s\n", cl.TokenEndpointAuthMethod)
	if cl.JWKSURI != "" {
		fmt.Fprintf(w, "jwks_uri:\t%s\n", cl.JWKSURI)
	}
	if len(cl.JWKS) > 0 {
		fmt.Fprintf(w, "jwks:\t%s\n", cl.JWKS)
	}
	if len(cl.TokenEndpointAuthSigningAlgs) > 0 {
		fmt.Fprintf(w, "auth signing algs:\t%s\n", joinOr(cl.TokenEndpointAuthSigningAlgs))
	}
	if cl.PreviousSecretExpiresAt != nil {
		fmt.Fprintf(w, "previous secret valid until:\t%s\n", cl.PreviousSecretExpiresAt.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "created:\t%s\nupdated:\t%s\n", cl.CreatedAt.Format(time.RFC3339), cl.UpdatedAt.Format(time.RFC3339))
}

// readJWKSFile reads a JWK Set for --jwks-file: a JSON document of at most
// maxJWKSFile bytes, from a file or, for "-", standard input.
func readJWKSFile(name string, stdin io.Reader) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		if stdin == nil {
			return nil, errors.New("--jwks-file -: no standard input")
		}
		r = stdin
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--jwks-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, maxJWKSFile+1))
	if err != nil {
		return nil, fmt.Errorf("--jwks-file: %w", err)
	}
	if len(b) > maxJWKSFile {
		return nil, fmt.Errorf("--jwks-file: more than %d bytes", maxJWKSFile)
	}
	if !json.Valid(b) {
		return nil, errors.New("--jwks-file: not JSON (want a JWK Set: {\"keys\": [...]})")
	}
	return b, nil
}
