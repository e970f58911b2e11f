package admin

import (
	"encoding/json"
	"net/mail"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Limits on admin inputs. They keep tokens small (design D1) and stores
// free of surprising values.
const (
	maxNameLen     = 128  // client names, runes
	maxIDLen       = 128  // client ids, bytes
	maxUsernameLen = 128  // runes, after normalisation
	maxRoleLen     = 64   // bytes
	maxListLen     = 64   // roles, scopes, audiences per object
	maxAudienceLen = 256  // bytes
	maxClaimName   = 64   // bytes
	maxClaimsJSON  = 4096 // bytes of the custom claims as JSON
	minPasswordLen = 8    // runes (NIST SP 800-63B section 5.1.1.2)
	maxEmailLen    = 254  // bytes (RFC 5321 section 4.5.3.1.3: a 256-byte path less its brackets)
	maxFullNameLen = 256  // runes, a user's name
	maxPasswordLen = 1024 // bytes
)

// userIDPrefix starts every user id; client ids may not start with it, so
// that revoking a client's families never matches a user's.
const userIDPrefix = "u-"

// isIDChar reports whether c may appear in a client id: RFC 3986
// unreserved characters, which need no escaping in a URL path or in HTTP
// Basic credentials.
func isIDChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~'
}

func checkClientID(id string) error {
	switch {
	case id == "":
		return fieldErr("id", "is empty")
	case len(id) > maxIDLen:
		return fieldErr("id", "is longer than %d characters", maxIDLen)
	case strings.HasPrefix(id, userIDPrefix):
		return fieldErr("id", "may not start with %q, which is reserved for user ids", userIDPrefix)
	}
	for i := 0; i < len(id); i++ {
		if !isIDChar(id[i]) {
			return fieldErr("id", "may contain only letters, digits and - . _ ~")
		}
	}
	return nil
}

func checkName(name string) error {
	switch {
	case name == "":
		return fieldErr("name", "is required")
	case !utf8.ValidString(name):
		return fieldErr("name", "is not valid UTF-8")
	case utf8.RuneCountInString(name) > maxNameLen:
		return fieldErr("name", "is longer than %d characters", maxNameLen)
	case strings.TrimSpace(name) != name:
		return fieldErr("name", "has leading or trailing spaces")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fieldErr("name", "contains control characters")
	}
	return nil
}

// checkRole allows 1-64 letters, digits and - . _ : starting with a letter
// or digit, so that roles read the same in every token, log and shell.
func checkRole(field, role string) error {
	if role == "" {
		return fieldErr(field, "has an empty role")
	}
	if len(role) > maxRoleLen {
		return fieldErr(field, "role %q is longer than %d characters", role, maxRoleLen)
	}
	for i := 0; i < len(role); i++ {
		c := role[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			i > 0 && (c == '-' || c == '.' || c == '_' || c == ':')
		if !ok {
			return fieldErr(field, "role %q: use letters, digits and - . _ : (starting with a letter or digit)", role)
		}
	}
	return nil
}

// cleanList checks every element with check, drops duplicates keeping the
// first, and returns a non-nil slice.
func cleanList(field string, in []string, check func(string) error) ([]string, error) {
	if len(in) > maxListLen {
		return nil, fieldErr(field, "has more than %d entries", maxListLen)
	}
	out := make([]string, 0, len(in))
	for _, v := range in {
		if err := check(v); err != nil {
			return nil, err
		}
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out, nil
}

func (s *Service) cleanRoles(field string, roles []string) ([]string, error) {
	return cleanList(field, roles, func(r string) error { return checkRole(field, r) })
}

func (s *Service) cleanGrantTypes(gts []string) ([]string, error) {
	out, err := cleanList("grant_types", gts, func(gt string) error {
		if !slices.Contains(s.grantTypes, gt) {
			return fieldErr("grant_types", "grant type %q is not served (known: %s)", gt, strings.Join(s.grantTypes, ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fieldErr("grant_types", "at least one grant type is required")
	}
	if slices.Contains(out, "refresh_token") && !slices.Contains(out, "password") && !slices.Contains(out, "authorization_code") {
		return nil, fieldErr("grant_types", "refresh_token needs a grant that issues refresh tokens (password or authorization_code)")
	}
	return out, nil
}

func (s *Service) cleanScopes(scopes []string) ([]string, error) {
	return cleanList("scopes", scopes, func(sc string) error {
		if !slices.Contains(s.scopes, sc) {
			return fieldErr("scopes", "scope %q is not known to the server (known: %s)", sc, strings.Join(s.scopes, ", "))
		}
		return nil
	})
}

func cleanAudiences(auds []string) ([]string, error) {
	return cleanList("audiences", auds, func(a string) error {
		switch {
		case a == "":
			return fieldErr("audiences", "has an empty audience")
		case len(a) > maxAudienceLen:
			return fieldErr("audiences", "audience is longer than %d characters", maxAudienceLen)
		case !utf8.ValidString(a) || strings.IndexFunc(a, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			// The token endpoint's audience parameter is space-separated.
			return fieldErr("audiences", "audience %q contains spaces or control characters", a)
		}
		return nil
	})
}

// cleanClaims refuses names that would shadow a registered or Gatehouse
// claim (design D1) and bounds the claims' size.
func cleanClaims(claims map[string]any) (map[string]any, error) {
	if len(claims) == 0 {
		return nil, nil
	}
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		switch {
		case k == "":
			return nil, fieldErr("claims", "has an empty claim name")
		case len(k) > maxClaimName:
			return nil, fieldErr("claims", "claim name %q is longer than %d characters", k, maxClaimName)
		case !utf8.ValidString(k) || strings.IndexFunc(k, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
			return nil, fieldErr("claims", "claim name %q contains spaces or control characters", k)
		case oauth.IsReservedClaim(k):
			return nil, fieldErr("claims."+k, "%q is a reserved claim and cannot be set", k)
		}
	}
	b, err := json.Marshal(claims)
	if err != nil {
		return nil, fieldErr("claims", "cannot be encoded as JSON: %v", err)
	}
	if len(b) > maxClaimsJSON {
		return nil, fieldErr("claims", "are %d bytes as JSON; the limit is %d", len(b), maxClaimsJSON)
	}
	// Store what a token will carry: the JSON round trip.
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fieldErr("claims", "cannot be decoded: %v", err)
	}
	for _, k := range names {
		if !validJSONText(out[k]) {
			return nil, fieldErr("claims."+k, "contains a NUL character")
		}
	}
	return out, nil
}

func checkTokenLifetime(seconds int64) (time.Duration, error) {
	if seconds == 0 {
		return 0, nil
	}
	if seconds < int64(MinTokenLifetime/time.Second) || seconds > int64(MaxTokenLifetime/time.Second) {
		return 0, fieldErr("token_lifetime_seconds", "must be 0 (the server default) or between %d and %d seconds",
			int64(MinTokenLifetime/time.Second), int64(MaxTokenLifetime/time.Second))
	}
	return time.Duration(seconds) * time.Second, nil
}

// normalizeUsername returns the stored form of a username (oauth's: NFC,
// Unicode case folding) and checks it.
func normalizeUsername(username string) (string, error) {
	if !utf8.ValidString(username) {
		return "", fieldErr("username", "is not valid UTF-8")
	}
	n := oauth.NormalizeUsername(username)
	switch {
	case n == "":
		return "", fieldErr("username", "is required")
	case utf8.RuneCountInString(n) > maxUsernameLen:
		return "", fieldErr("username", "is longer than %d characters", maxUsernameLen)
	}
	for _, r := range n {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune("._@+-", r) {
			return "", fieldErr("username", "may contain only letters, digits and . _ @ + - (found %q)", r)
		}
	}
	return n, nil
}

// maxLookupUsername bounds a username looked up (bytes): no stored name
// is longer.
const maxLookupUsername = 1024

// lookupUsername is the stored form of a username to look up: normalized
// only, for stored names need not pass the rules of normalizeUsername
// (a connector's provisioned "<connector>/<name>").
func lookupUsername(username string) (string, error) {
	n := oauth.NormalizeUsername(username)
	switch {
	case !storage.ValidText(username):
		return "", fieldErr("username", "is not text")
	case n == "":
		return "", fieldErr("username", "is required")
	case len(n) > maxLookupUsername:
		return "", fieldErr("username", "is longer than %d bytes", maxLookupUsername)
	}
	return n, nil
}

func checkPassword(field, pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return fieldErr(field, "is not valid UTF-8")
	case utf8.RuneCountInString(pw) < minPasswordLen:
		return fieldErr(field, "must be at least %d characters", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return fieldErr(field, "must be at most %d bytes", maxPasswordLen)
	case strings.ContainsRune(pw, 0):
		return fieldErr(field, "contains a NUL character")
	}
	return nil
}

// checkProfile checks a user's optional profile claims: email is an
// address only (RFC 5322 addr-spec, as net/mail parses it, with no display
// name, comment or surrounding space); email_verified needs an email; name
// is printable text.
func checkProfile(email string, verified bool, name string) error {
	if email != "" {
		if len(email) > maxEmailLen || !utf8.ValidString(email) {
			return fieldErr("email", "must be valid UTF-8 of at most %d bytes", maxEmailLen)
		}
		a, err := mail.ParseAddress(email)
		if err != nil || a.Name != "" || a.Address != email {
			return fieldErr("email", "%q is not an email address (write only the address, such as alice@example.com)", email)
		}
	} else if verified {
		return fieldErr("email_verified", "needs an email")
	}
	switch {
	case !utf8.ValidString(name):
		return fieldErr("name", "is not valid UTF-8")
	case utf8.RuneCountInString(name) > maxFullNameLen:
		return fieldErr("name", "is longer than %d characters", maxFullNameLen)
	case strings.TrimSpace(name) != name:
		return fieldErr("name", "has leading or trailing spaces")
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fieldErr("name", "contains control characters")
	}
	return nil
}

func checkGrace(seconds int64) (time.Duration, error) {
	if seconds < 0 || seconds > int64(MaxSecretGrace/time.Second) {
		return 0, fieldErr("grace_seconds", "must be between 0 and %d seconds", int64(MaxSecretGrace/time.Second))
	}
	return time.Duration(seconds) * time.Second, nil
}

// generatePassword returns a random password of 26 base32 characters
// (130 bits).
func generatePassword() string { return newID("") }
