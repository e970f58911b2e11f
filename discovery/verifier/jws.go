package verifier

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
)

// compactJWS is a compact-serialised JWS (RFC 7515 §7.1) split into its
// parts, with the protected header decoded. Only the header parameters the
// verifier acts on are kept; "jku", "jwk", "x5u" and "x5c" are never read.
type compactJWS struct {
	alg, kid, typ string
	signingInput  string // BASE64URL(header) || '.' || BASE64URL(payload)
	payload       []byte
	signature     []byte
}

// parseCompact splits and decodes token without verifying it.
func parseCompact(token string) (compactJWS, error) {
	var jws compactJWS
	dot1 := strings.IndexByte(token, '.')
	dot2 := strings.LastIndexByte(token, '.')
	if dot1 <= 0 || dot2 == dot1 || strings.IndexByte(token[dot1+1:dot2], '.') >= 0 {
		// Five parts would be a JWE (RFC 7516 §7.1); access tokens are JWS.
		return jws, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	h, p, s := token[:dot1], token[dot1+1:dot2], token[dot2+1:]
	if len(p) == 0 {
		// An empty signature is left for the algorithm check ("none")
		// and then the signature check to refuse.
		return jws, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	// One buffer for the three decoded parts: base64url without padding
	// (RFC 7515 §2).
	b64 := base64.RawURLEncoding
	buf := make([]byte, b64.DecodedLen(len(h))+b64.DecodedLen(len(p))+b64.DecodedLen(len(s)))
	hn, err := b64.Decode(buf, []byte(h))
	if err != nil {
		return jws, fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	hdr := buf[:hn:hn]
	buf = buf[hn:]
	pn, err := b64.Decode(buf, []byte(p))
	if err != nil {
		return jws, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	jws.payload = buf[:pn:pn]
	buf = buf[pn:]
	sn, err := b64.Decode(buf, []byte(s))
	if err != nil {
		return jws, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	jws.signature = buf[:sn:sn]
	jws.signingInput = token[:dot2]
	if err := jws.decodeHeader(hdr); err != nil {
		return jws, err
	}
	return jws, nil
}

// joseHeader holds the header parameters the verifier reads (RFC 7515
// §4.1). Crit is kept raw only to detect its presence.
type joseHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
	B64  json.RawMessage `json:"b64"`
}

func (jws *compactJWS) decodeHeader(raw []byte) error {
	// encoding/json matches struct fields case-insensitively; header names
	// are case-sensitive (RFC 7515 §4), so "ALG" must not be read as "alg".
	if err := checkJSONObjectKeys(raw, [...]string{"alg", "kid", "typ", "crit", "b64"}); err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	var h joseHeader
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("%w: header: %w", ErrMalformed, err)
	}
	if h.Crit != nil || h.B64 != nil {
		// RFC 7515 §4.1.11: extensions we do not understand must be
		// rejected; RFC 7797 "b64" changes what is signed.
		return ErrUnsupportedHeader
	}
	if h.Alg == "" {
		return fmt.Errorf("%w: header has no alg", ErrMalformed)
	}
	jws.alg, jws.kid, jws.typ = h.Alg, h.Kid, h.Typ
	return nil
}

// checkJSONObjectKeys is a cheap guard run before json.Unmarshal into a
// struct: it refuses top-level keys that equal a field name only under case
// folding. It scans keys at depth one of a JSON object; anything it cannot
// follow is left for json.Unmarshal to reject.
func checkJSONObjectKeys(raw []byte, names [5]string) error {
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch c := raw[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			depth--
		case '"':
			end := i + 1
			for end < len(raw) && raw[end] != '"' {
				if raw[end] == '\\' {
					end++
				}
				end++
			}
			if end >= len(raw) {
				return nil
			}
			s := raw[i+1 : end]
			i = end
			if depth != 1 || !isKeyPosition(raw, end+1) {
				continue
			}
			for _, n := range names {
				if len(s) == len(n) && string(s) != n && strings.EqualFold(string(s), n) {
					return fmt.Errorf("header name %q is not %q", s, n)
				}
			}
			if hasEscape(s) {
				// An escaped name could spell a field in disguise.
				return fmt.Errorf("escaped header name %q", s)
			}
		}
	}
	return nil
}

func hasEscape(s []byte) bool {
	for _, c := range s {
		if c == '\\' {
			return true
		}
	}
	return false
}

// isKeyPosition reports whether the next non-space byte from i is ':'.
func isKeyPosition(raw []byte, i int) bool {
	for ; i < len(raw); i++ {
		switch raw[i] {
		case ' ', '\t', '\n', '\r':
			continue
		case ':':
			return true
		default:
			return false
		}
	}
	return false
}

// publicKey is one verification key from the issuer's JWKS, reduced to what
// signature checks need.
type publicKey struct {
	kid string
	alg string // the JWK "alg" (RFC 7517 §4.4), may be empty
	ec  *ecdsa.PublicKey
	rsa *rsa.PublicKey
	ed  ed25519.PublicKey
}

// fits reports whether k may verify a token signed with alg: the key type
// and curve must match the algorithm (RFC 7518 §3.1, RFC 8037 §3.1) and, if
// the JWK names an algorithm, it must be this one (RFC 7517 §4.4).
func (k *publicKey) fits(alg string) bool {
	if k.alg != "" && k.alg != alg {
		return false
	}
	switch alg {
	case "ES256":
		return k.ec != nil && k.ec.Curve == elliptic.P256()
	case "ES384":
		return k.ec != nil && k.ec.Curve == elliptic.P384()
	case "ES512":
		return k.ec != nil && k.ec.Curve == elliptic.P521()
	case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
		return k.rsa != nil
	case "EdDSA":
		return k.ed != nil
	}
	return false
}

// verify checks sig over input with k for alg. The caller has checked
// k.fits(alg).
func (k *publicKey) verify(alg string, input string, sig []byte) bool {
	switch alg {
	case "ES256":
		h := sha256.Sum256([]byte(input))
		return verifyECDSA(k.ec, h[:], sig, 32)
	case "ES384":
		h := sha512.Sum384([]byte(input))
		return verifyECDSA(k.ec, h[:], sig, 48)
	case "ES512":
		h := sha512.Sum512([]byte(input))
		return verifyECDSA(k.ec, h[:], sig, 66)
	case "RS256", "PS256":
		h := sha256.Sum256([]byte(input))
		return verifyRSA(k.rsa, alg, crypto.SHA256, h[:], sig)
	case "RS384", "PS384":
		h := sha512.Sum384([]byte(input))
		return verifyRSA(k.rsa, alg, crypto.SHA384, h[:], sig)
	case "RS512", "PS512":
		h := sha512.Sum512([]byte(input))
		return verifyRSA(k.rsa, alg, crypto.SHA512, h[:], sig)
	case "EdDSA":
		return len(sig) == ed25519.SignatureSize && ed25519.Verify(k.ed, []byte(input), sig)
	}
	return false
}

// verifyECDSA checks a JWS ECDSA signature, the fixed-width big-endian
// concatenation R || S (RFC 7518 §3.4).
func verifyECDSA(pub *ecdsa.PublicKey, hash, sig []byte, size int) bool {
	if len(sig) != 2*size {
		return false
	}
	var r, s big.Int
	r.SetBytes(sig[:size])
	s.SetBytes(sig[size:])
	return ecdsa.Verify(pub, hash, &r, &s)
}

func verifyRSA(pub *rsa.PublicKey, alg string, h crypto.Hash, hash, sig []byte) bool {
	if alg[0] == 'P' {
		// RFC 7518 §3.5: the salt is as long as the hash.
		return rsa.VerifyPSS(pub, h, hash, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}) == nil
	}
	return rsa.VerifyPKCS1v15(pub, h, hash, sig) == nil
}
