package oauth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/keys"
)

// signer is fosite's jwt.Signer over the key ring, for one kind of token:
// RFC 9068 access tokens ("typ":"at+jwt") or, with idTokens, OpenID Connect
// ID tokens ("typ":"JWT"). Unlike fosite's DefaultSigner it verifies with
// the key a token names by kid, so tokens signed before a rotation keep
// verifying, it handles Ed25519, and it refuses a token of the other kind
// (RFC 8725 section 3.11).
type signer struct {
	ring     *keys.Ring
	idTokens bool
}

var _ jwt.Signer = (*signer)(nil)

// Generate signs claims with the active key. The header is always
// {"alg","kid","typ"}; fosite's header map carries nothing else.
func (s *signer) Generate(_ context.Context, claims jwt.MapClaims, _ jwt.Mapper) (string, string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", "", fmt.Errorf("encode claims: %w", err)
	}
	sign := s.ring.SignAccessToken
	if s.idTokens {
		sign = s.ring.SignIDToken
	}
	token, err := sign(payload)
	if err != nil {
		return "", "", err
	}
	return token, token[strings.LastIndexByte(token, '.')+1:], nil
}

// Decode verifies the signature by kid and the typ header, and returns the
// claims for fosite's checks, which look at exp only (see below).
func (s *signer) Decode(_ context.Context, token string) (*jwt.Token, error) {
	v, err := s.ring.Verify(token)
	if err != nil {
		return nil, err
	}
	if s.idTokens && v.Type != keys.IDTokenType || !s.idTokens && !isAccessTokenType(v.Type) {
		return nil, keys.ErrWrongType
	}
	claims := jwt.MapClaims{}
	dec := json.NewDecoder(bytes.NewReader(v.Payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", keys.ErrMalformed, err)
	}
	if !s.idTokens {
		// fosite checks iat and nbf with no leeway against the wall
		// clock, so a token from an instance whose clock runs a second
		// ahead would be inactive here. Gatehouse's own check
		// (verifyAccessToken) has already judged them with leeway;
		// fosite keeps the exp check.
		delete(claims, "iat")
		delete(claims, "nbf")
	}
	return &jwt.Token{Header: map[string]any{"kid": v.KeyID, "typ": v.Type}, Claims: claims}, nil
}

// Validate verifies token and returns its signature.
func (s *signer) Validate(ctx context.Context, token string) (string, error) {
	t, err := s.Decode(ctx, token)
	if err != nil {
		return "", err
	}
	if err := t.Claims.Valid(); err != nil {
		return "", err
	}
	return s.GetSignature(ctx, token)
}

func (s *signer) Hash(_ context.Context, in []byte) ([]byte, error) {
	sum := sha256.Sum256(in)
	return sum[:], nil
}

func (s *signer) GetSignature(_ context.Context, token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", errors.New("token is not a compact JWS")
	}
	return parts[2], nil
}

func (s *signer) GetSigningMethodLength(context.Context) int { return sha256.Size }

// isAccessTokenType accepts "at+jwt" and its media-type form (RFC 9068
// section 2.1), case-insensitively.
func isAccessTokenType(typ string) bool {
	return strings.EqualFold(typ, keys.AccessTokenType) || strings.EqualFold(typ, "application/"+keys.AccessTokenType)
}
