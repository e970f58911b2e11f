package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
)

// The hand-written compact JWS is what go-jose, an independent
// implementation, accepts: header, signature encoding and all.
func TestSignAccessTokenInterop(t *testing.T) {
	for _, alg := range SupportedAlgorithms() {
		t.Run(alg, func(t *testing.T) {
			k, err := Generate(alg)
			if err != nil {
				t.Fatal(err)
			}
			set, _ := NewSet(k)
			ring := NewRing(set)
			tok, err := ring.SignAccessToken([]byte(`{"sub":"a"}`))
			if err != nil {
				t.Fatal(err)
			}
			parts := strings.Split(tok, ".")
			hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
			if want := `{"alg":"` + alg + `","kid":"` + k.ID + `","typ":"at+jwt"}`; string(hdr) != want {
				t.Fatalf("header = %s; want %s", hdr, want)
			}
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			if len(sig) != k.sigLen() {
				t.Fatalf("signature of %d bytes; want %d", len(sig), k.sigLen())
			}
			jws, err := jose.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
			if err != nil {
				t.Fatal(err)
			}
			payload, err := jws.Verify(k.private.Public())
			if err != nil || string(payload) != `{"sub":"a"}` {
				t.Fatalf("go-jose Verify = %s, %v", payload, err)
			}
			v, err := ring.Verify(tok)
			if err != nil || v.Type != AccessTokenType || v.KeyID != k.ID {
				t.Fatalf("Ring.Verify = %+v, %v", v, err)
			}
			sig[len(sig)/2] ^= 1
			bad := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)
			if _, err := ring.Verify(bad); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("Verify(bad signature) = %v; want ErrBadSignature", err)
			}
		})
	}
}

func TestNewKeyRefuses(t *testing.T) {
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewKey(RS256, small); err == nil {
		t.Error("NewKey(RS256, 1024-bit key) succeeded")
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := NewKey(ES256, p384); err == nil {
		t.Error("NewKey(ES256, P-384 key) succeeded")
	}
	if _, err := Generate("HS256"); err == nil {
		t.Error("Generate(HS256) succeeded")
	}
	ring := NewRing(mustSet(t))
	if _, err := ring.SignAccessToken([]byte("{}")); !errors.Is(err, ErrNoActiveKey) {
		t.Errorf("SignAccessToken with no active key = %v; want ErrNoActiveKey", err)
	}
}

func mustSet(t *testing.T) *Set {
	s, err := NewSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSupportedAlgorithmsIsACopy(t *testing.T) {
	got := SupportedAlgorithms()
	got[0] = "none"
	if again := SupportedAlgorithms(); again[0] != ES256 {
		t.Errorf("SupportedAlgorithms()[0] = %q after a caller changed its copy; want %q", again[0], ES256)
	}
	for _, alg := range SupportedAlgorithms() {
		if alg == "none" || strings.HasPrefix(alg, "HS") {
			t.Errorf("SupportedAlgorithms() includes %q (RFC 8725 section 3.1)", alg)
		}
	}
}
