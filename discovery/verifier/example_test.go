package verifier_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// startIssuer stands in for Gatehouse: it serves discovery metadata and a
// JWKS, and returns a function minting ES256 at+jwt access tokens.
func startIssuer() (*httptest.Server, func(claims map[string]any) string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=300")
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: priv.Public(), KeyID: "k1", Algorithm: "ES256", Use: "sig"},
		}})
	})
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: priv, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		log.Fatal(err)
	}
	mint := func(claims map[string]any) string {
		now := time.Now().Unix()
		base := map[string]any{"iss": srv.URL, "aud": []string{"example-api"}, "iat": now, "exp": now + 300}
		for k, v := range claims {
			base[k] = v
		}
		tok, err := jwt.Signed(signer).Claims(base).Serialize()
		if err != nil {
			log.Fatal(err)
		}
		return tok
	}
	return srv, mint
}

func Example() {
	issuer, mint := startIssuer()
	defer issuer.Close()

	v, err := verifier.New(verifier.Config{Issuer: issuer.URL, Audience: "example-api"})
	if err != nil {
		log.Fatal(err)
	}
	token := mint(map[string]any{
		"sub": "user-42", "client_id": "svc", "scope": "reports:read profile",
		"roles": []string{"admin"}, "tenant": "acme",
	})
	claims, err := v.Verify(context.Background(), token)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Subject, claims.ClientID, claims.Scopes, claims.Roles, claims.Extra["tenant"])
	fmt.Println(claims.HasScope("reports:read"), claims.HasRole("auditor"))

	_, err = v.Verify(context.Background(), mint(map[string]any{"aud": "billing-api"}))
	fmt.Println(err)
	// Output:
	// user-42 svc [reports:read profile] [admin] acme
	// true false
	// verifier: wrong audience: "example-api" not in aud
}

func ExampleMiddleware() {
	issuer, mint := startIssuer()
	defer issuer.Close()
	v, err := verifier.New(verifier.Config{Issuer: issuer.URL, Audience: "example-api"})
	if err != nil {
		log.Fatal(err)
	}

	auth := verifier.Middleware(v)
	mux := http.NewServeMux()
	mux.Handle("/admin", auth(verifier.RequireRoles("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, _ := verifier.ClaimsFromContext(r.Context())
		fmt.Fprintf(w, "hello %s", claims.Subject)
	}))))

	for _, token := range []string{"", mint(map[string]any{"sub": "bob"}), mint(map[string]any{"sub": "alice", "roles": []string{"admin"}})} {
		req := httptest.NewRequest(http.MethodGet, "/admin", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Header().Get("WWW-Authenticate"))
	}
	// Output:
	// 401 Bearer realm="example-api"
	// 403 Bearer realm="example-api", error="insufficient_scope", error_description="the token lacks a required role: admin"
	// 200
}

// ValidateClaims is the claims check a Verifier applies, for code that has
// verified a token's signature some other way (Gatehouse's introspection
// does). A token 20 s past "exp" is still valid within the default leeway,
// and not 40 s past it.
func ExampleValidateClaims() {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	want := verifier.Expected{Issuer: "https://issuer.example", Audience: "billing", Leeway: verifier.DefaultLeeway}
	for _, late := range []time.Duration{20 * time.Second, 40 * time.Second} {
		c := &verifier.Claims{Issuer: "https://issuer.example", Audience: []string{"billing"}, Expiry: now.Add(-late)}
		fmt.Println(late, verifier.ValidateClaims(c, want, now))
	}
	// Output:
	// 20s <nil>
	// 40s verifier: token expired: at 2026-01-01T11:59:20Z
}

// Keycloak nests realm roles in realm_access.roles; the mapping admits only
// the roles it names, renamed to the service's.
func ExampleConfig_keycloak() {
	issuer, mint := startIssuer()
	defer issuer.Close()

	path, err := verifier.ParseClaimPath("realm_access.roles")
	if err != nil {
		log.Fatal(err)
	}
	v, err := verifier.New(verifier.Config{
		Issuer: issuer.URL, Audience: "example-api",
		RolesClaim: path,
		RoleMap:    map[string]string{"api-admin": "admin", "ops": "admin", "api-audit": "auditor"},
		Types:      []string{"at+jwt", "JWT"},
	})
	if err != nil {
		log.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), mint(map[string]any{
		"sub":          "f:3c7e:alice",
		"realm_access": map[string]any{"roles": []string{"offline_access", "ops", "api-admin", "admin"}},
	}))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(claims.Roles)
	fmt.Println(verifier.ClaimPath{"https://example.com/roles"}, verifier.ClaimPath{"resource_access", "my.app", "roles"})
	// Output:
	// [admin]
	// "https://example.com/roles" resource_access."my.app".roles
}
