package verifier

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

func TestVerifyGatehouseES256(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), nil)

	got, err := v.Verify(context.Background(), sign(t, key, ti.claims(), signOpts{}))
	if err != nil {
		t.Fatalf("Verify = %v; want nil", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"Issuer", got.Issuer, ti.URL},
		{"Subject", got.Subject, "user-42"},
		{"ClientID", got.ClientID, "svc-client"},
		{"ID", got.ID, "tok-1"},
		{"Audience", strings.Join(got.Audience, ","), "example-api"},
		{"Scopes", strings.Join(got.Scopes, ","), "reports:read,profile"},
		{"Roles", strings.Join(got.Roles, ","), "admin,auditor"},
		{"Expiry", got.Expiry.Unix(), testEpoch.Unix() + 600},
		{"IssuedAt", got.IssuedAt.Unix(), testEpoch.Unix()},
		{"NotBefore", got.NotBefore.Unix(), testEpoch.Unix()},
		{"Extra", len(got.Extra), 1},
		{"Extra[tenant]", got.Extra["tenant"], "acme"},
		{"HasScope(reports:read)", got.HasScope("reports:read"), true},
		{"HasScope(reports)", got.HasScope("reports"), false},
		{"HasRole(admin)", got.HasRole("admin"), true},
		{"HasRole(root)", got.HasRole("root"), false},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v; want %v", c.name, c.got, c.want)
		}
	}
	if n := ti.metaHits.Load(); n != 1 {
		t.Errorf("discovery fetches = %d; want 1", n)
	}
}

// TestVerifyThirdPartyIssuer shows the verifier against issuers that do not
// implement RFC 9068 and send "typ": "JWT" with other key types.
func TestVerifyThirdPartyIssuer(t *testing.T) {
	for _, alg := range []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.EdDSA, jose.ES384} {
		t.Run(string(alg), func(t *testing.T) {
			key := newTestKey(t, alg)
			ti := newTestIssuer(t, key)
			claims := ti.claims()
			claims["aud"] = "example-api" // a single string, RFC 7519 §4.1.3
			claims["scope"] = []string{"reports:read"}
			delete(claims, "nbf")
			tok := sign(t, key, claims, signOpts{typ: "JWT"})

			strict := newTestVerifier(t, ti, newFakeClock(), nil)
			if _, err := strict.Verify(context.Background(), tok); !errors.Is(err, ErrType) {
				t.Errorf("default Types: Verify = %v; want %v", err, ErrType)
			}
			lenient := newTestVerifier(t, ti, newFakeClock(), func(c *Config) {
				c.Types = append(DefaultTypes(), "JWT")
			})
			got, err := lenient.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Types with JWT: Verify = %v; want nil", err)
			}
			if !got.HasScope("reports:read") || !slices.Equal(got.Audience, []string{"example-api"}) {
				t.Errorf("claims = %+v; want scope reports:read, aud [example-api]", got)
			}
			noTyp := sign(t, key, claims, signOpts{typ: "-"})
			if _, err := lenient.Verify(context.Background(), noTyp); !errors.Is(err, ErrType) {
				t.Errorf("missing typ: Verify = %v; want %v", err, ErrType)
			}
		})
	}
}

func TestVerifyTypeSpellings(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	tests := []struct {
		typ  string
		want error
	}{
		{"at+jwt", nil},
		{"application/at+jwt", nil},
		{"AT+JWT", nil}, // media types are case-insensitive, RFC 7515 §4.1.9
		{"Application/At+Jwt", nil},
		{"JWT", ErrType},
		{"application/jwt", ErrType},
		{"at+jwt2", ErrType},
		{"secevent+jwt", ErrType},
	}
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), sign(t, key, ti.claims(), signOpts{typ: tt.typ}))
		if !errors.Is(err, tt.want) {
			t.Errorf("Verify(typ %q) = %v; want %v", tt.typ, err, tt.want)
		}
	}
}

func TestVerifyClaims(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	now := testEpoch.Unix()
	tests := []struct {
		name   string
		edit   func(map[string]any)
		leeway time.Duration
		want   error
	}{
		{"valid", func(map[string]any) {}, 0, nil},
		{"expired", func(c map[string]any) { c["exp"] = now - 60 }, 0, ErrExpired},
		{"expired within leeway", func(c map[string]any) { c["exp"] = now - 20 }, 0, nil},
		{"expired, no leeway", func(c map[string]any) { c["exp"] = now - 1 }, -1, ErrExpired},
		{"expires now, no leeway", func(c map[string]any) { c["exp"] = now }, -1, ErrExpired},
		{"fractional exp", func(c map[string]any) { c["exp"] = float64(now) + 0.5 }, -1, nil},
		{"missing exp", func(c map[string]any) { delete(c, "exp") }, 0, ErrMissingClaim},
		{"exp is a string", func(c map[string]any) { c["exp"] = "tomorrow" }, 0, ErrMalformed},
		{"exp is negative", func(c map[string]any) { c["exp"] = -5 }, 0, ErrMalformed},
		{"exp far future", func(c map[string]any) { c["exp"] = 1e300 }, 0, ErrMalformed},
		{"nbf in future", func(c map[string]any) { c["nbf"] = now + 120 }, 0, ErrNotYetValid},
		{"nbf within leeway", func(c map[string]any) { c["nbf"] = now + 20 }, 0, nil},
		{"iat in future", func(c map[string]any) { c["iat"] = now + 120 }, 0, ErrIssuedInFuture},
		{"iat within leeway", func(c map[string]any) { c["iat"] = now + 20 }, 0, nil},
		{"long leeway", func(c map[string]any) { c["exp"] = now - 100 }, 5 * time.Minute, nil},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }, 0, ErrIssuer},
		{"issuer with trailing slash", func(c map[string]any) { c["iss"] = ti.URL + "/" }, 0, ErrIssuer},
		{"missing issuer", func(c map[string]any) { delete(c, "iss") }, 0, ErrIssuer},
		{"wrong audience", func(c map[string]any) { c["aud"] = []string{"other-api"} }, 0, ErrAudience},
		{"audience among many", func(c map[string]any) { c["aud"] = []string{"a", "example-api"} }, 0, nil},
		{"audience string", func(c map[string]any) { c["aud"] = "example-api" }, 0, nil},
		{"audience prefix", func(c map[string]any) { c["aud"] = "example-api-2" }, 0, ErrAudience},
		{"missing audience", func(c map[string]any) { delete(c, "aud") }, 0, ErrAudience},
		{"audience number", func(c map[string]any) { c["aud"] = 7 }, 0, ErrMalformed},
		{"roles not strings", func(c map[string]any) { c["roles"] = []any{"a", 1} }, 0, ErrMalformed},
		{"scope number", func(c map[string]any) { c["scope"] = 3 }, 0, ErrMalformed},
		{"sub number", func(c map[string]any) { c["sub"] = 3 }, 0, ErrMalformed},
		{"roles null", func(c map[string]any) { c["roles"] = nil }, 0, nil},
		{"exp null", func(c map[string]any) { c["exp"] = nil }, 0, ErrMissingClaim},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newTestVerifier(t, ti, newFakeClock(), func(c *Config) { c.Leeway = tt.leeway })
			claims := ti.claims()
			tt.edit(claims)
			_, err := v.Verify(context.Background(), sign(t, key, claims, signOpts{}))
			if !errors.Is(err, tt.want) {
				t.Errorf("Verify = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	good := sign(t, key, ti.claims(), signOpts{})
	parts := strings.Split(good, ".")
	h, p := parts[0], parts[1]
	tests := []struct {
		name, token string
		want        error
	}{
		{"empty", "", ErrMalformed},
		{"one part", "abc", ErrMalformed},
		{"two parts", "abc.def", ErrMalformed},
		{"four parts", good + ".x", ErrMalformed},
		{"JWE shape", "a.b.c.d.e", ErrMalformed},
		{"empty signature", h + "." + p + ".", ErrSignature},
		{"empty payload", h + ".." + parts[2], ErrMalformed},
		{"bad base64 header", "!!." + p + ".AAAA", ErrMalformed},
		{"padded", tamper(good, 2, func(s string) string { return s + "==" }), ErrMalformed},
		{"header not JSON", base64urlRaw("not json") + "." + p + ".AAAA", ErrMalformed},
		{"header without alg", b64json(map[string]any{"typ": "at+jwt"}) + "." + p + ".AAAA", ErrMalformed},
		{"header ALG in capitals", b64json(map[string]any{"ALG": "ES256", "typ": "at+jwt"}) + "." + p + ".AAAA", ErrMalformed},
		{"escaped header name", base64urlRaw(`{"\u0061lg":"ES256","typ":"at+jwt"}`) + "." + p + ".AAAA", ErrMalformed},
		{"crit header", b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "crit": []string{"exp"}, "exp": 1}) + "." + p + ".AAAA", ErrUnsupportedHeader},
		{"b64 header", b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "b64": false}) + "." + p + ".AAAA", ErrUnsupportedHeader},
		{"crit null", b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "crit": nil}) + "." + p + ".AAAA", ErrUnsupportedHeader},
		{"crit b64 signed", sign(t, key, ti.claims(), signOpts{headers: map[jose.HeaderKey]any{"crit": []string{"b64"}, "b64": true}}), ErrUnsupportedHeader},
		{"typ a number", b64json(map[string]any{"alg": "ES256", "typ": 1}) + "." + p + ".AAAA", ErrMalformed},
		{"alg HS256", b64json(map[string]any{"alg": "HS256", "typ": "at+jwt"}) + "." + p + ".AAAA", ErrAlgorithm},
		{"kid too long", b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": strings.Repeat("k", 300)}) + "." + p + ".AAAA", ErrMalformed},
		{"kid with newline", b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "a\nb"}) + "." + p + ".AAAA", ErrMalformed},
		{"claims an array", tamper(good, 1, func(string) string { return b64json([]int{1}) }), ErrSignature},
	}
	for _, tt := range tests {
		_, err := v.Verify(context.Background(), tt.token)
		if !errors.Is(err, tt.want) {
			t.Errorf("%s: Verify = %v; want %v", tt.name, err, tt.want)
		}
	}
}

func base64urlRaw(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func TestDecodeClaimsNotObject(t *testing.T) {
	for _, in := range []string{"null", "[]", "1", `"x"`, "{", `{"exp":1}x`} {
		if _, err := decodeClaims([]byte(in)); !errors.Is(err, ErrMalformed) {
			t.Errorf("decodeClaims(%q) = %v; want %v", in, err, ErrMalformed)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; nil for none
	}{
		{"ok", Config{Issuer: "https://id.example", Audience: "api"}, nil},
		{"http ok", Config{Issuer: "http://127.0.0.1:8080", Audience: "api"}, nil},
		{"missing both", Config{}, []string{"issuer is required", "audience is required"}},
		{"none", Config{Issuer: "https://id.example", Audience: "api", Algorithms: []string{"none"}}, []string{`"none"`}},
		{"HS256 and none", Config{Issuer: "https://id.example", Audience: "api", Algorithms: []string{"HS256", "none"}}, []string{`"HS256"`, `"none"`}},
		{"issuer with query", Config{Issuer: "https://id.example?x=1", Audience: "api"}, []string{"without query"}},
		{"issuer not URL", Config{Issuer: "id.example", Audience: "api"}, []string{"not an http(s) URL"}},
		{"negative cache", Config{Issuer: "https://id.example", Audience: "api", TokenCacheSize: -1}, []string{"cache size"}},
		{"ttl order", Config{Issuer: "https://id.example", Audience: "api", KeysMinTTL: time.Hour, KeysMaxTTL: time.Minute}, []string{"exceeds"}},
	}
	for _, tt := range tests {
		_, err := New(tt.cfg)
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: New = %v; want nil", tt.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: New = nil; want error containing %q", tt.name, tt.want)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: New = %v; want it to contain %q", tt.name, err, w)
			}
		}
	}
}

func TestDiscovery(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	tests := []struct {
		name    string
		setup   func(*testIssuer)
		wantErr error
	}{
		{"openid-configuration", func(*testIssuer) {}, nil},
		{"RFC 8414 path only", func(ti *testIssuer) { ti.oidc = false }, nil},
		{"issuer mismatch", func(ti *testIssuer) { ti.issuerClaim = "https://evil.example" }, ErrKeysUnavailable},
		{"issuer differs by slash", func(ti *testIssuer) { ti.issuerClaim = ti.URL + "/" }, ErrKeysUnavailable},
		{"down", func(ti *testIssuer) { ti.down.Store(true) }, ErrKeysUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ti := newTestIssuer(t, key)
			tt.setup(ti)
			v := newTestVerifier(t, ti, newFakeClock(), nil)
			_, err := v.Verify(context.Background(), sign(t, key, ti.claims(), signOpts{}))
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("Verify = %v; want %v", err, tt.wantErr)
			}
		})
	}
}

func TestDiscoveryURLs(t *testing.T) {
	tests := []struct {
		issuer string
		want   []string
	}{
		{"https://id.example", []string{"https://id.example/.well-known/openid-configuration", "https://id.example/.well-known/oauth-authorization-server"}},
		{"https://id.example/tenant/a", []string{"https://id.example/tenant/a/.well-known/openid-configuration", "https://id.example/.well-known/oauth-authorization-server/tenant/a"}},
	}
	for _, tt := range tests {
		if got := discoveryURLs(tt.issuer); !slices.Equal(got, tt.want) {
			t.Errorf("discoveryURLs(%q) = %q; want %q", tt.issuer, got, tt.want)
		}
	}
}

// TestValidateClaims checks the one claims rule shared by the Verifier,
// the admin API and introspection, with values from RFC 7519 §4.1.
func TestValidateClaims(t *testing.T) {
	now := testEpoch
	base := Claims{Issuer: "https://issuer.example", Audience: []string{"api"}, Expiry: now.Add(time.Minute)}
	want := Expected{Issuer: "https://issuer.example", Audience: "api", Leeway: 30 * time.Second}
	tests := []struct {
		name string
		edit func(*Claims, *Expected)
		want error
	}{
		{"valid", func(*Claims, *Expected) {}, nil},
		{"no expected issuer", func(c *Claims, e *Expected) { c.Issuer, e.Issuer = "", "" }, ErrIssuer},
		{"wrong issuer", func(c *Claims, _ *Expected) { c.Issuer = "https://issuer.example/" }, ErrIssuer},
		{"no audience expected", func(c *Claims, e *Expected) { c.Audience, e.Audience = nil, "" }, nil},
		{"audience missing", func(c *Claims, _ *Expected) { c.Audience = []string{"other"} }, ErrAudience},
		// Several accepted audiences: any one of them in aud is enough.
		{"second accepted audience", func(c *Claims, e *Expected) {
			c.Audience, e.Audiences = []string{"x", "api2"}, []string{"api1", "api2"}
		}, nil},
		{"first accepted audience", func(c *Claims, e *Expected) {
			c.Audience, e.Audience, e.Audiences = []string{"api"}, "", []string{"api", "api2"}
		}, nil},
		{"none of the accepted audiences", func(c *Claims, e *Expected) { c.Audience, e.Audiences = []string{"other"}, []string{"api2"} }, ErrAudience},
		{"accepted audiences, no aud", func(c *Claims, e *Expected) { c.Audience, e.Audience, e.Audiences = nil, "", []string{"api2"} }, ErrAudience},
		{"no exp", func(c *Claims, _ *Expected) { c.Expiry = time.Time{} }, ErrMissingClaim},
		// RFC 7519 §4.1.4: "on or after" exp is expired; leeway moves the line.
		{"exp now, no leeway", func(c *Claims, e *Expected) { c.Expiry, e.Leeway = now, 0 }, ErrExpired},
		{"exp now, negative leeway", func(c *Claims, e *Expected) { c.Expiry, e.Leeway = now, -time.Hour }, ErrExpired},
		{"exp 29s ago", func(c *Claims, _ *Expected) { c.Expiry = now.Add(-29 * time.Second) }, nil},
		{"exp 30s ago", func(c *Claims, _ *Expected) { c.Expiry = now.Add(-30 * time.Second) }, ErrExpired},
		// §4.1.5: before nbf is refused; now == nbf is valid.
		{"nbf now, no leeway", func(c *Claims, e *Expected) { c.NotBefore, e.Leeway = now, 0 }, nil},
		{"nbf 1s ahead, no leeway", func(c *Claims, e *Expected) { c.NotBefore, e.Leeway = now.Add(time.Second), 0 }, ErrNotYetValid},
		{"nbf 30s ahead", func(c *Claims, _ *Expected) { c.NotBefore = now.Add(30 * time.Second) }, nil},
		{"nbf 31s ahead", func(c *Claims, _ *Expected) { c.NotBefore = now.Add(31 * time.Second) }, ErrNotYetValid},
		{"iat 30s ahead", func(c *Claims, _ *Expected) { c.IssuedAt = now.Add(30 * time.Second) }, nil},
		{"iat 31s ahead", func(c *Claims, _ *Expected) { c.IssuedAt = now.Add(31 * time.Second) }, ErrIssuedInFuture},
	}
	for _, tt := range tests {
		c, e := base, want
		tt.edit(&c, &e)
		if err := ValidateClaims(&c, e, now); !errors.Is(err, tt.want) {
			t.Errorf("%s: ValidateClaims = %v; want %v", tt.name, err, tt.want)
		}
	}
}

// TestExplicitJWKSURI: with Config.JWKSURI the keys come from there and
// the discovery document is never fetched.
func TestExplicitJWKSURI(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	clock := newFakeClock()
	v := newTestVerifier(t, ti, clock, func(c *Config) { c.JWKSURI = ti.URL + "/jwks" })
	if _, err := v.Verify(t.Context(), sign(t, key, ti.claims(), signOpts{})); err != nil {
		t.Fatalf("Verify = %v; want nil", err)
	}
	if m, j := ti.metaHits.Load(), ti.jwksHits.Load(); m != 0 || j != 1 {
		t.Errorf("discovery fetched %d times, JWKS %d; want 0 and 1", m, j)
	}
	if _, err := New(Config{Issuer: ti.URL, Audience: "a", JWKSURI: "file:///etc/passwd"}); err == nil {
		t.Error("New with a file: JWKS URI succeeded; want an error")
	}
}

// TestSeveralAudiences: a token naming any one of the accepted audiences
// passes; one naming none fails with ErrAudience.
func TestSeveralAudiences(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), func(c *Config) {
		c.Audience, c.Audiences = "", []string{"https://as.example", "https://as.example/oauth2/token"}
	})
	for aud, want := range map[string]error{"https://as.example/oauth2/token": nil, "https://as.example": nil, "example-api": ErrAudience} {
		claims := ti.claims()
		claims["aud"] = aud
		if _, err := v.Verify(t.Context(), sign(t, key, claims, signOpts{})); !errors.Is(err, want) {
			t.Errorf("Verify(aud %q) = %v; want %v", aud, err, want)
		}
	}
}
