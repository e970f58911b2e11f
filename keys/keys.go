package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Supported signing algorithms (RFC 7518 section 3.1, RFC 8037).
const (
	ES256 = string(jose.ES256)
	RS256 = string(jose.RS256)
	EdDSA = string(jose.EdDSA)
)

// SupportedAlgorithms returns the algorithms Gatehouse can sign with, a new
// slice on each call so that no caller can change the set. HMAC and "none"
// are never among them (RFC 8725 section 3.1).
func SupportedAlgorithms() []string { return []string{ES256, RS256, EdDSA} }

// supported reports whether alg is one of SupportedAlgorithms.
func supported(alg string) bool { return alg == ES256 || alg == RS256 || alg == EdDSA }

// AccessTokenType is the JWS "typ" of access tokens (RFC 9068 section 2.1).
const AccessTokenType = "at+jwt"

// IDTokenType is the typ header of ID tokens: "JWT", as OIDC Core 1.0
// examples and RFC 7519 section 5.1 use, distinct from AccessTokenType.
const IDTokenType = "JWT"

// Errors reported by Verify.
var (
	ErrMalformed    = errors.New("keys: malformed token")
	ErrUnknownKey   = errors.New("keys: unknown key id")
	ErrBadSignature = errors.New("keys: signature does not verify")
	ErrWrongType    = errors.New("keys: wrong token type")
	ErrNoActiveKey  = errors.New("keys: no active signing key")
)

// State is where a key is in its lifecycle.
type State string

// Key states: next (published, not signing), active (signing), retired
// (published until the tokens it signed expire).
const (
	StateNext    State = "next"
	StateActive  State = "active"
	StateRetired State = "retired"
)

// Key is one signing key with its parsed private part.
type Key struct {
	ID        string
	Algorithm string
	State     State
	CreatedAt time.Time
	// ActivatedAt and RetireAt are when a stored key started signing and
	// when it is due to be replaced (zero for keys not from a store).
	ActivatedAt time.Time
	RetireAt    time.Time

	private crypto.Signer
	// header is the base64url-encoded protected header
	// {"alg","kid","typ":"at+jwt"} followed by '.', built once per key;
	// idHeader is the same with "typ":"JWT", for ID tokens.
	header, idHeader []byte
}

// Generate makes a new key for alg with crypto/rand. Its ID is the RFC 7638
// JWK thumbprint of the public key.
func Generate(alg string) (*Key, error) {
	var priv crypto.Signer
	var err error
	switch alg {
	case ES256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, priv, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("keys: unsupported algorithm %q (want one of %v)", alg, SupportedAlgorithms())
	}
	if err != nil {
		return nil, fmt.Errorf("keys: generate %s key: %w", alg, err)
	}
	return NewKey(alg, priv)
}

// NewKey wraps an existing private key.
func NewKey(alg string, priv crypto.Signer) (*Key, error) {
	if !supported(alg) {
		return nil, fmt.Errorf("keys: unsupported algorithm %q", alg)
	}
	if err := checkKeyType(alg, priv); err != nil {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: priv.Public(), Algorithm: alg, Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("keys: thumbprint: %w", err)
	}
	kid := base64.RawURLEncoding.EncodeToString(tp)
	return &Key{ID: kid, Algorithm: alg, State: StateActive, private: priv, header: protectedHeader(alg, kid, AccessTokenType),
		idHeader: protectedHeader(alg, kid, IDTokenType)}, nil
}

func checkKeyType(alg string, priv crypto.Signer) error {
	switch k := priv.(type) {
	case *ecdsa.PrivateKey:
		if alg == ES256 && k.Curve == elliptic.P256() {
			return nil
		}
	case *rsa.PrivateKey:
		if alg == RS256 {
			if k.N.BitLen() < 2048 {
				return fmt.Errorf("keys: RSA key of %d bits is too short (minimum 2048)", k.N.BitLen())
			}
			return nil
		}
	case ed25519.PrivateKey:
		if alg == EdDSA {
			return nil
		}
	}
	return fmt.Errorf("keys: %T is not a key for %s", priv, alg)
}

// Private returns the private key. Only key persistence uses it.
func (k *Key) Private() crypto.Signer { return k.private }

// PublicJWK returns the public JWK with kid, use and alg.
func (k *Key) PublicJWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.private.Public(), KeyID: k.ID, Algorithm: k.Algorithm, Use: "sig"}
}

// Set is an immutable snapshot of the keys in force: the one that signs
// access tokens, the one that signs ID tokens, and all that are published
// for verification.
type Set struct {
	Active *Key
	// IDToken signs ID tokens: Active when it is an RS256 key, else the
	// newest active RS256 key among the published ones (OpenID Connect
	// Discovery 1.0 section 3 requires RS256 for ID tokens), else Active.
	IDToken   *Key
	Published []*Key
	jwks      []byte
	byID      map[string]*Key
}

// NewSet builds a snapshot. active may be nil (nothing signs); it is
// published too. The ID-token key is chosen as Set.IDToken says.
func NewSet(active *Key, published ...*Key) (*Set, error) {
	s := &Set{Active: active, IDToken: active, byID: map[string]*Key{}}
	all := published
	if active != nil && !slices.Contains(published, active) {
		all = append([]*Key{active}, published...)
	}
	var set jose.JSONWebKeySet
	var rs *Key
	for _, k := range all {
		if _, dup := s.byID[k.ID]; dup {
			continue
		}
		s.byID[k.ID] = k
		s.Published = append(s.Published, k)
		set.Keys = append(set.Keys, k.PublicJWK())
		if k.Algorithm == RS256 && k.State == StateActive && (rs == nil || k.ActivatedAt.After(rs.ActivatedAt)) {
			rs = k
		}
	}
	if rs != nil && (active == nil || active.Algorithm != RS256) {
		s.IDToken = rs
	}
	b, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("keys: marshal JWKS: %w", err)
	}
	s.jwks = b
	return s, nil
}

// Ring holds the current Set and swaps it atomically; readers never lock.
type Ring struct {
	set atomic.Pointer[Set]
}

// NewRing returns a ring holding set.
func NewRing(set *Set) *Ring {
	r := &Ring{}
	r.set.Store(set)
	return r
}

// NewEphemeralRing generates one active key for alg, and an RS256 key for
// ID tokens when alg is not RS256, that live only in memory (tests and
// tools; the server keeps its keys through a Manager).
func NewEphemeralRing(alg string) (*Ring, error) {
	k, err := Generate(alg)
	if err != nil {
		return nil, err
	}
	var published []*Key
	if alg != RS256 {
		id, err := Generate(RS256)
		if err != nil {
			return nil, err
		}
		published = append(published, id)
	}
	set, err := NewSet(k, published...)
	if err != nil {
		return nil, err
	}
	return NewRing(set), nil
}

// Set returns the current snapshot.
func (r *Ring) Set() *Set { return r.set.Load() }

// Store replaces the snapshot.
func (r *Ring) Store(s *Set) { r.set.Store(s) }

// JWKS returns the JSON Web Key Set document (RFC 7517 section 5) of the
// published public keys.
func (r *Ring) JWKS() []byte { return r.set.Load().jwks }

// IDTokenAlgorithms returns the algorithm ID tokens are signed with (one,
// or none when nothing signs), for the discovery document.
func (r *Ring) IDTokenAlgorithms() []string {
	if k := r.set.Load().IDToken; k != nil {
		return []string{k.Algorithm}
	}
	return nil
}

// Algorithms returns the distinct algorithms of the published keys that
// sign or signed access tokens: all but the RS256 keys kept only for ID
// tokens (Set.IDToken).
func (r *Ring) Algorithms() []string {
	var out []string
	set := r.set.Load()
	idOnly := set.IDToken != nil && set.IDToken != set.Active
	for _, k := range set.Published {
		if idOnly && k.Algorithm == RS256 {
			continue
		}
		if !slices.Contains(out, k.Algorithm) {
			out = append(out, k.Algorithm)
		}
	}
	return out
}

// SignAccessToken signs payload as a compact JWS (RFC 7515 section 7.1)
// with header {"alg", "kid", "typ":"at+jwt"} (RFC 9068 section 2.1) using
// the active key.
func (r *Ring) SignAccessToken(payload []byte) (string, error) {
	k := r.set.Load().Active
	if k == nil {
		return "", ErrNoActiveKey
	}
	return k.sign(payload)
}

// SignIDToken signs payload as a compact JWS with header {"alg", "kid",
// "typ":"JWT"} using the ID-token key (Set.IDToken): an OpenID Connect ID
// token (OIDC Core 1.0 section 2), which must never pass for an access
// token (RFC 9068 section 4 and RFC 8725 section 3.11: distinct typ
// values).
func (r *Ring) SignIDToken(payload []byte) (string, error) {
	k := r.set.Load().IDToken
	if k == nil {
		return "", ErrNoActiveKey
	}
	return k.signWith(k.idHeader, payload)
}

// Verified is a token whose signature checked out.
type Verified struct {
	KeyID   string
	Type    string
	Payload []byte
}

// Verify checks a compact JWS against the published key named by its kid,
// with the algorithm that key was made for. It does not look at claims.
func (r *Ring) Verify(token string) (Verified, error) {
	set := r.set.Load()
	jws, err := jose.ParseSigned(token, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return Verified{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(jws.Signatures) != 1 {
		return Verified{}, ErrMalformed
	}
	h := jws.Signatures[0].Protected
	k, ok := set.byID[h.KeyID]
	if !ok {
		return Verified{}, ErrUnknownKey
	}
	if h.Algorithm != k.Algorithm {
		return Verified{}, fmt.Errorf("%w: alg %q for key %s", ErrBadSignature, h.Algorithm, k.ID)
	}
	payload, err := jws.Verify(k.private.Public())
	if err != nil {
		return Verified{}, ErrBadSignature
	}
	typ, _ := h.ExtraHeaders[jose.HeaderType].(string)
	return Verified{KeyID: k.ID, Type: typ, Payload: payload}, nil
}
