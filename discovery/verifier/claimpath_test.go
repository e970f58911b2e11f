package verifier

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestParseClaimPath(t *testing.T) {
	tests := []struct {
		in   string
		want ClaimPath
	}{
		{"roles", ClaimPath{"roles"}},
		{"realm_access.roles", ClaimPath{"realm_access", "roles"}},
		{`resource_access."my.app".roles`, ClaimPath{"resource_access", "my.app", "roles"}},
		{`"https://example.com/roles"`, ClaimPath{"https://example.com/roles"}},
		{`"https://example.com/claims".roles`, ClaimPath{"https://example.com/claims", "roles"}},
		{`"a\"b".c`, ClaimPath{`a"b`, "c"}},
		{`"a\\".b`, ClaimPath{`a\`, "b"}},
		{"cognito:groups", ClaimPath{"cognito:groups"}},
		{"with space", ClaimPath{"with space"}},
	}
	for _, tt := range tests {
		got, err := ParseClaimPath(tt.in)
		if err != nil || !slices.Equal(got, tt.want) {
			t.Errorf("ParseClaimPath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			continue
		}
		if s := got.String(); s != tt.in {
			t.Errorf("ClaimPath(%q).String() = %q; want %q", got, s, tt.in)
		}
	}
	for _, in := range []string{"", ".", "a.", ".a", "a..b", `"a`, `"a"b`, `a"b`, `""`, `"a".`, `"\x"`} {
		if got, err := ParseClaimPath(in); err == nil {
			t.Errorf("ParseClaimPath(%q) = %q, nil; want an error", in, got)
		}
	}
}

func TestClaimPathStringRoundTrip(t *testing.T) {
	for _, p := range []ClaimPath{{"a.b"}, {`"`}, {"x", "https://e.com/r"}, {"<&>"}, {"é.ü"}} {
		got, err := ParseClaimPath(p.String())
		if err != nil || !slices.Equal(got, p) {
			t.Errorf("ParseClaimPath(%q) = %q, %v; want %q", p.String(), got, err, p)
		}
	}
}

// TestRolesAndScopesFromAnyIssuer checks the roles path, the role mapping
// and the scope claims against the claim shapes the providers document:
// Keycloak's realm_access.roles array, Auth0's namespaced array claim,
// Entra ID's "roles" array and "scp" space-separated string, Okta's
// "groups" and "scp" arrays.
func TestRolesAndScopesFromAnyIssuer(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	tests := []struct {
		name       string
		cfg        func(*Config)
		edit       func(map[string]any)
		wantRoles  []string
		wantScopes []string
		wantErr    error
	}{
		{"default", nil, nil, []string{"admin", "auditor"}, []string{"reports:read", "profile"}, nil},
		{"default ignores nested roles", nil,
			func(c map[string]any) {
				delete(c, "roles")
				c["realm_access"] = map[string]any{"roles": []string{"admin"}}
			},
			nil, []string{"reports:read", "profile"}, nil},
		{"default ignores scp", nil,
			func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"reports:read"} },
			[]string{"admin", "auditor"}, nil, nil},
		{"default scope array", nil,
			func(c map[string]any) { c["scope"] = []string{"a", "b"} },
			[]string{"admin", "auditor"}, []string{"a", "b"}, nil},
		{"keycloak", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) {
				c["realm_access"] = map[string]any{"roles": []string{"offline_access", "gh-admin"}}
			},
			[]string{"offline_access", "gh-admin"}, []string{"reports:read", "profile"}, nil},
		{"keycloak root roles not read", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			nil, nil, []string{"reports:read", "profile"}, nil},
		{"keycloak realm_access without roles", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = map[string]any{} },
			nil, []string{"reports:read", "profile"}, nil},
		{"keycloak realm_access null", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = nil },
			nil, []string{"reports:read", "profile"}, nil},
		{"keycloak realm_access a string", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = "admin" },
			nil, nil, ErrMalformed},
		{"keycloak roles an object", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = map[string]any{"roles": map[string]any{"admin": true}} },
			nil, nil, ErrMalformed},
		{"keycloak roles a number", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = map[string]any{"roles": 1} },
			nil, nil, ErrMalformed},
		{"keycloak roles mixed array", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", "roles"} },
			func(c map[string]any) { c["realm_access"] = map[string]any{"roles": []any{"admin", true}} },
			nil, nil, ErrMalformed},
		{"auth0 namespaced claim", func(c *Config) { c.RolesClaim = ClaimPath{"https://example.com/roles"} },
			func(c map[string]any) { c["https://example.com/roles"] = []string{"admin"} },
			[]string{"admin"}, []string{"reports:read", "profile"}, nil},
		{"auth0 namespaced claim is not a path", func(c *Config) { c.RolesClaim = ClaimPath{"https://example.com/roles"} },
			func(c map[string]any) {
				c["https://example"] = map[string]any{"com/roles": []string{"admin"}}
			},
			nil, []string{"reports:read", "profile"}, nil},
		{"space-separated roles", func(c *Config) { c.RolesClaim = ClaimPath{"groups"} },
			func(c map[string]any) { c["groups"] = "admin  auditor" },
			[]string{"admin", "auditor"}, []string{"reports:read", "profile"}, nil},
		{"entra id", func(c *Config) { c.ScopeClaims = []string{"scp"} },
			func(c map[string]any) { delete(c, "scope"); c["scp"] = "User.Read reports:read" },
			[]string{"admin", "auditor"}, []string{"User.Read", "reports:read"}, nil},
		{"okta", func(c *Config) { c.RolesClaim = ClaimPath{"groups"}; c.ScopeClaims = []string{"scp"} },
			func(c map[string]any) {
				delete(c, "scope")
				c["scp"] = []string{"openid", "reports:read"}
				c["groups"] = []string{"Everyone", "Admins"}
			},
			[]string{"Everyone", "Admins"}, []string{"openid", "reports:read"}, nil},
		{"scp only: scope ignored", func(c *Config) { c.ScopeClaims = []string{"scp"} },
			nil, []string{"admin", "auditor"}, nil, nil},
		{"scope before scp", func(c *Config) { c.ScopeClaims = []string{"scope", "scp"} },
			func(c map[string]any) { c["scp"] = []string{"admin:all"} },
			[]string{"admin", "auditor"}, []string{"reports:read", "profile"}, nil},
		{"scp when scope absent", func(c *Config) { c.ScopeClaims = []string{"scope", "scp"} },
			func(c map[string]any) { delete(c, "scope"); c["scp"] = []string{"admin:all"} },
			[]string{"admin", "auditor"}, []string{"admin:all"}, nil},
		{"scp when scope null", func(c *Config) { c.ScopeClaims = []string{"scope", "scp"} },
			func(c map[string]any) { c["scope"] = nil; c["scp"] = "x" },
			[]string{"admin", "auditor"}, []string{"x"}, nil},
		{"scp a number", func(c *Config) { c.ScopeClaims = []string{"scp"} },
			func(c map[string]any) { c["scp"] = 3 },
			nil, nil, ErrMalformed},
		{"mapping is an allow-list", func(c *Config) {
			c.RolesClaim = ClaimPath{"realm_access", "roles"}
			c.RoleMap = map[string]string{"gh-admin": "admin", "gh-ops": "admin", "gh-audit": "auditor"}
		},
			func(c map[string]any) {
				c["realm_access"] = map[string]any{"roles": []string{"gh-ops", "offline_access", "gh-admin", "admin"}}
			},
			[]string{"admin"}, []string{"reports:read", "profile"}, nil},
		{"mapping drops all", func(c *Config) { c.RoleMap = map[string]string{"x": "y"} },
			nil, nil, []string{"reports:read", "profile"}, nil},
		{"mapping of the default path", func(c *Config) { c.RoleMap = map[string]string{"auditor": "reader"} },
			nil, []string{"reader"}, []string{"reports:read", "profile"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, ti, newFakeClock(), tt.cfg)
			claims := ti.claims()
			if tt.edit != nil {
				tt.edit(claims)
			}
			got, err := v.Verify(context.Background(), sign(t, key, claims, signOpts{}))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify = %v; want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if !slices.Equal(got.Roles, tt.wantRoles) || !slices.Equal(got.Scopes, tt.wantScopes) {
				t.Errorf("Verify: roles %q, scopes %q; want %q, %q", got.Roles, got.Scopes, tt.wantRoles, tt.wantScopes)
			}
		})
	}
}

// TestRoleMapCopied checks that changing the caller's map after New changes
// nothing: the Verifier is shared by concurrent requests.
func TestRoleMapCopied(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	m := map[string]string{"admin": "admin"}
	path := ClaimPath{"roles"}
	v := newTestVerifier(t, ti, newFakeClock(), func(c *Config) { c.RoleMap = m; c.RolesClaim = path })
	m["auditor"] = "admin"
	delete(m, "admin")
	path[0] = "groups"
	got, err := v.Verify(context.Background(), sign(t, key, ti.claims(), signOpts{}))
	if err != nil || !slices.Equal(got.Roles, []string{"admin"}) {
		t.Errorf("Verify = %v, %v; want roles [admin]", got, err)
	}
}

func TestConfigValidateClaims(t *testing.T) {
	base := Config{Issuer: "https://id.example.com", Audience: "api"}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"empty segment", func(c *Config) { c.RolesClaim = ClaimPath{"realm_access", ""} }, "empty or non-UTF-8 claim name"},
		{"non-UTF-8 segment", func(c *Config) { c.RolesClaim = ClaimPath{"roles\xff"} }, "empty or non-UTF-8 claim name"},
		{"registered roles claim", func(c *Config) { c.RolesClaim = ClaimPath{"aud"} }, "registered claim"},
		{"registered scope claim", func(c *Config) { c.ScopeClaims = []string{"sub"} }, "registered claim"},
		{"empty scope claim", func(c *Config) { c.ScopeClaims = []string{""} }, "scope claim"},
		{"empty local role", func(c *Config) { c.RoleMap = map[string]string{"a": ""} }, "empty role"},
	}
	for _, tt := range tests {
		cfg := base
		tt.edit(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Validate = %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}

// FuzzParseClaimPath checks that every path ParseClaimPath accepts has no
// empty name and reads back the same from its String form.
func FuzzParseClaimPath(f *testing.F) {
	for _, s := range []string{"roles", "realm_access.roles", `"https://e.com/r".x`, `"a\"b"`, `"\u00e9"`, `a\b`, `"`, "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseClaimPath(s)
		if err != nil {
			return
		}
		if len(p) == 0 || slices.Contains(p, "") {
			t.Fatalf("ParseClaimPath(%q) = %q; want non-empty names", s, p)
		}
		again, err := ParseClaimPath(p.String())
		if err != nil || !slices.Equal(again, p) {
			t.Fatalf("ParseClaimPath(%q) = %q, %v; want %q", p.String(), again, err, p)
		}
	})
}

// TestWrongTypeRolesIs401 checks the documented outcome of a roles claim of
// the wrong type: the token is refused (401 invalid_token) on every route,
// not admitted with no roles.
func TestWrongTypeRolesIs401(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), func(c *Config) {
		c.RolesClaim = ClaimPath{"realm_access", "roles"}
		c.RoleMap = map[string]string{"admin": "admin"}
	})
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	auth := Middleware(v)
	for _, roles := range []any{map[string]any{"admin": true}, 1, []any{"admin", 2}, true} {
		claims := ti.claims()
		claims["realm_access"] = map[string]any{"roles": roles}
		token := sign(t, key, claims, signOpts{})
		for path, h := range map[string]http.Handler{"/me": auth(ok), "/admin": auth(RequireRoles("admin")(ok))} {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("Authorization", "Bearer "+token)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if got := rec.Header().Get("WWW-Authenticate"); rec.Code != 401 || !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("GET %s with roles %v = %d %q; want 401 invalid_token", path, roles, rec.Code, got)
			}
		}
	}
}
