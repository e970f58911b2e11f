package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

// TestAttacks runs forged and tampered tokens through Verify and through
// Middleware; every one must be refused, and with a 401 invalid_token.
func TestAttacks(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	attacker := newTestKey(t, jose.ES256)
	attackerRSA := newTestKey(t, jose.RS256)

	// A server the attacker hopes the verifier will fetch keys from.
	var attackerHits atomic.Int64
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		attackerHits.Add(1)
		json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{attacker.jwk()}})
	}))
	defer evil.Close()

	claims := ti.claims()
	valid := sign(t, key, claims, signOpts{})
	with := func(edit func(map[string]any)) map[string]any {
		c := ti.claims()
		edit(c)
		return c
	}

	pubDER, err := x509.MarshalPKIXPublicKey(key.priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	pubJWK, err := json.Marshal(key.jwk())
	if err != nil {
		t.Fatal(err)
	}
	hs256 := func(secret []byte) string {
		hdr := map[string]any{"alg": "HS256", "typ": "at+jwt", "kid": key.kid}
		unsigned := rawToken(t, hdr, claims, nil)
		unsigned = strings.TrimSuffix(unsigned, ".")
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(unsigned))
		return unsigned + "." + base64urlRaw(string(mac.Sum(nil)))
	}
	derSig := func() string {
		// A valid signature, but ASN.1 DER instead of JOSE's R||S.
		parts := strings.Split(valid, ".")
		h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
		der, err := ecdsa.SignASN1(rand.Reader, key.priv.(*ecdsa.PrivateKey), h[:])
		if err != nil {
			t.Fatal(err)
		}
		return parts[0] + "." + parts[1] + "." + base64urlRaw(string(der))
	}

	tests := []struct {
		name  string
		token string
		want  error
	}{
		{"alg none", rawToken(t, map[string]any{"alg": "none", "typ": "at+jwt", "kid": key.kid}, claims, nil), ErrAlgorithm},
		{"alg None", rawToken(t, map[string]any{"alg": "None", "typ": "at+jwt"}, claims, nil), ErrAlgorithm},
		{"alg none with signature", rawToken(t, map[string]any{"alg": "none", "typ": "at+jwt"}, claims, []byte("sig")), ErrAlgorithm},
		{"HS256 keyed with public PEM", hs256(pubPEM), ErrAlgorithm},
		{"HS256 keyed with public JWK", hs256(pubJWK), ErrAlgorithm},
		{"HS256 keyed with public DER", hs256(pubDER), ErrAlgorithm},
		{"changed payload", tamper(valid, 1, func(string) string {
			return b64json(with(func(c map[string]any) { c["roles"] = []string{"admin", "superuser"} }))
		}), ErrSignature},
		{"changed header", tamper(valid, 0, func(string) string {
			return b64json(map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": key.kid, "x": 1})
		}), ErrSignature},
		{"truncated signature", tamper(valid, 2, func(s string) string { return s[:len(s)-4] }), ErrSignature},
		{"DER signature", derSig(), ErrSignature},
		{"expired", sign(t, key, with(func(c map[string]any) { c["exp"] = testEpoch.Unix() - 3600 }), signOpts{}), ErrExpired},
		{"wrong issuer", sign(t, key, with(func(c map[string]any) { c["iss"] = evil.URL }), signOpts{}), ErrIssuer},
		{"wrong audience", sign(t, key, with(func(c map[string]any) { c["aud"] = []string{"billing-api"} }), signOpts{}), ErrAudience},
		{"unknown kid", sign(t, attacker, claims, signOpts{}), ErrUnknownKey},
		{"kid with path characters", sign(t, attacker, claims, signOpts{noKid: true, headers: map[jose.HeaderKey]any{"kid": "../../etc/passwd"}}), ErrUnknownKey},
		{"kid is a URL", sign(t, attacker, claims, signOpts{noKid: true, headers: map[jose.HeaderKey]any{"kid": evil.URL + "/jwks"}}), ErrUnknownKey},
		{"jku to attacker, attacker kid", sign(t, attacker, claims, signOpts{headers: map[jose.HeaderKey]any{"jku": evil.URL + "/jwks"}}), ErrUnknownKey},
		{"jku to attacker, issuer kid", sign(t, attacker, claims, signOpts{noKid: true, headers: map[jose.HeaderKey]any{"jku": evil.URL + "/jwks", "kid": key.kid}}), ErrSignature},
		{"x5u to attacker", sign(t, attacker, claims, signOpts{noKid: true, headers: map[jose.HeaderKey]any{"x5u": evil.URL + "/cert.pem", "kid": key.kid}}), ErrSignature},
		{"embedded jwk", sign(t, attacker, claims, signOpts{embed: true}), ErrSignature},
		{"embedded jwk, issuer kid", sign(t, attacker, claims, signOpts{embed: true, headers: map[jose.HeaderKey]any{"kid": key.kid}}), ErrSignature},
		{"RS256 under the ES256 kid", sign(t, testKey{kid: key.kid, alg: jose.RS256, priv: attackerRSA.priv}, claims, signOpts{}), ErrUnknownKey},
		{"ID token typ JWT", sign(t, key, claims, signOpts{typ: "JWT"}), ErrType},
		{"no typ", sign(t, key, claims, signOpts{typ: "-"}), ErrType},
		{"1 MB token", valid + strings.Repeat("A", 1<<20), ErrTokenTooLarge},
		{"1 MB header", b64json(map[string]any{"alg": "ES256", "pad": strings.Repeat("x", 1<<20)}) + ".e30.AAAA", ErrTokenTooLarge},
	}

	v := newTestVerifier(t, ti, newFakeClock(), nil)
	if _, err := v.Verify(context.Background(), valid); err != nil {
		t.Fatalf("Verify(valid) = %v; want nil", err)
	}
	handler := Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("handler reached")
	}))
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if c, err := v.Verify(context.Background(), tt.token); !errors.Is(err, tt.want) {
				t.Errorf("Verify = %+v, %v; want %v", c, err, tt.want)
			}
			req := httptest.NewRequest(http.MethodGet, "/me", nil)
			req.Header.Set("Authorization", "Bearer "+tt.token)
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, req)
			if rec.Code != http.StatusUnauthorized {
				t.Errorf("status = %d; want 401", rec.Code)
			}
			if got := rec.Header().Get("WWW-Authenticate"); !strings.Contains(got, `error="invalid_token"`) {
				t.Errorf("WWW-Authenticate = %q; want error=\"invalid_token\"", got)
			}
		})
	}
	if n := attackerHits.Load(); n != 0 {
		t.Errorf("attacker server requests = %d; want 0", n)
	}
	if n := ti.otherPaths.Load(); n != 0 {
		t.Errorf("issuer requests outside metadata and JWKS = %d; want 0", n)
	}
	// The unknown kids above may cause one rate-limited refetch at most.
	if n := ti.jwksHits.Load(); n > 2 {
		t.Errorf("JWKS fetches = %d; want at most 2", n)
	}
}
