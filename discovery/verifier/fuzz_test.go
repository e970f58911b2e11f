package verifier

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/base64"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// fuzzKey is a fixed P-256 key, so that the committed seed corpus in
// testdata/fuzz/FuzzVerify holds tokens that verify.
func fuzzKey(t testing.TB) testKey {
	t.Helper()
	d := bytes.Repeat([]byte{0x5a}, 32)
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		t.Fatal(err)
	}
	jwk := jose.JSONWebKey{Key: priv.Public()}
	tp, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{kid: base64.RawURLEncoding.EncodeToString(tp), alg: jose.ES256, priv: priv}
}

// FuzzVerify feeds arbitrary tokens to Verify. Besides not panicking, a
// token the verifier accepts must also be accepted by go-jose with the same
// allow-list and key, and carry the configured issuer and audience:
// hand-decoding the JWS must never be more lenient than the library.
func FuzzVerify(f *testing.F) {
	key := fuzzKey(f)
	ti := newTestIssuer(f, key)
	ti.URL = "https://issuer.example" // the seeds' "iss"; metadata says the same
	v := newTestVerifier(f, ti, newFakeClock(), nil)
	// Skip discovery: the seeds name an https issuer the test server
	// cannot be.
	v.jwksURI = ti.srv.URL + "/jwks"
	if err := v.Refresh(context.Background()); err != nil {
		f.Fatal(err)
	}

	claims := ti.claims()
	valid := sign(f, key, claims, signOpts{})
	f.Add(valid)
	f.Add(sign(f, key, claims, signOpts{noKid: true}))
	f.Add(sign(f, key, claims, signOpts{typ: "JWT"}))
	f.Add(rawToken(f, map[string]any{"alg": "none", "typ": "at+jwt"}, claims, nil))
	f.Add(tamper(valid, 1, func(string) string { return b64json(map[string]any{"iss": ti.URL, "exp": 1e12}) }))
	f.Add("")
	f.Add("..")
	f.Add("e30.e30.e30")
	f.Add(strings.Repeat("A", 100) + "." + strings.Repeat("B", 100) + ".")

	allowed := make([]jose.SignatureAlgorithm, 0, len(v.cfg.Algorithms))
	for _, a := range v.cfg.Algorithms {
		allowed = append(allowed, jose.SignatureAlgorithm(a))
	}
	pub := key.priv.Public()
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(context.Background(), token)
		if err != nil {
			if c != nil {
				t.Fatalf("Verify returned claims with error %v", err)
			}
			return
		}
		if c.Issuer != v.cfg.Issuer || !slices.Contains(c.Audience, v.cfg.Audience) {
			t.Fatalf("accepted claims %+v for the wrong issuer or audience", c)
		}
		if c.Expiry.IsZero() {
			t.Fatalf("accepted claims without exp: %+v", c)
		}
		obj, err := jose.ParseSigned(token, allowed)
		if err != nil {
			t.Fatalf("Verify accepted %q; go-jose ParseSigned: %v", token, err)
		}
		payload, err := obj.Verify(pub)
		if err != nil {
			t.Fatalf("Verify accepted %q; go-jose Verify: %v", token, err)
		}
		if _, err := decodeClaims(payload); err != nil {
			t.Fatalf("go-jose payload does not decode: %v", err)
		}
	})
}

// FuzzParseBearer checks that Authorization header parsing never panics
// and only yields tokens of RFC 6750 §2.1 b64token syntax.
func FuzzParseBearer(f *testing.F) {
	for _, s := range []string{"Bearer abc.def.ghi", "bearer x==", "Basic dXNlcg==", "Bearer ", "Bearer a b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		tok, res := parseBearer(h)
		if res == tokenOK && !isToken68(tok) {
			t.Fatalf("parseBearer(%q) = %q, which is not a b64token", h, tok)
		}
		if res != tokenOK && tok != "" {
			t.Fatalf("parseBearer(%q) = %q with result %d", h, tok, res)
		}
	})
}
