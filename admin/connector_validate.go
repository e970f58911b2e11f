package admin

import (
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Bounds on connectors.
const (
	// DefaultConnectorTimeout bounds each call to an upstream when a
	// connector sets no timeout; MaxConnectorTimeout is the most one may.
	DefaultConnectorTimeout = 10 * time.Second
	MaxConnectorTimeout     = 60 * time.Second
	maxConnectorIDLen       = 63
	maxConnectorSecretLen   = 1024
	maxSettingLen           = 1024 // a DN, a filter, a client id, bytes
	maxRoleMapLen           = 256
	maxDomainLen            = 253
)

func checkConnectorID(id string) error {
	if id == "" || len(id) > maxConnectorIDLen {
		return fieldErr("id", "must be 1-%d characters", maxConnectorIDLen)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || i > 0 && c == '-') {
			return fieldErr("id", "%q: use lower-case letters, digits and - (starting with a letter or digit)", id)
		}
	}
	return nil
}

// checkSetting refuses a setting no store or upstream protocol can hold:
// invalid UTF-8, NUL or other control characters, an over-long value, and,
// when required, an empty one.
func checkSetting(field, v string, required bool) error {
	switch {
	case v == "" && required:
		return fieldErr(field, "is required")
	case len(v) > maxSettingLen:
		return fieldErr(field, "is longer than %d bytes", maxSettingLen)
	case !storage.ValidText(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fieldErr(field, "is not valid UTF-8 or contains control characters")
	}
	return nil
}

// checkUpstreamURL checks an issuer or directory URL: one of schemes, no
// user information, query or fragment; a plain scheme (http, ldap) only
// on a loopback host unless insecureOK.
func checkUpstreamURL(field, raw string, secure, plain string, insecureOK bool) error {
	if err := checkSetting(field, raw, true); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || strings.Contains(raw, "#") {
		return fieldErr(field, "%q must be an absolute %s:// URL without user, query or fragment", raw, secure)
	}
	switch u.Scheme {
	case secure:
	case plain:
		if !insecureOK && !loopbackHost(u.Hostname()) {
			return fieldErr(field, "%q: %s:// is allowed only on a loopback address; use %s://", raw, plain, secure)
		}
	default:
		return fieldErr(field, "%q must use %s://", raw, secure)
	}
	return nil
}

func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// isScopeToken reports whether s is an RFC 6749 section 3.3 scope-token.
func isScopeToken(s string) bool {
	if s == "" || len(s) > maxRoleLen*2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c == 0x22 || c == 0x5c || c > 0x7e {
			return false
		}
	}
	return true
}

func cleanOIDCSettings(o *storage.OIDCSettings) (*storage.OIDCSettings, error) {
	c := *o
	if err := checkUpstreamURL("oidc.issuer", c.Issuer, "https", "http", false); err != nil {
		return nil, err
	}
	if err := checkSetting("oidc.client_id", c.ClientID, true); err != nil {
		return nil, err
	}
	scopes, err := cleanList("oidc.scopes", c.Scopes, func(s string) error {
		if !isScopeToken(s) {
			return fieldErr("oidc.scopes", "%q is not a scope token (RFC 6749 section 3.3)", s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !slices.Contains(scopes, "openid") {
		scopes = append([]string{"openid"}, scopes...)
	}
	c.Scopes = scopes
	if c.SubjectClaim == "" {
		c.SubjectClaim = "sub"
	}
	if err := checkSetting("oidc.subject_claim", c.SubjectClaim, true); err != nil {
		return nil, err
	}
	return &c, nil
}

func cleanLDAPSettings(l *storage.LDAPSettings) (*storage.LDAPSettings, error) {
	c := *l
	if err := checkUpstreamURL("ldap.url", c.URL, "ldaps", "ldap", c.StartTLS || c.InsecureNoTLS); err != nil {
		return nil, err
	}
	if c.StartTLS && strings.HasPrefix(c.URL, "ldaps://") {
		return nil, fieldErr("ldap.start_tls", "is for ldap:// URLs; ldaps:// is TLS already")
	}
	for _, f := range []struct {
		field, v string
		required bool
	}{
		{"ldap.bind_dn", c.BindDN, false},
		{"ldap.user_base_dn", c.UserBaseDN, true},
		{"ldap.user_filter", c.UserFilter, true},
		{"ldap.subject_attribute", c.SubjectAttribute, false},
		{"ldap.username_attribute", c.UsernameAttribute, false},
		{"ldap.email_attribute", c.EmailAttribute, false},
		{"ldap.name_attribute", c.NameAttribute, false},
		{"ldap.group_base_dn", c.GroupBaseDN, false},
		{"ldap.group_filter", c.GroupFilter, false},
		{"ldap.group_name_attribute", c.GroupNameAttribute, false},
	} {
		if err := checkSetting(f.field, f.v, f.required); err != nil {
			return nil, err
		}
	}
	if !strings.Contains(c.UserFilter, "{username}") {
		return nil, fieldErr("ldap.user_filter", "must contain {username}, replaced by the escaped username")
	}
	return &c, nil
}

// cleanConnectorPolicy checks the policy fields of c in place.
func cleanConnectorPolicy(c *storage.Connector, timeoutSeconds int64) error {
	if err := checkName(c.Name); err != nil {
		return err
	}
	if c.RolesClaim != "" {
		if c.Kind != storage.ConnectorOIDC {
			return fieldErr("roles_claim", "is for oidc connectors; ldap connectors map group names")
		}
		if err := checkSetting("roles_claim", c.RolesClaim, true); err != nil {
			return err
		}
		p, err := verifier.ParseClaimPath(c.RolesClaim)
		if err != nil {
			return fieldErr("roles_claim", "%v", err)
		}
		c.RolesClaim = p.String()
	}
	if len(c.RoleMap) > maxRoleMapLen {
		return fieldErr("role_map", "has more than %d entries", maxRoleMapLen)
	}
	for from, to := range c.RoleMap {
		if err := checkSetting("role_map", from, true); err != nil {
			return err
		}
		if err := checkRole("role_map", to); err != nil {
			return err
		}
	}
	if len(c.RoleMap) == 0 {
		c.RoleMap = nil
	}
	switch {
	case c.Kind == storage.ConnectorOIDC && c.RolesClaim != "" && c.RoleMap == nil:
		return fieldErr("role_map", "is required with roles_claim: it is the allow-list of upstream roles Gatehouse takes")
	case c.Kind == storage.ConnectorOIDC && c.RolesClaim == "" && c.RoleMap != nil:
		return fieldErr("roles_claim", "is required with role_map: it says where the upstream roles are")
	}
	domains, err := cleanList("email_domains", c.EmailDomains, func(d string) error {
		if d == "" || len(d) > maxDomainLen || d != strings.ToLower(d) || strings.Trim(d, "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" ||
			strings.HasPrefix(d, ".") || strings.HasSuffix(d, ".") {
			return fieldErr("email_domains", "%q is not a lower-case domain name", d)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(domains) == 0 {
		domains = nil
	}
	c.EmailDomains = domains
	if timeoutSeconds < 0 || time.Duration(timeoutSeconds)*time.Second > MaxConnectorTimeout {
		return fieldErr("timeout_seconds", "must be 0 (the default, %v) to %d", DefaultConnectorTimeout, int64(MaxConnectorTimeout/time.Second))
	}
	c.Timeout = time.Duration(timeoutSeconds) * time.Second
	return nil
}

func checkConnectorSecret(secret string) error {
	switch {
	case len(secret) > maxConnectorSecretLen:
		return fieldErr("secret", "is longer than %d bytes", maxConnectorSecretLen)
	case !storage.ValidText(secret):
		return fieldErr("secret", "is not valid UTF-8 or contains a NUL character")
	}
	return nil
}

// checkDirectory checks an LDAP connector as its login will use it (the
// directory client's own rules: TLS unless on a loopback IP address,
// filters that parse with their placeholders, attribute names), so that
// a connector that cannot work is refused here rather than at every login.
func checkDirectory(c storage.Connector) error {
	cfg, err := oauth.DirectoryConfig(c)
	if err != nil {
		return fieldErr("ldap", "%v", err)
	}
	if cfg.BindDN != "" {
		// The bind password is a secret, checked where it is set.
		cfg.BindPassword = "set"
	}
	cfg.Timeout, cfg.ConnectTimeout = 0, 0 // checked with the policy
	if err := cfg.Validate(); err != nil {
		return fieldErr("ldap", "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
	}
	return nil
}
