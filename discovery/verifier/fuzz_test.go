package verifier

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
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
	return keyWithThumbprint(t, jose.ES256, priv)
}

// FuzzVerify feeds arbitrary tokens to Verify. Besides not panicking, a
// token the verifier accepts must pass two checks that share no code with
// it: the RFC 7515 §5.2 and RFC 7518 §3.4 steps done by hand with the
// standard library (split, decode, "alg" ES256, SHA-256 over the signing
// input, ecdsa.Verify of R || S), and go-jose's jwt package validating iss,
// aud, exp, nbf and iat with the same leeway. Parsing with go-jose must
// never be more lenient than the RFCs, and ValidateClaims never more
// lenient than go-jose's own claims check.
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
	f.Add(sign(f, key, claims, signOpts{headers: map[jose.HeaderKey]any{"crit": []string{"b64"}, "b64": true}}))
	f.Add(sign(f, key, claims, signOpts{headers: map[jose.HeaderKey]any{"jku": "https://evil.example/jwks"}}))
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
	pub := key.priv.Public().(*ecdsa.PublicKey)
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
		payload, err := stdlibVerifyES256(token, pub)
		if err != nil {
			t.Fatalf("Verify accepted %q; by hand: %v", token, err)
		}
		if _, err := decodeClaims(payload); err != nil {
			t.Fatalf("verified payload does not decode: %v", err)
		}
		parsed, err := jwt.ParseSigned(token, allowed)
		if err != nil {
			t.Fatalf("Verify accepted %q; jwt.ParseSigned: %v", token, err)
		}
		var reg jwt.Claims
		if err := parsed.Claims(pub, &reg); err != nil {
			t.Fatalf("Verify accepted %q; jwt Claims: %v", token, err)
		}
		want := jwt.Expected{Issuer: v.cfg.Issuer, AnyAudience: jwt.Audience{v.cfg.Audience}, Time: v.cfg.Now()}
		if err := reg.ValidateWithLeeway(want, v.cfg.Leeway); err != nil {
			t.Fatalf("Verify accepted %q; jwt ValidateWithLeeway: %v", token, err)
		}
	})
}

// stdlibVerifyES256 verifies a compact JWS signed with ES256 without
// go-jose: RFC 7515 §5.2 (three base64url parts without padding, a JSON
// header whose "alg" is ES256) and RFC 7518 §3.4 (SHA-256 over
// BASE64URL(header) || '.' || BASE64URL(payload), the signature the 64-byte
// R || S). It returns the payload.
func stdlibVerifyES256(token string, pub *ecdsa.PublicKey) ([]byte, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%d parts", len(parts))
	}
	var dec [3][]byte
	for i, p := range parts {
		b, err := base64.RawURLEncoding.Strict().DecodeString(p)
		if err != nil {
			return nil, fmt.Errorf("part %d: %w", i, err)
		}
		dec[i] = b
	}
	var hdr map[string]any
	if err := json.Unmarshal(dec[0], &hdr); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if hdr["alg"] != "ES256" {
		return nil, fmt.Errorf("alg %v", hdr["alg"])
	}
	sig := dec[2]
	if len(sig) != 64 {
		return nil, fmt.Errorf("signature of %d bytes", len(sig))
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	if !ecdsa.Verify(pub, h[:], r, s) {
		return nil, errors.New("signature does not verify")
	}
	return dec[1], nil
}

// FuzzParseBearer checks that Authorization header parsing never panics
// and only yields tokens of RFC 6750 §2.1 b64token syntax.
// FuzzDecodeClaimsRules decodes hostile claims sets with a nested roles
// path, a role mapping and two scope claims: no panic, and every role that
// comes out is one the mapping names as local.
func FuzzDecodeClaimsRules(f *testing.F) {
	rules := claimRules{
		roles:   ClaimPath{"realm_access", "roles"},
		roleMap: map[string]string{"gh-admin": "admin", "ops": "admin", "audit": "auditor"},
		scopes:  []string{"scope", "scp"},
	}
	for _, seed := range []string{
		`{"realm_access":{"roles":["gh-admin","ops","x"]},"scp":["a","b"]}`,
		`{"realm_access":{"roles":"ops audit admin"},"scope":"a b","scp":"c"}`,
		`{"realm_access":"admin"}`,
		`{"realm_access":{"roles":{"admin":true}}}`,
		`{"realm_access":null,"scope":null,"scp":null}`,
		`{"realm_access":{"roles":[null]}}`,
		`{"scp":7}`,
		`{"realm_access":[{"roles":["ops"]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		c, err := rules.decode(payload)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("decode(%q) = %v; want an ErrMalformed error", payload, err)
			}
			return
		}
		for _, r := range c.Roles {
			if r != "admin" && r != "auditor" {
				t.Fatalf("decode(%q): role %q is not a mapped role", payload, r)
			}
		}
	})
}

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
