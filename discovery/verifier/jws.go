package verifier

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/go-jose/go-jose/v4"
)

// signedToken is a compact JWS (RFC 7515 §7.1) parsed by go-jose, with the
// protected header parameters the verifier acts on. Nothing is verified yet.
// "jku", "x5u", "jwk" and "x5c" are never read: keys come only from the
// issuer's JWKS.
type signedToken struct {
	jws           *jose.JSONWebSignature
	alg, kid, typ string
}

// parseSigned parses token with go-jose, accepting only the algorithms in
// algs (go-jose refuses any other "alg" before looking further), and applies
// the header rules go-jose leaves to its caller:
//
//   - a header name that differs from a registered one only by case, or is
//     written with escapes, is refused (RFC 7515 §4: names are
//     case-sensitive; no honest issuer disguises them);
//   - "crit" and "b64" are refused (RFC 7515 §4.1.11: extensions the
//     verifier does not implement; RFC 7797 "b64" changes what is signed);
//   - "typ", when present, must be a string (RFC 7515 §4.1.9);
//   - the payload must not be empty.
func parseSigned(token string, algs []jose.SignatureAlgorithm) (signedToken, error) {
	var st signedToken
	if strings.Count(token, ".") != 2 {
		// Five parts would be a JWE (RFC 7516 §7.1); access tokens are JWS.
		return st, fmt.Errorf("%w: want three dot-separated parts", ErrMalformed)
	}
	if h, _, ok := strings.Cut(token, "."); ok {
		// go-jose decodes the header into a map, so it reads names
		// exactly; this guard only refuses disguised names, which a
		// case-insensitive decoder elsewhere could read differently.
		if raw, err := base64.RawURLEncoding.DecodeString(h); err == nil {
			if err := checkHeaderNames(raw); err != nil {
				return st, err
			}
		}
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		var algErr *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &algErr) {
			if algErr.Got == "" {
				return st, fmt.Errorf("%w: header has no alg", ErrMalformed)
			}
			return st, fmt.Errorf("%w: %q", ErrAlgorithm, truncate(string(algErr.Got)))
		}
		return st, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	hdr := jws.Signatures[0].Protected
	for _, name := range [...]jose.HeaderKey{"crit", "b64"} {
		if _, ok := hdr.ExtraHeaders[name]; ok {
			return st, ErrUnsupportedHeader
		}
	}
	if t, ok := hdr.ExtraHeaders[jose.HeaderType]; ok {
		if st.typ, ok = t.(string); !ok {
			return st, fmt.Errorf("%w: typ is not a string", ErrMalformed)
		}
	}
	if len(jws.UnsafePayloadWithoutVerification()) == 0 {
		return st, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	st.jws, st.alg, st.kid = jws, hdr.Algorithm, hdr.KeyID
	return st, nil
}

// verify checks the signature with the first of keys that verifies it and
// returns the payload; go-jose checks the key's type and curve against the
// algorithm (RFC 7518 §3.1, RFC 8037 §3.1).
func (st signedToken) verify(keys []*publicKey) ([]byte, error) {
	for _, k := range keys {
		if payload, err := st.jws.Verify(k.key); err == nil {
			return payload, nil
		}
	}
	return nil, ErrSignature
}

// checkHeaderNames scans the top-level names of a JOSE header (a JSON
// object) and refuses, as ErrMalformed, a name that equals one the verifier
// reads or refuses ("alg", "kid", "typ", "crit", "b64") only under case
// folding, and a name written with escapes
// (which could spell one in disguise). It also refuses "crit" and "b64"
// whatever their value, null included. Anything it cannot follow is left
// for go-jose to reject.
func checkHeaderNames(raw []byte) error {
	names := [...]string{"alg", "kid", "typ", "crit", "b64"}
	depth := 0
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
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
			if string(s) == "crit" || string(s) == "b64" {
				return ErrUnsupportedHeader
			}
			for _, n := range names {
				if len(s) == len(n) && string(s) != n && strings.EqualFold(string(s), n) {
					return fmt.Errorf("%w: header name %q is not %q", ErrMalformed, s, n)
				}
			}
			if bytes.IndexByte(s, '\\') >= 0 {
				// An escaped name could spell a registered one.
				return fmt.Errorf("%w: escaped header name %q", ErrMalformed, truncate(string(s)))
			}
		}
	}
	return nil
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
