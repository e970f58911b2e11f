package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"strings"
	"testing"
)

// benchPayload is the size of a typical Gatehouse access-token claims set.
var benchPayload = []byte(`{"aud":["api"],"client_id":"billing-service","exp":1767225600,"iat":1767225000,` +
	`"iss":"https://auth.example.com","jti":"3f6d2a4c-8a1e-4b7e-9d7a-0c5b2e1f4a6d","nbf":1767225000,` +
	`"roles":["service"],"scope":"read write","sub":"billing-service"}`)

// BenchmarkSignAccessToken measures a whole access-token signature: header,
// payload encoding, signature and serialisation.
func BenchmarkSignAccessToken(b *testing.B) {
	for _, alg := range SupportedAlgorithms() {
		b.Run(alg, func(b *testing.B) {
			ring, err := NewEphemeralRing(alg)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ring.SignAccessToken(benchPayload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRawSign is the floor: the bare signature (with SHA-256 where the
// algorithm uses it) over a signing input of the same size as a token's.
func BenchmarkRawSign(b *testing.B) {
	for _, alg := range SupportedAlgorithms() {
		b.Run(alg, func(b *testing.B) {
			k, err := Generate(alg)
			if err != nil {
				b.Fatal(err)
			}
			tok, err := k.sign(benchPayload)
			if err != nil {
				b.Fatal(err)
			}
			input := []byte(tok[:strings.LastIndexByte(tok, '.')])
			b.ReportAllocs()
			for b.Loop() {
				switch p := k.private.(type) {
				case *ecdsa.PrivateKey:
					h := sha256.Sum256(input)
					_, err = ecdsa.SignASN1(rand.Reader, p, h[:])
				case *rsa.PrivateKey:
					h := sha256.Sum256(input)
					_, err = rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:])
				case ed25519.PrivateKey:
					_ = ed25519.Sign(p, input)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
