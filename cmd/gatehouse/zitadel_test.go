package main

import (
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/discovery/oidctest"
)

// The federation tests (the JWT bearer grant, token exchange) take their
// tokens, and the forgeries they must refuse, from an OpenID provider
// nobody here wrote, run by discovery/oidctest.

// TestZitadelHarness checks what the provider really sends: typ "JWT",
// RS256, roles nested as Keycloak nests them, scopes in "scp", and the
// claims an assertion needs (iat, exp, jti).
func TestZitadelHarness(t *testing.T) {
	st := oidctest.NewStorage(map[string]oidctest.Service{"svc": {Secret: "s3cret", Audience: []string{"https://as.example"}, Roles: []string{"r1"}}})
	idp := oidctest.Serve(t, st)
	tok := oidctest.Token(t, idp, "svc", "s3cret", "read")
	header, claims := jwtParts(t, tok)
	if header["typ"] != "JWT" || header["alg"] != "RS256" {
		t.Errorf("header = %v; want typ JWT, alg RS256", header)
	}
	ra, _ := claims["realm_access"].(map[string]any)
	if claims["iss"] != idp.URL || claims["sub"] != "svc" || ra == nil || claims["jti"] == nil || claims["iat"] == nil || claims["exp"] == nil ||
		strings.Join(strs(claims["scp"]), " ") != "read" {
		t.Errorf("claims = %v", claims)
	}
}
