package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"
)

// The compact JWS is written by hand rather than through go-jose's signer:
// go-jose marshals the header and copies the payload on every call, which
// cost 27-39% on top of the bare signature (BenchmarkSignAccessToken against
// BenchmarkRawSign); here the header is encoded once per key and a token
// costs one signature, two base64 encodings and one allocation for the
// result.

var b64 = base64.RawURLEncoding

// protectedHeader returns base64url(header) + ".".
func protectedHeader(alg, kid, typ string) []byte {
	h, _ := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{alg, kid, typ}) // strings only: cannot fail
	out := make([]byte, b64.EncodedLen(len(h))+1)
	b64.Encode(out, h)
	out[len(out)-1] = '.'
	return out
}

// sigLen is the length of k's raw signature: r||s for ECDSA (RFC 7518
// section 3.4), the modulus size for RSA, 64 bytes for Ed25519.
func (k *Key) sigLen() int {
	switch p := k.private.(type) {
	case *ecdsa.PrivateKey:
		return 2 * ((p.Curve.Params().BitSize + 7) / 8)
	case *rsa.PrivateKey:
		return p.Size()
	default:
		return ed25519.SignatureSize
	}
}

// sign returns the compact serialisation of payload signed by k as an
// access token.
func (k *Key) sign(payload []byte) (string, error) { return k.signWith(k.header, payload) }

// signWith returns the compact serialisation of payload under header (a
// protectedHeader) signed by k.
func (k *Key) signWith(header, payload []byte) (string, error) {
	n := len(header) + b64.EncodedLen(len(payload))
	buf := make([]byte, n, n+1+b64.EncodedLen(k.sigLen()))
	copy(buf, header)
	b64.Encode(buf[len(header):], payload)
	input := buf[:n]
	var sig []byte
	switch p := k.private.(type) {
	case *ecdsa.PrivateKey:
		h := sha256.Sum256(input)
		der, err := ecdsa.SignASN1(rand.Reader, p, h[:])
		if err != nil {
			return "", fmt.Errorf("keys: sign with %s: %w", k.ID, err)
		}
		if sig, err = rawECDSA(der, k.sigLen()/2); err != nil {
			return "", fmt.Errorf("keys: sign with %s: %w", k.ID, err)
		}
	case *rsa.PrivateKey:
		h := sha256.Sum256(input)
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, p, crypto.SHA256, h[:]); err != nil {
			return "", fmt.Errorf("keys: sign with %s: %w", k.ID, err)
		}
	case ed25519.PrivateKey:
		sig = ed25519.Sign(p, input)
	default:
		return "", fmt.Errorf("keys: key %s: unsupported private key %T", k.ID, k.private)
	}
	buf = append(buf, '.')
	buf = b64.AppendEncode(buf, sig)
	return string(buf), nil
}

// rawECDSA turns an ASN.1 ECDSA signature into the fixed-width r||s JWS
// uses (RFC 7518 section 3.4), without big.Int allocations.
func rawECDSA(der []byte, size int) ([]byte, error) {
	var seq, r, s cryptobyte.String
	in := cryptobyte.String(der)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() ||
		!seq.ReadASN1(&r, asn1.INTEGER) || !seq.ReadASN1(&s, asn1.INTEGER) || !seq.Empty() {
		return nil, errors.New("malformed ECDSA signature")
	}
	out := make([]byte, 2*size)
	for i, n := range []cryptobyte.String{r, s} {
		for len(n) > 0 && n[0] == 0 {
			n = n[1:]
		}
		if len(n) > size {
			return nil, errors.New("malformed ECDSA signature")
		}
		copy(out[(i+1)*size-len(n):(i+1)*size], n)
	}
	return out, nil
}
