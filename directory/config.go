package directory

import (
	"cmp"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Config is one directory's settings.
type Config struct {
	// URL is ldaps://host[:port], or ldap://host[:port] with StartTLS.
	// Plain ldap:// without StartTLS is accepted only for a loopback IP
	// address, or with InsecureNoTLS.
	URL string
	// StartTLS upgrades an ldap:// connection (RFC 4511 section 4.14)
	// before anything is sent.
	StartTLS bool
	// InsecureNoTLS allows plain ldap:// to a non-loopback host: passwords
	// cross the network in clear text.
	InsecureNoTLS bool
	// RootCAs verifies the server's certificate; nil: the system's roots.
	RootCAs *x509.CertPool

	// BindDN and BindPassword are the service account that searches;
	// both empty: searches are anonymous.
	BindDN, BindPassword string

	// UserBase is where users are searched (subtree); UserFilter is the
	// search filter with {username} where the username goes, escaped,
	// e.g. "(&(objectClass=inetOrgPerson)(uid={username}))".
	UserBase, UserFilter string
	// SubjectAttribute gives the user's stable identifier: an attribute
	// such as entryUUID (the default) or "dn" for the entry's DN (which
	// changes when the entry is renamed or moved).
	SubjectAttribute string
	// UsernameAttribute is read from the user's entry to fill {username}
	// in GroupFilter; default uid. The directory's own value is used, at
	// login and at Lookup alike, never the username as typed (which may
	// differ in case or spacing, and which a refresh does not have).
	UsernameAttribute string
	// EmailAttribute and NameAttribute give the profile; defaults mail
	// and cn.
	EmailAttribute, NameAttribute string

	// GroupBase is where groups are searched (subtree); empty: no groups
	// are read and users get no roles. GroupFilter has {dn} where the
	// user's DN goes and {username} where the entry's UsernameAttribute
	// value goes, both escaped (an entry without that attribute is in no
	// group found by {username}), e.g. "(&(objectClass=groupOfNames)(member={dn}))" or
	// "(&(objectClass=posixGroup)(memberUid={username}))".
	GroupBase, GroupFilter string
	// GroupNameAttribute names a group; default cn. Turning group names
	// into Gatehouse roles is the caller's (a connector's role map).
	GroupNameAttribute string

	// ConnectTimeout bounds the TCP connect; default 5 s. Timeout bounds a
	// whole operation (connect, TLS, binds, searches); default 10 s.
	ConnectTimeout, Timeout time.Duration
}

// Defaults for Config fields left zero.
const (
	DefaultSubjectAttribute   = "entryUUID"
	DefaultUsernameAttribute  = "uid"
	DefaultEmailAttribute     = "mail"
	DefaultNameAttribute      = "cn"
	DefaultGroupNameAttribute = "cn"
	DefaultConnectTimeout     = 5 * time.Second
	DefaultTimeout            = 10 * time.Second
)

// SubjectDN is the SubjectAttribute that takes the entry's DN.
const SubjectDN = "dn"

func (c *Config) setDefaults() {
	c.SubjectAttribute = cmp.Or(c.SubjectAttribute, DefaultSubjectAttribute)
	c.UsernameAttribute = cmp.Or(c.UsernameAttribute, DefaultUsernameAttribute)
	c.EmailAttribute = cmp.Or(c.EmailAttribute, DefaultEmailAttribute)
	c.NameAttribute = cmp.Or(c.NameAttribute, DefaultNameAttribute)
	c.GroupNameAttribute = cmp.Or(c.GroupNameAttribute, DefaultGroupNameAttribute)
	c.ConnectTimeout = cmp.Or(c.ConnectTimeout, DefaultConnectTimeout)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
}

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	c.setDefaults()
	var errs []error
	if err := c.validateURL(); err != nil {
		errs = append(errs, err)
	}
	if (c.BindDN == "") != (c.BindPassword == "") {
		errs = append(errs, errors.New("directory: bind DN and bind password go together"))
	}
	for _, dn := range []struct{ name, v string }{{"bind DN", c.BindDN}, {"user base", c.UserBase}, {"group base", c.GroupBase}} {
		if dn.v == "" {
			continue
		}
		if _, err := ldap.ParseDN(dn.v); err != nil {
			errs = append(errs, fmt.Errorf("directory: %s %q is not a DN", dn.name, dn.v))
		}
	}
	if c.UserBase == "" {
		errs = append(errs, errors.New("directory: a user search base is required"))
	}
	if err := checkTemplate("user filter", c.UserFilter, true); err != nil {
		errs = append(errs, err)
	}
	if c.GroupBase != "" {
		if err := checkTemplate("group filter", c.GroupFilter, false); err != nil {
			errs = append(errs, err)
		}
	} else if c.GroupFilter != "" {
		errs = append(errs, errors.New("directory: a group filter needs a group search base"))
	}
	for _, a := range []struct{ name, v string }{{"subject", c.SubjectAttribute}, {"username", c.UsernameAttribute}, {"email", c.EmailAttribute},
		{"name", c.NameAttribute}, {"group name", c.GroupNameAttribute}} {
		if a.v != "" && !validAttribute(a.v) {
			errs = append(errs, fmt.Errorf("directory: %s attribute %q is not an attribute name", a.name, a.v))
		}
	}
	if c.ConnectTimeout <= 0 || c.Timeout <= 0 || c.ConnectTimeout > c.Timeout || c.Timeout > time.Minute {
		errs = append(errs, fmt.Errorf("directory: connect timeout %v and timeout %v: positive, connect not longer, at most 1m", c.ConnectTimeout, c.Timeout))
	}
	return errors.Join(errs...)
}

func (c Config) validateURL() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return fmt.Errorf("directory: URL %q: want ldaps://host[:port] or ldap://host[:port]", c.URL)
	}
	switch u.Scheme {
	case "ldaps":
		if c.StartTLS {
			return errors.New("directory: StartTLS is for ldap:// URLs; ldaps:// is TLS already")
		}
	case "ldap":
		if !c.StartTLS && !c.InsecureNoTLS && !loopback(u.Hostname()) {
			return fmt.Errorf("directory: URL %q: plain LDAP sends passwords in clear; use ldaps://, StartTLS, or the insecure flag", c.URL)
		}
	default:
		return fmt.Errorf("directory: URL %q: the scheme must be ldaps or ldap", c.URL)
	}
	if _, port, err := net.SplitHostPort(u.Host); err == nil && port == "" {
		return fmt.Errorf("directory: URL %q has an empty port", c.URL)
	}
	return nil
}

// loopback reports whether host is a loopback IP address literal; a name
// such as localhost could resolve elsewhere.
func loopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}

// checkTemplate checks a filter template: it must hold its placeholder
// (the username's for the user filter) and compile with values filled in.
func checkTemplate(name, tmpl string, user bool) error {
	if tmpl == "" {
		return fmt.Errorf("directory: a %s is required", name)
	}
	if user && !strings.Contains(tmpl, "{username}") {
		return fmt.Errorf("directory: %s %q has no {username}", name, tmpl)
	}
	if !user && !strings.Contains(tmpl, "{dn}") && !strings.Contains(tmpl, "{username}") {
		return fmt.Errorf("directory: %s %q has no {dn} (the user's DN) or {username}", name, tmpl)
	}
	if _, err := ldap.CompileFilter(fill(tmpl, "x", "x")); err != nil {
		return fmt.Errorf("directory: %s %q does not parse: %w", name, tmpl, err)
	}
	return nil
}

// fill puts username and dn (both already escaped) in their places.
func fill(tmpl, username, dn string) string {
	return strings.NewReplacer("{username}", username, "{dn}", dn).Replace(tmpl)
}

// validAttribute: an attribute description's name (RFC 4512 section
// 1.4: a descriptor or a numeric OID), or "dn" for the subject.
func validAttribute(a string) bool {
	if a == "" || len(a) > 128 {
		return false
	}
	for i, r := range a {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && (r >= '0' && r <= '9' || r == '-') ||
			r >= '0' && r <= '9' || r == '.'
		if !ok {
			return false
		}
	}
	return true
}
