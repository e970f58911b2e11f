package main

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/discovery/oidctest"
	"github.com/gatehouse/gatehouse/keys/keystest"
)

// The federation tests (the JWT bearer grant, token exchange) take their
// tokens from an OpenID provider nobody here wrote, run by
// discovery/oidctest; this file adds the forgeries they must refuse.

// segment is the base64url JSON of v, one part of a compact JWS.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// resignToken signs token's claims again, unchanged, with a key of the
// attacker's under the same kid and typ: a forgery.
func resignToken(t *testing.T, token string) string {
	t.Helper()
	header, _ := jwtParts(t, token)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := header["kid"].(string)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return keystest.SignJWS(t, jose.RS256, key, payload, "kid", kid, "typ", "JWT")
}

// algConfused mounts the algorithm-confusion attacks (RFC 8725 section
// 2.1) on token from the provider at srv: its claims under "alg" HS256,
// MACed with the provider's public RSA key from its JWKS as the secret (in
// PEM and in DER form), and under "alg" none with no signature.
func algConfused(t *testing.T, srv *httptest.Server, token string) (hsPEM, hsDER, none string) {
	t.Helper()
	header, _ := jwtParts(t, token)
	resp, err := srv.Client().Get(srv.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	kid, _ := header["kid"].(string)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys for kid %q; want 1", len(keys), kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Split(token, ".")[1]
	signingInput := segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + payload
	mac := func(secret []byte) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signingInput))
		return signingInput + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	none = segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + payload + "."
	return mac(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), mac(der), none
}

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
