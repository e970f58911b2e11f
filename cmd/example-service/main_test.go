package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

func TestRoutes(t *testing.T) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	issuer := httptest.NewServer(mux)
	defer issuer.Close()
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": issuer.URL, "jwks_uri": issuer.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256"}}})
	})
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		t.Fatal(err)
	}
	mint := func(scope string, roles ...string) string {
		now := time.Now().Unix()
		tok, err := jwt.Signed(signer).Claims(map[string]any{
			"iss": issuer.URL, "aud": []string{"example-api"}, "sub": "svc", "exp": now + 60, "iat": now,
			"scope": scope, "roles": roles,
		}).Serialize()
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	v, err := verifier.New(verifier.Config{Issuer: issuer.URL, Audience: "example-api"})
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	h := routes(v)
	plain, admin, reports := mint("profile"), mint("profile", "admin"), mint("reports:read")
	tests := []struct {
		path, token string
		want        int
	}{
		{"/public", "", 200},
		{"/me", "", 401},
		{"/me", "garbage", 401},
		{"/me", plain, 200},
		{"/admin", plain, 403},
		{"/admin", admin, 200},
		{"/reports", admin, 403},
		{"/reports", reports, 200},
	}
	for _, tt := range tests {
		req := httptest.NewRequest(http.MethodGet, tt.path, nil)
		if tt.token != "" {
			req.Header.Set("Authorization", "Bearer "+tt.token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("GET %s = %d; want %d (%s)", tt.path, rec.Code, tt.want, rec.Body)
		}
	}
}

func TestRunBadFlags(t *testing.T) {
	if err := run(context.Background(), []string{"--issuer", "not a url"}, &discard{}); err == nil {
		t.Errorf("run(bad issuer) = nil; want error")
	}
	for _, args := range [][]string{
		{"--roles-claim", ""},
		{"--roles-claim", "realm_access..roles"},
		{"--roles-claim", `"https://example.com/roles`},
		{"--role-map", "admin"},
		{"--role-map", "=admin"},
		{"--role-map", "admin="},
		{"--scope-claims", "sub"},
		{"extra"},
	} {
		if err := run(context.Background(), args, &discard{}); err == nil {
			t.Errorf("run(%q) = nil; want error", args)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, addr, err := parseFlags([]string{
		"--issuer", "https://acme.auth0.com/", "--audience", "https://api.example.com", "--addr", ":9001",
		"--roles-claim", `"https://example.com/roles"`,
		"--role-map", "Administrator=admin", "--role-map", "a=b=c", "--role-map", "API Admins=admin",
		"--scope-claims", "scope, scp", "--types", `at+jwt,JWT,""`,
	}, &discard{})
	if err != nil {
		t.Fatal(err)
	}
	want := verifier.Config{
		Issuer: "https://acme.auth0.com/", Audience: "https://api.example.com",
		RolesClaim:  verifier.ClaimPath{"https://example.com/roles"},
		RoleMap:     map[string]string{"Administrator": "admin", "a=b": "c", "API Admins": "admin"},
		ScopeClaims: []string{"scope", "scp"},
		Types:       []string{"at+jwt", "JWT", ""},
	}
	if !reflect.DeepEqual(cfg, want) || addr != ":9001" {
		t.Errorf("parseFlags = %+v, %q; want %+v, %q", cfg, addr, want, ":9001")
	}
	// No flags: the verifier's defaults, which are Gatehouse's tokens.
	cfg, _, err = parseFlags(nil, &discard{})
	if err != nil || cfg.RolesClaim != nil || cfg.RoleMap != nil || cfg.ScopeClaims != nil || cfg.Types != nil {
		t.Errorf("parseFlags(nil) = %+v, %v; want no roles, scope or typ settings", cfg, err)
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// TestHelp: -help says what the service is and shows an example.
func TestHelp(t *testing.T) {
	var out strings.Builder
	err := run(context.Background(), []string{"--help"}, &out)
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "Example:\n  example-service --issuer") ||
		!strings.Contains(out.String(), "protected by Gatehouse") {
		t.Errorf("example-service --help = %v, %q; want a sentence, an example and the flags", err, out.String())
	}
}
