package verifier

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// ClaimPath names a claim, possibly nested in JSON objects, by the claim
// names from the root of the claims set down: ClaimPath{"roles"} is the root
// "roles" claim, ClaimPath{"realm_access", "roles"} is Keycloak's
// {"realm_access": {"roles": [...]}}, and
// ClaimPath{"https://example.com/roles"} is Auth0's namespaced claim. A
// segment is a whole claim name, so dots and slashes in it mean nothing.
// Arrays are not walked into.
//
// Its string form (String, ParseClaimPath) joins the segments with "." and
// writes a segment that is empty or contains ".", `"` or `\` as a JSON string
// (RFC 8259 §7), as JMESPath quotes identifiers:
//
//	roles                              ClaimPath{"roles"}
//	realm_access.roles                 ClaimPath{"realm_access", "roles"}
//	resource_access."my.app".roles     ClaimPath{"resource_access", "my.app", "roles"}
//	"https://example.com/roles"        ClaimPath{"https://example.com/roles"}
type ClaimPath []string

// DefaultRolesClaim is the roles claim used when Config.RolesClaim is
// empty: the root "roles" claim of RFC 9068 §2.2.3.1 that Gatehouse issues.
func DefaultRolesClaim() ClaimPath { return ClaimPath{"roles"} }

// ParseClaimPath parses the string form of a ClaimPath (see ClaimPath).
func ParseClaimPath(s string) (ClaimPath, error) {
	if s == "" {
		return nil, errors.New("empty claim path")
	}
	var p ClaimPath
	for rest := s; ; {
		var seg string
		if strings.HasPrefix(rest, `"`) {
			end := quotedEnd(rest)
			if end < 0 {
				return nil, fmt.Errorf("claim path %q: unterminated quoted name", s)
			}
			if err := json.Unmarshal([]byte(rest[:end]), &seg); err != nil {
				return nil, fmt.Errorf("claim path %q: quoted name: %w", s, err)
			}
			rest = rest[end:]
			if rest != "" && rest[0] != '.' {
				return nil, fmt.Errorf("claim path %q: want \".\" after a quoted name", s)
			}
		} else {
			seg, _, _ = strings.Cut(rest, ".")
			if strings.Contains(seg, `"`) {
				return nil, fmt.Errorf("claim path %q: a name with a quote must be quoted as a whole", s)
			}
			rest = rest[len(seg):]
		}
		if seg == "" {
			return nil, fmt.Errorf("claim path %q: empty claim name", s)
		}
		if !utf8.ValidString(seg) {
			// JSON claim names are UTF-8 (RFC 8259 §8.1): this one could
			// never match.
			return nil, fmt.Errorf("claim path %q: a name is not UTF-8", s)
		}
		p = append(p, seg)
		if rest == "" {
			return p, nil
		}
		rest = rest[1:] // the "."
	}
}

// quotedEnd returns the index just after the JSON string that s starts
// with, or -1 if it is not terminated.
func quotedEnd(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return -1
}

// String returns the string form of p, which ParseClaimPath reads back.
func (p ClaimPath) String() string {
	var b strings.Builder
	for i, seg := range p {
		if i > 0 {
			b.WriteByte('.')
		}
		if seg != "" && !strings.ContainsAny(seg, `."\`) {
			b.WriteString(seg)
			continue
		}
		var q bytes.Buffer
		enc := json.NewEncoder(&q)
		enc.SetEscapeHTML(false)
		enc.Encode(seg) // a string always encodes
		b.Write(bytes.TrimSuffix(q.Bytes(), []byte("\n")))
	}
	return b.String()
}

// lookup finds the value at p in the claims m. A missing or null claim
// anywhere along p is absent (ok false, no error); a value on the way that
// is not a JSON object is an ErrMalformed error.
func (p ClaimPath) lookup(m map[string]any) (v any, ok bool, err error) {
	var cur any = m
	for i, seg := range p {
		obj, isObj := cur.(map[string]any)
		if !isObj {
			return nil, false, fmt.Errorf("%w: claim %q is not an object", ErrMalformed, truncate(p[:i].String()))
		}
		cur = obj[seg]
		if cur == nil {
			return nil, false, nil
		}
	}
	return cur, true, nil
}
