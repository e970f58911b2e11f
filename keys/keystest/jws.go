package keystest

import (
	"encoding/json"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// SignJWS signs payload as a compact JWS (RFC 7515 section 7.1) with key
// (a private key or a *jose.JSONWebKey naming its kid) under alg, adding
// the protected header members given as name, value pairs ("kid", "k1",
// "typ", "JWT"). It is what a client, an external issuer or an attacker
// sends, for tests; it fails t on any error.
func SignJWS(t testing.TB, alg jose.SignatureAlgorithm, key any, payload []byte, header ...string) string {
	t.Helper()
	if len(header)%2 != 0 {
		t.Fatalf("SignJWS: header %q is not name, value pairs", header)
	}
	opts := &jose.SignerOptions{}
	for i := 0; i < len(header); i += 2 {
		opts = opts.WithHeader(jose.HeaderKey(header[i]), header[i+1])
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("SignJWS: %v", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatalf("SignJWS: %v", err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatalf("SignJWS: %v", err)
	}
	return out
}

// SignJWT is SignJWS of claims encoded as JSON: a JWT (RFC 7519).
func SignJWT(t testing.TB, alg jose.SignatureAlgorithm, key any, claims any, header ...string) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatalf("SignJWT: %v", err)
	}
	return SignJWS(t, alg, key, payload, header...)
}
