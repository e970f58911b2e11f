package verifier

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// Claims are the verified claims of an access token (RFC 9068 §2.2).
// Treat a Claims as read-only: with the token cache enabled, its slices and
// Extra map are shared between requests that present the same token.
type Claims struct {
	Issuer    string    `json:"iss"`
	Subject   string    `json:"sub,omitempty"`
	Audience  []string  `json:"aud"`
	Expiry    time.Time `json:"exp"`
	NotBefore time.Time `json:"nbf,omitzero"`
	IssuedAt  time.Time `json:"iat,omitzero"`
	// ID is the "jti" claim (RFC 7519 §4.1.7).
	ID string `json:"jti,omitempty"`
	// ClientID is the OAuth client the token was issued to (RFC 9068
	// §2.2, RFC 8693 §4.3).
	ClientID string `json:"client_id,omitempty"`
	// Scopes is the space-separated "scope" claim split into its tokens
	// (RFC 9068 §2.2.3, RFC 8693 §4.2), or the claim Config.ScopeClaims
	// names (Entra ID's and Okta's "scp").
	Scopes []string `json:"scope,omitempty"`
	// ScopeClaim names the claim Scopes was read from, "" when the token
	// has none: a present but empty claim grants no scope, which is not
	// the same as a token that says nothing about scopes.
	ScopeClaim string `json:"-"`
	// Roles is the "roles" claim (RFC 9068 §2.2.3.1, RFC 7643 §4.1.2), or
	// the claim at Config.RolesClaim, mapped through Config.RoleMap.
	Roles []string `json:"roles,omitempty"`
	// Extra holds every other claim (a nested roles claim stays here,
	// unmapped, inside its parent object), decoded as encoding/json decodes
	// into an any (numbers are float64).
	Extra map[string]any `json:"extra,omitempty"`
}

// HasScope reports whether the token grants scope.
func (c *Claims) HasScope(scope string) bool { return slices.Contains(c.Scopes, scope) }

// HasRole reports whether the token carries role.
func (c *Claims) HasRole(role string) bool { return slices.Contains(c.Roles, role) }

// claimRules say where a Verifier reads roles and scopes. The zero value
// is not useful; defaultClaimRules gives today's Gatehouse rules.
type claimRules struct {
	roles   ClaimPath         // Config.RolesClaim
	roleMap map[string]string // Config.RoleMap; empty keeps roles as they are
	scopes  []string          // Config.ScopeClaims, in order of precedence
}

// defaultClaimRules reads Gatehouse's tokens: roles from the root "roles"
// claim, scopes from "scope", no role mapping.
func defaultClaimRules() claimRules {
	return claimRules{roles: DefaultRolesClaim(), scopes: DefaultScopeClaims()}
}

// decodeClaims decodes a JWT claims set (RFC 7519 §4) with the default
// rules; see claimRules.decode.
func decodeClaims(payload []byte) (*Claims, error) { return defaultClaimRules().decode(payload) }

// decode decodes a JWT claims set (RFC 7519 §4). It checks the types of the
// registered claims it knows, of the roles claim and of the scope claim it
// reads, but not their values. A roles or scope claim of the wrong type
// makes the whole token malformed (ErrMalformed), as an "aud" of the wrong
// type does: a token whose issuer says something the service cannot read is
// refused, not admitted with fewer roles.
func (r claimRules) decode(payload []byte) (*Claims, error) {
	var m map[string]any
	if err := json.Unmarshal(payload, &m); err != nil {
		return nil, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: claims are not a JSON object", ErrMalformed)
	}
	c := new(Claims)
	scopeClaim, err := r.readScopes(m, c)
	c.ScopeClaim = scopeClaim
	if err != nil {
		return nil, err
	}
	if c.Roles, err = r.readRoles(m); err != nil {
		return nil, err
	}
	// The claims read whole into Scopes and Roles leave Extra, and so do
	// null scope claims, which count as absent; a nested roles claim stays
	// in Extra inside its parent object.
	for _, name := range r.scopes {
		if v, ok := m[name]; ok && (v == nil || name == scopeClaim) {
			delete(m, name)
		}
	}
	if len(r.roles) == 1 {
		delete(m, r.roles[0])
	}
	for name, v := range m {
		if v == nil {
			// A null registered claim counts as absent; a null custom
			// claim stays in Extra.
			switch name {
			case "iss", "sub", "jti", "client_id", "aud", "exp", "nbf", "iat":
				delete(m, name)
			}
			continue
		}
		switch name {
		case "iss":
			c.Issuer, err = claimString(name, v)
		case "sub":
			c.Subject, err = claimString(name, v)
		case "jti":
			c.ID, err = claimString(name, v)
		case "client_id":
			c.ClientID, err = claimString(name, v)
		case "aud":
			// RFC 7519 §4.1.3: a string or an array of strings.
			c.Audience, err = claimStrings(name, v, false)
		case "exp":
			c.Expiry, err = claimTime(name, v)
		case "nbf":
			c.NotBefore, err = claimTime(name, v)
		case "iat":
			c.IssuedAt, err = claimTime(name, v)
		default:
			continue
		}
		if err != nil {
			return nil, err
		}
		delete(m, name)
	}
	if len(m) > 0 {
		c.Extra = m
	}
	return c, nil
}

// readScopes sets c.Scopes from the first of r.scopes that is present and
// not null, and returns its name. Later claims are ignored, never merged:
// a second claim cannot widen the first. A string is split on spaces (RFC
// 8693 §4.2, RFC 9068 §2.2.3); an array of strings is taken as it is.
func (r claimRules) readScopes(m map[string]any, c *Claims) (string, error) {
	for _, name := range r.scopes {
		if v := m[name]; v != nil {
			var err error
			c.Scopes, err = claimStrings(name, v, true)
			return name, err
		}
	}
	return "", nil
}

// readRoles reads the roles at r.roles, an array of strings or a
// space-separated string, and maps them through r.roleMap. A missing or
// null claim means no roles.
func (r claimRules) readRoles(m map[string]any) ([]string, error) {
	v, ok, err := r.roles.lookup(m)
	if err != nil || !ok {
		return nil, err
	}
	roles, err := claimStrings(truncate(r.roles.String()), v, true)
	if err != nil {
		return nil, err
	}
	return MapRoles(roles, r.roleMap), nil
}

func claimString(name string, v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%w: claim %q is not a string", ErrMalformed, name)
	}
	return s, nil
}

// claimStrings decodes a string or an array of strings. With split, a
// string is split on spaces.
func claimStrings(name string, v any, split bool) ([]string, error) {
	switch v := v.(type) {
	case string:
		if split {
			return strings.Fields(v), nil
		}
		return []string{v}, nil
	case []any:
		out := make([]string, len(v))
		for i, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, fmt.Errorf("%w: claim %q has a non-string element", ErrMalformed, name)
			}
			out[i] = s
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: claim %q is not a string or an array of strings", ErrMalformed, name)
}

// maxNumericDate is the year 9999; later dates are refused as nonsense.
const maxNumericDate = 253402300799

// claimTime decodes a NumericDate (RFC 7519 §2): seconds since the epoch,
// possibly fractional.
func claimTime(name string, v any) (time.Time, error) {
	f, ok := v.(float64)
	if !ok || math.IsNaN(f) || f < 0 || f > maxNumericDate {
		return time.Time{}, fmt.Errorf("%w: claim %q is not a NumericDate", ErrMalformed, name)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), nil
}

// Expected is what ValidateClaims checks a token's claims against.
type Expected struct {
	// Issuer must equal "iss" byte for byte (RFC 7519 §4.1.1, RFC 9068
	// §4). Required: an empty Issuer refuses every token.
	Issuer string
	// Audience, when set, must be one of the "aud" values (RFC 7519
	// §4.1.3, RFC 9068 §4). Introspection leaves it empty: its caller is
	// not the token's audience (RFC 7662 §2.1).
	Audience string
	// Audiences are further accepted audiences: "aud" must contain
	// Audience or one of these.
	Audiences []string
	// Leeway is the clock skew tolerated on "exp", "nbf" and "iat" (RFC
	// 7519 §4.1.4 to §4.1.6); a negative value counts as zero. Callers
	// take it from their configuration, whose default is DefaultLeeway.
	Leeway time.Duration
}

// ValidateClaims is Gatehouse's one check of a token's registered claims,
// shared by the Verifier (and so by services and the admin API) and by the
// token server's introspection. At now, it requires:
//
//   - "iss" equal to want.Issuer;
//   - "aud" containing want.Audience or one of want.Audiences, when
//     either is set;
//   - "exp" present, and now before exp + leeway (RFC 7519 §4.1.4);
//   - "nbf", when present, not after now + leeway (§4.1.5);
//   - "iat", when present, not after now + leeway (§4.1.6 does not forbid
//     a future iat; one further ahead than the leeway is refused as
//     implausible).
//
// Errors wrap ErrIssuer, ErrAudience, ErrMissingClaim, ErrExpired,
// ErrNotYetValid or ErrIssuedInFuture.
func ValidateClaims(c *Claims, want Expected, now time.Time) error {
	if want.Issuer == "" || c.Issuer != want.Issuer {
		return fmt.Errorf("%w: %q", ErrIssuer, truncate(c.Issuer))
	}
	if want.Audience != "" || len(want.Audiences) > 0 {
		ok := want.Audience != "" && slices.Contains(c.Audience, want.Audience)
		for _, a := range want.Audiences {
			ok = ok || slices.Contains(c.Audience, a)
		}
		if !ok && len(want.Audiences) == 0 {
			return fmt.Errorf("%w: %q not in aud", ErrAudience, truncate(want.Audience))
		}
		if !ok {
			return fmt.Errorf("%w: none of the accepted audiences in aud", ErrAudience)
		}
	}
	if c.Expiry.IsZero() {
		return fmt.Errorf("%w: exp", ErrMissingClaim)
	}
	leeway := max(want.Leeway, 0)
	if !now.Before(c.Expiry.Add(leeway)) {
		return fmt.Errorf("%w: at %s", ErrExpired, c.Expiry.UTC().Format(time.RFC3339))
	}
	if !c.NotBefore.IsZero() && now.Add(leeway).Before(c.NotBefore) {
		return fmt.Errorf("%w: until %s", ErrNotYetValid, c.NotBefore.UTC().Format(time.RFC3339))
	}
	if !c.IssuedAt.IsZero() && c.IssuedAt.After(now.Add(leeway)) {
		return fmt.Errorf("%w: at %s", ErrIssuedInFuture, c.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}
