package oauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
)

// Refresh tokens (design D3) are
//
//	ghr1.<family>.<generation>.<family secret>.<token secret>
//
// with both secrets 256 bits from crypto/rand, base64url. Every token of a
// family carries the same family secret, so a token presented after it was
// rotated proves that its presenter holds a genuine token of the family
// (RFC 9700 section 4.14.2 reuse), while a family id alone, which access
// tokens carry as "fid", proves nothing. Stores keep only SHA-256 digests
// of the two secrets; no key is involved, so rotating the master secrets
// leaves refresh tokens valid. The format is opaque to clients.
const refreshTokenPrefix = "ghr1."

const (
	refreshSecretBytes = 32
	// maxFamilyIDLen bounds the family id; fosite's request ids are
	// 36-character UUIDs.
	maxFamilyIDLen = 64
)

var b64 = base64.RawURLEncoding

// refreshToken is a parsed refresh token.
type refreshToken struct {
	family               string
	generation           int64
	familySecret, secret []byte
}

func (t refreshToken) String() string {
	return refreshTokenPrefix + t.family + "." + strconv.FormatInt(t.generation, 10) + "." +
		b64.EncodeToString(t.familySecret) + "." + b64.EncodeToString(t.secret)
}

// signature is what fosite hands the storage adapter for a token: its
// family, generation and the digests of its secrets, never the secrets.
func (t refreshToken) signature() string {
	fd, td := sha256.Sum256(t.familySecret), sha256.Sum256(t.secret)
	return t.family + "." + strconv.FormatInt(t.generation, 10) + "." +
		b64.EncodeToString(fd[:]) + "." + b64.EncodeToString(td[:])
}

// parseRefreshToken parses s; anything else than a well-formed token of
// this format (an older format, a truncated token, stray bytes) is false.
func parseRefreshToken(s string) (refreshToken, bool) {
	rest, ok := strings.CutPrefix(s, refreshTokenPrefix)
	if !ok {
		return refreshToken{}, false
	}
	family, gen, a, b, ok := splitRefresh(rest)
	if !ok {
		return refreshToken{}, false
	}
	fs, err1 := b64.DecodeString(a)
	ts, err2 := b64.DecodeString(b)
	if err1 != nil || err2 != nil || len(fs) != refreshSecretBytes || len(ts) != refreshSecretBytes {
		return refreshToken{}, false
	}
	return refreshToken{family: family, generation: gen, familySecret: fs, secret: ts}, true
}

// refreshSignature is a parsed signature.
type refreshSignature struct {
	family                    string
	generation                int64
	familyDigest, tokenDigest []byte
}

func parseRefreshSignature(s string) (refreshSignature, bool) {
	family, gen, a, b, ok := splitRefresh(s)
	if !ok {
		return refreshSignature{}, false
	}
	fd, err1 := b64.DecodeString(a)
	td, err2 := b64.DecodeString(b)
	if err1 != nil || err2 != nil || len(fd) != sha256.Size || len(td) != sha256.Size {
		return refreshSignature{}, false
	}
	return refreshSignature{family: family, generation: gen, familyDigest: fd, tokenDigest: td}, true
}

// splitRefresh splits "family.generation.a.b", checking the family's
// characters and that the generation is a positive decimal.
func splitRefresh(s string) (family string, gen int64, a, b string, ok bool) {
	parts := strings.Split(s, ".")
	if len(parts) != 4 || !validFamilyID(parts[0]) {
		return "", 0, "", "", false
	}
	gen, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || gen < 1 || parts[1] != strconv.FormatInt(gen, 10) {
		return "", 0, "", "", false
	}
	return parts[0], gen, parts[2], parts[3], true
}

func validFamilyID(id string) bool {
	if id == "" || len(id) > maxFamilyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func randomSecret() ([]byte, error) {
	b := make([]byte, refreshSecretBytes)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("oauth: random refresh secret: %w", err)
	}
	return b, nil
}

// tokenStrategy is the strategy fosite's handlers use: fosite's JWT
// strategy for access tokens (RFC 9068 through Gatehouse's signer), and
// Gatehouse's own refresh tokens, defined on this type and so taking
// precedence over the embedded strategy's.
type tokenStrategy struct {
	*oauth2.DefaultJWTStrategy
	// idTokens makes ID tokens (idtoken.go).
	idTokens *openid.DefaultStrategy
	now      func() time.Time
}

var (
	_ oauth2.CoreStrategy               = tokenStrategy{}
	_ openid.OpenIDConnectTokenStrategy = tokenStrategy{}
)

// GenerateIDToken makes an ID token with fosite's OpenID Connect strategy
// and Gatehouse's ID-token signer.
func (s tokenStrategy) GenerateIDToken(ctx context.Context, lifespan time.Duration, r fosite.Requester) (string, error) {
	return s.idTokens.GenerateIDToken(ctx, lifespan, r)
}

// RefreshTokenSignature is the token's signature for storage; a string that
// is not a refresh token of this format has the empty signature, which no
// family matches.
func (s tokenStrategy) RefreshTokenSignature(_ context.Context, token string) string {
	t, ok := parseRefreshToken(token)
	if !ok {
		return ""
	}
	return t.signature()
}

// GenerateRefreshToken makes the next token of r's family: on a refresh,
// the successor of the presented token (same family secret, next
// generation), which the storage adapter has verified to be the family's
// current token before fosite gets here; otherwise the first token of a
// new family named by r's id.
func (s tokenStrategy) GenerateRefreshToken(_ context.Context, r fosite.Requester) (token, signature string, err error) {
	t := refreshToken{family: r.GetID(), generation: 1}
	if ar, ok := r.(fosite.AccessRequester); ok && ar.GetGrantTypes().ExactOne("refresh_token") {
		old, ok := parseRefreshToken(r.GetRequestForm().Get("refresh_token"))
		if !ok || old.family != t.family {
			return "", "", fmt.Errorf("oauth: refresh of family %s without a token of it", t.family)
		}
		t.familySecret, t.generation = old.familySecret, old.generation+1
	} else if !validFamilyID(t.family) {
		return "", "", fmt.Errorf("oauth: request id %q cannot name a refresh family", t.family)
	} else if t.familySecret, err = randomSecret(); err != nil {
		return "", "", err
	}
	if t.secret, err = randomSecret(); err != nil {
		return "", "", err
	}
	return t.String(), t.signature(), nil
}

// ValidateRefreshToken checks the expiry the storage adapter put in the
// session: the family's idle or absolute end. Which token is current, and
// whether the family is revoked, the adapter has checked.
func (s tokenStrategy) ValidateRefreshToken(_ context.Context, r fosite.Requester, _ string) error {
	exp := r.GetSession().GetExpiresAt(fosite.RefreshToken)
	if exp.IsZero() || !s.now().Before(exp) {
		return fosite.ErrTokenExpired.WithHint("The refresh token expired.")
	}
	return nil
}
