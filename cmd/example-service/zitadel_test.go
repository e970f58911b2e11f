package main

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery/oidctest"
	"github.com/gatehouse/gatehouse/discovery/verifier"
)

// TestZitadelProvider protects the example service's routes with tokens
// from zitadel/oidc's OpenID provider, a provider nobody here wrote, run
// in-process: the service is configured by its own flags with the roles
// path realm_access.roles, a role mapping, "scp" for scopes and the "JWT"
// typ zitadel/oidc signs its access tokens with.
func TestZitadelProvider(t *testing.T) {
	services := map[string]oidctest.Service{
		"deployer": {Secret: "s3cret-1", Audience: []string{"example-api"}, Roles: []string{"offline_access", "gh-admin"}},
		"reader":   {Secret: "s3cret-2", Audience: []string{"example-api"}, Roles: []string{"viewer", "admin"}},
		"stranger": {Secret: "s3cret-3", Audience: []string{"other-api"}, Roles: []string{"gh-admin"}},
	}
	// zitadel/oidc's provider (discovery/oidctest): a provider nobody here
	// wrote, its machine clients' roles nested as Keycloak nests them and
	// their scopes in "scp".
	st := oidctest.NewStorage(services)
	idp := oidctest.Serve(t, st)
	// A second provider on the same storage, so with the same signing key,
	// under another issuer URL; and a third with its own storage and key.
	sameKeyOtherIssuer := oidctest.Serve(t, st)
	otherIDP := oidctest.Serve(t, oidctest.NewStorage(services))

	cfg, _, err := parseFlags([]string{
		"--issuer", idp.URL, "--audience", "example-api",
		"--types", "at+jwt,JWT",
		"--roles-claim", "realm_access.roles",
		"--role-map", "gh-admin=admin", "--role-map", "gh-audit=auditor",
		"--scope-claims", "scope,scp",
	}, &discard{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.HTTPClient = idp.Client()
	v, err := verifier.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h := routes(v)

	deployer := oidctest.Token(t, idp, "deployer", "s3cret-1", "reports:read")
	reader := oidctest.Token(t, idp, "reader", "s3cret-2")
	stranger := oidctest.Token(t, idp, "stranger", "s3cret-3")
	otherIssuer := oidctest.Token(t, sameKeyOtherIssuer, "deployer", "s3cret-1")
	otherKey := oidctest.Token(t, otherIDP, "deployer", "s3cret-1")

	// What the provider really sent: typ "JWT" (not RFC 9068's at+jwt),
	// the roles nested as Keycloak nests them, scopes in "scp".
	header, payload := decodeParts(t, deployer)
	if header["typ"] != "JWT" || header["alg"] != "RS256" {
		t.Fatalf("zitadel token header = %v; want typ JWT, alg RS256", header)
	}
	if ra, _ := payload["realm_access"].(map[string]any); ra == nil || payload["roles"] != nil {
		t.Fatalf("zitadel token claims = %v; want realm_access and no root roles", payload)
	}

	forged := oidctest.Resign(t, deployer)
	hsPEM, hsDER, none := oidctest.AlgConfused(t, idp, deployer)

	tests := []struct {
		name, path, token string
		want              int
		wantError         string // in WWW-Authenticate: the error code and the reason
	}{
		{"mapped role", "/admin", deployer, 200, ""},
		{"claims", "/me", deployer, 200, ""},
		{"scope from scp", "/reports", deployer, 200, ""},
		{"no scope", "/reports", reader, 403, `error="insufficient_scope", error_description="the token lacks a required scope"`},
		// "reader" has a role literally named admin upstream, but the
		// mapping is an allow-list and does not name it.
		{"unmapped role", "/admin", reader, 403, `error="insufficient_scope", error_description="the token lacks a required role: admin"`},
		{"authenticated, no role", "/me", reader, 200, ""},
		{"wrong audience", "/me", stranger, 401, `error="invalid_token", error_description="wrong audience`},
		{"untrusted issuer, same key", "/me", otherIssuer, 401, `error="invalid_token", error_description="wrong issuer`},
		{"untrusted issuer, own key", "/me", otherKey, 401, `error="invalid_token", error_description="unknown signing key`},
		{"forged with another key", "/me", forged, 401, `error="invalid_token", error_description="invalid signature`},
		{"HS256 with the PEM public key", "/me", hsPEM, 401, `error="invalid_token", error_description="signing algorithm not allowed`},
		{"HS256 with the DER public key", "/me", hsDER, 401, `error="invalid_token", error_description="signing algorithm not allowed`},
		{"alg none", "/me", none, 401, `error="invalid_token", error_description="signing algorithm not allowed`},
		{"none on admin", "/admin", none, 401, `error="invalid_token", error_description="signing algorithm not allowed`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(h, tt.path, tt.token)
			if rec.Code != tt.want {
				t.Fatalf("GET %s = %d; want %d (%s)", tt.path, rec.Code, tt.want, rec.Body)
			}
			if auth := rec.Header().Get("WWW-Authenticate"); !strings.Contains(auth, tt.wantError) {
				t.Errorf("WWW-Authenticate = %q; want it to contain %q", auth, tt.wantError)
			}
		})
	}

	rec := get(h, "/me", deployer)
	var me verifier.Claims
	if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil {
		t.Fatal(err)
	}
	if me.Subject != "deployer" || !slices.Equal(me.Roles, []string{"admin"}) || !slices.Equal(me.Scopes, []string{"reports:read"}) {
		t.Errorf("/me = sub %q roles %q scopes %q; want deployer [admin] [reports:read]", me.Subject, me.Roles, me.Scopes)
	}

	// The same token against the service configured otherwise.
	variants := []struct {
		name, path string
		edit       func(*verifier.Config)
		want       int
		wantAuth   string
	}{
		// The example storage issues tokens for five minutes.
		{"an hour later", "/me", func(c *verifier.Config) { c.Now = func() time.Time { return time.Now().Add(time.Hour) } },
			401, `error="invalid_token", error_description="token expired`},
		{"default types", "/me", func(c *verifier.Config) { c.Types = nil },
			401, `error="invalid_token", error_description="token type not accepted: 'JWT'"`},
		{"default roles claim", "/admin", func(c *verifier.Config) { c.RolesClaim = nil },
			403, `error="insufficient_scope"`},
		{"default scope claims", "/reports", func(c *verifier.Config) { c.ScopeClaims = nil },
			403, `error="insufficient_scope"`},
	}
	for _, tt := range variants {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			tt.edit(&cfg)
			v, err := verifier.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			rec := get(routes(v), tt.path, deployer)
			if auth := rec.Header().Get("WWW-Authenticate"); rec.Code != tt.want || !strings.Contains(auth, tt.wantAuth) {
				t.Errorf("GET %s = %d %q; want %d %q", tt.path, rec.Code, auth, tt.want, tt.wantAuth)
			}
		})
	}
}

func get(h http.Handler, path, token string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeParts(t *testing.T, token string) (header, payload map[string]any) {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload
}
