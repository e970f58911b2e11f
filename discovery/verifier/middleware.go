package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
)

// TokenVerifier verifies a bearer token; *Verifier implements it. Middleware
// takes the interface so handlers can be tested with a fake.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (*Claims, error)
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

// WithRealm sets the realm of WWW-Authenticate challenges (RFC 6750 §3).
// The default is the Verifier's audience, or "api" for other TokenVerifiers.
func WithRealm(realm string) MiddlewareOption {
	return func(m *middleware) { m.realm = realm }
}

type middleware struct {
	v     TokenVerifier
	realm string
}

// authContext is what Middleware stores in the request context.
type authContext struct {
	claims *Claims
	realm  string
}

type contextKey struct{}

// ContextWithClaims returns ctx carrying c, as Middleware does; it lets
// tests of handlers behind Middleware supply claims directly.
func ContextWithClaims(ctx context.Context, c *Claims) context.Context {
	realm := "api"
	if a, ok := ctx.Value(contextKey{}).(authContext); ok {
		realm = a.realm
	}
	return context.WithValue(ctx, contextKey{}, authContext{claims: c, realm: realm})
}

// ClaimsFromContext returns the claims Middleware verified for the request.
func ClaimsFromContext(ctx context.Context) (*Claims, bool) {
	a, ok := ctx.Value(contextKey{}).(authContext)
	return a.claims, ok && a.claims != nil
}

// Middleware returns net/http middleware that admits only requests bearing a
// valid access token in the Authorization header (RFC 6750 §2.1) and puts
// its claims in the request context (see ClaimsFromContext).
//
// Refusals carry a WWW-Authenticate challenge (RFC 6750 §3) and a JSON body:
//   - no bearer credentials: 401 with only the realm (§3.1 says no error code);
//   - a token that is malformed or fails verification: 401 invalid_token;
//   - more than one Authorization header, or an access_token query
//     parameter: 400 invalid_request (tokens in URIs leak into logs, and
//     RFC 9700 §2.4 says not to send them; this server refuses them);
//   - the issuer's keys unavailable and none cached: 503.
func Middleware(v TokenVerifier, opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m := &middleware{v: v, realm: "api"}
	if a, ok := v.(interface{ Audience() string }); ok {
		m.realm = a.Audience()
	}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			token, res := bearerToken(r)
			switch res {
			case tokenAbsent:
				WriteChallenge(w, http.StatusUnauthorized, m.realm, "", "a bearer access token is required", "")
				return
			case tokenInQuery:
				WriteChallenge(w, http.StatusBadRequest, m.realm, "invalid_request", "access tokens are accepted only in the Authorization header", "")
				return
			case tokenRepeated:
				WriteChallenge(w, http.StatusBadRequest, m.realm, "invalid_request", "more than one Authorization header", "")
				return
			case tokenMalformed:
				WriteChallenge(w, http.StatusUnauthorized, m.realm, "invalid_token", "malformed bearer token", "")
				return
			}
			claims, err := m.v.Verify(r.Context(), token)
			if err != nil {
				if errors.Is(err, ErrKeysUnavailable) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					w.Header().Set("Retry-After", "10")
					writeJSON(w, http.StatusServiceUnavailable, "temporarily_unavailable", "cannot verify tokens now")
					return
				}
				WriteChallenge(w, http.StatusUnauthorized, m.realm, "invalid_token", describe(err), "")
				return
			}
			ctx := context.WithValue(r.Context(), contextKey{}, authContext{claims: claims, realm: m.realm})
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// RequireScopes returns middleware, to be placed after Middleware, that
// admits only tokens granting every one of scopes (Claims.Scopes, read from
// Config.ScopeClaims); others get 403 insufficient_scope naming the
// required scopes (RFC 6750 §3.1).
func RequireScopes(scopes ...string) func(http.Handler) http.Handler {
	return require(hasAll((*Claims).HasScope, scopes), "the token lacks a required scope", strings.Join(scopes, " "))
}

// RequireRoles returns middleware, to be placed after Middleware, that admits
// only tokens carrying every one of roles (RFC 9068 §2.2.3.1; Claims.Roles,
// read from Config.RolesClaim through Config.RoleMap); others get 403
// insufficient_scope.
func RequireRoles(roles ...string) func(http.Handler) http.Handler {
	return require(hasAll((*Claims).HasRole, roles), "the token lacks a required role: "+strings.Join(roles, " "), "")
}

// hasAll returns a check that has(c, w) holds for every w in want.
func hasAll(has func(*Claims, string) bool, want []string) func(*Claims) bool {
	want = slices.Clone(want)
	return func(c *Claims) bool {
		for _, w := range want {
			if !has(c, w) {
				return false
			}
		}
		return true
	}
}

func require(ok func(*Claims) bool, desc, scope string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			a, _ := r.Context().Value(contextKey{}).(authContext)
			if a.claims == nil {
				// Mounted without Middleware: fail closed.
				WriteChallenge(w, http.StatusUnauthorized, "api", "", "a bearer access token is required", "")
				return
			}
			if !ok(a.claims) {
				WriteChallenge(w, http.StatusForbidden, a.realm, "insufficient_scope", desc, scope)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

type tokenResult int

const (
	tokenOK tokenResult = iota
	tokenAbsent
	tokenMalformed
	tokenInQuery
	tokenRepeated
)

// bearerToken extracts the token of an "Authorization: Bearer" header
// (RFC 6750 §2.1; the scheme is case-insensitive, RFC 9110 §11.1).
func bearerToken(r *http.Request) (string, tokenResult) {
	if strings.Contains(r.URL.RawQuery, "access_token") && r.URL.Query().Has("access_token") {
		return "", tokenInQuery
	}
	vals := r.Header.Values("Authorization")
	switch {
	case len(vals) == 0:
		return "", tokenAbsent
	case len(vals) > 1:
		return "", tokenRepeated
	}
	return parseBearer(vals[0])
}

// parseBearer parses an Authorization header value as Bearer credentials.
func parseBearer(h string) (string, tokenResult) {
	scheme, rest, _ := strings.Cut(h, " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", tokenAbsent // another scheme: no bearer credentials (§3.1)
	}
	token := strings.Trim(rest, " ")
	if !isToken68(token) {
		return "", tokenMalformed
	}
	return token, tokenOK
}

// isToken68 checks the b64token syntax of RFC 6750 §2.1:
// 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isToken68(s string) bool {
	i := 0
	for ; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' {
			continue
		}
		break
	}
	if i == 0 {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] != '=' {
			return false
		}
	}
	return true
}

// describe turns a verification error into an error_description.
func describe(err error) string {
	return strings.ReplaceAll(err.Error(), "verifier: ", "")
}

// writeError writes an RFC 6750 §3 challenge and a JSON body. An empty code
// writes a challenge with the realm only.
func WriteChallenge(w http.ResponseWriter, status int, realm, code, desc, scope string) {
	var b strings.Builder
	b.WriteString(`Bearer realm="`)
	b.WriteString(quoteSafe(realm))
	b.WriteByte('"')
	if code != "" {
		b.WriteString(`, error="` + code + `"`)
		if desc != "" {
			b.WriteString(`, error_description="` + quoteSafe(desc) + `"`)
		}
		if scope != "" {
			b.WriteString(`, scope="` + quoteSafe(scope) + `"`)
		}
	}
	w.Header().Set("WWW-Authenticate", b.String())
	if code == "" {
		code = "unauthorized"
	}
	writeJSON(w, status, code, desc)
}

func writeJSON(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{code, desc})
}

// quoteSafe keeps only the characters RFC 6750 §3 allows in
// error_description and scope (%x20-21 / %x23-5B / %x5D-7E), turning double
// quotes into single ones, so text from a token cannot break out of the
// quoted string.
func quoteSafe(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '"':
			return '\''
		case r == '\\' || r < 0x20 || r > 0x7e:
			return -1
		}
		return r
	}, s)
}
