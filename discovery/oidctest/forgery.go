package oidctest

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

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/keys/keystest"
)

// Resign signs token's claims again, unchanged, with a key of the
// attacker's under the same kid and typ "JWT": a forgery every verifier
// must refuse.
func Resign(t testing.TB, token string) string {
	t.Helper()
	header, payload := parts(t, token)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := header["kid"].(string)
	return keystest.SignJWS(t, jose.RS256, jose.JSONWebKey{Key: key, KeyID: kid}, payload, "typ", "JWT")
}

// AlgConfused mounts the algorithm-confusion attacks (RFC 8725 section
// 2.1) on token from the provider at srv: its claims under "alg" HS256,
// MACed with the provider's public RSA key from its JWKS as the secret (in
// PEM and in DER form), and under "alg" none with no signature.
func AlgConfused(t testing.TB, srv *httptest.Server, token string) (hsPEM, hsDER, none string) {
	t.Helper()
	header, _ := parts(t, token)
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

// parts returns a compact JWS's decoded header and raw payload.
func parts(t testing.TB, token string) (map[string]any, []byte) {
	t.Helper()
	p := strings.Split(token, ".")
	if len(p) != 3 {
		t.Fatalf("token has %d parts; want 3", len(p))
	}
	h, err := base64.RawURLEncoding.DecodeString(p[0])
	if err != nil {
		t.Fatal(err)
	}
	var header map[string]any
	if err := json.Unmarshal(h, &header); err != nil {
		t.Fatal(err)
	}
	payload, err := base64.RawURLEncoding.DecodeString(p[1])
	if err != nil {
		t.Fatal(err)
	}
	return header, payload
}

// segment is the base64url JSON of v, one part of a compact JWS.
func segment(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
