package verifier

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"math/big"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// benchSetup returns a warmed verifier and a Gatehouse-shaped ES256 token.
func benchSetup(b *testing.B, cacheSize int) (*Verifier, string, testKey) {
	key := newTestKey(b, jose.ES256)
	ti := newTestIssuer(b, key)
	v := newTestVerifier(b, ti, newFakeClock(), func(c *Config) { c.TokenCacheSize = cacheSize })
	tok := sign(b, key, ti.claims(), signOpts{})
	if _, err := v.Verify(context.Background(), tok); err != nil {
		b.Fatal(err)
	}
	return v, tok, key
}

func BenchmarkVerify(b *testing.B) {
	v, tok, _ := benchSetup(b, 0)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256Verify is the floor BenchmarkVerify is measured against:
// hashing the signing input and ecdsa.Verify, nothing else.
func BenchmarkRawES256Verify(b *testing.B) {
	_, tok, key := benchSetup(b, 0)
	dot := strings.LastIndexByte(tok, '.')
	input := []byte(tok[:dot])
	sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
	if err != nil {
		b.Fatal(err)
	}
	r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
	pub := key.priv.Public().(*ecdsa.PublicKey)
	b.ReportAllocs()
	for b.Loop() {
		h := sha256.Sum256(input)
		if !ecdsa.Verify(pub, h[:], r, s) {
			b.Fatal("signature does not verify")
		}
	}
}

func BenchmarkVerifyCached(b *testing.B) {
	v, tok, _ := benchSetup(b, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyCachedParallel(b *testing.B) {
	v, tok, _ := benchSetup(b, 1024)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := v.Verify(ctx, tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkGoJoseVerify is go-jose's jwt package on the same token
// (jwt.ParseSigned with an allow-list, then Claims into a struct and a map),
// the cost of the usual go-jose route, beside the verifier's own use of
// jose.ParseSignedCompact and JSONWebSignature.Verify.
func BenchmarkGoJoseVerify(b *testing.B) {
	_, tok, key := benchSetup(b, 0)
	pub := key.priv.Public()
	algs := []jose.SignatureAlgorithm{jose.ES256}
	b.ReportAllocs()
	for b.Loop() {
		parsed, err := jwt.ParseSigned(tok, algs)
		if err != nil {
			b.Fatal(err)
		}
		var reg jwt.Claims
		var all map[string]any
		if err := parsed.Claims(pub, &reg, &all); err != nil {
			b.Fatal(err)
		}
	}
}
