package directory

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// Errors that say what happened; they are wrapped with detail for logs.
var (
	// ErrInvalidCredentials: no single user has this username, or the
	// password is wrong or empty.
	ErrInvalidCredentials = errors.New("directory: invalid credentials")
	// ErrGone: the user of a subject is no longer in the directory (or no
	// longer matches the user filter).
	ErrGone = errors.New("directory: user is gone")
	// ErrUnavailable: the directory did not answer the question (network,
	// TLS, timeout, a busy or unwilling server, the service account
	// refused). Nothing was learned about the user.
	ErrUnavailable = errors.New("directory: unavailable")
)

// Identity is a directory user as Authenticate or Lookup found it.
type Identity struct {
	// Subject is the value of Config.SubjectAttribute (or the DN): the
	// stable key to link the user by.
	Subject string
	DN      string
	// Username is the entry's Config.UsernameAttribute value (the
	// directory's spelling of the username), or empty.
	Username string
	// Email and Name are the profile attributes' first values, or empty.
	Email, Name string
	// Groups are the names of the user's groups as the directory spells
	// them, sorted, without duplicates.
	Groups []string
}

// Client talks to one directory.
type Client struct {
	cfg Config
	url *url.URL
	tls *tls.Config
}

// New checks cfg and returns a client for it. No connection is made.
func New(cfg Config) (*Client, error) {
	cfg.setDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, _ := url.Parse(cfg.URL)
	return &Client{cfg: cfg, url: u,
		tls: &tls.Config{ServerName: u.Hostname(), RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12}}, nil
}

// Authenticate checks username and password against the directory: a
// search for exactly one entry under the service account, a bind as that
// entry with the password, then the entry's groups under the service
// account again. Wrong credentials are ErrInvalidCredentials; an outage is
// ErrUnavailable.
func (c *Client) Authenticate(ctx context.Context, username, password string) (Identity, error) {
	return c.AuthenticateGuarded(ctx, username, password, nil)
}

// AuthenticateGuarded is Authenticate with guard, when not nil, called
// with the found entry's DN after the user search and before the bind with
// the password. An error from guard ends the attempt with that error (the
// password is not tried). The directory resolves many spellings of a
// username to one entry (case, insignificant spaces and characters RFC
// 4518 maps away), so a per-user limit is sound only on the entry: that
// is what guard is for. Once guard returned nil, ErrInvalidCredentials
// means the entry refused the password.
func (c *Client) AuthenticateGuarded(ctx context.Context, username, password string, guard func(dn string) error) (Identity, error) {
	if username == "" || password == "" {
		// RFC 4513 section 5.1.2: a bind with a name and no password is
		// an unauthenticated bind, which servers answer with success.
		return Identity{}, fmt.Errorf("%w: empty username or password", ErrInvalidCredentials)
	}
	conn, done, err := c.connect(ctx)
	if err != nil {
		return Identity{}, err
	}
	defer done()
	if err := c.serviceBind(conn); err != nil {
		return Identity{}, err
	}
	filter := fill(c.cfg.UserFilter, ldap.EscapeFilter(username), "")
	entry, err := c.searchUser(conn, c.cfg.UserBase, ldap.ScopeWholeSubtree, filter)
	if errors.Is(err, ErrGone) {
		return Identity{}, fmt.Errorf("%w: %w", ErrInvalidCredentials, err)
	}
	if err != nil {
		return Identity{}, err
	}
	if guard != nil {
		if err := guard(entry.DN); err != nil {
			return Identity{}, err
		}
	}
	if err := conn.Bind(entry.DN, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return Identity{}, fmt.Errorf("%w: bind as the user's entry refused", ErrInvalidCredentials)
		}
		if unavailable(err) {
			return Identity{}, fmt.Errorf("%w: bind as the user's entry: %w", ErrUnavailable, err)
		}
		// Any other refusal of the user's own bind (an account the
		// server will not let in) is the user's credentials failing.
		return Identity{}, fmt.Errorf("%w: bind as the user's entry: %w", ErrInvalidCredentials, err)
	}
	// Groups are read as the service account: users may not be allowed
	// to search them.
	if err := c.serviceBind(conn); err != nil {
		return Identity{}, err
	}
	return c.identity(conn, entry)
}

// Lookup reads the user with this subject again, with its groups and
// roles, as a refresh needs: no password is involved. A subject that no
// entry matching the user filter has is ErrGone.
func (c *Client) Lookup(ctx context.Context, subject string) (Identity, error) {
	if subject == "" {
		return Identity{}, fmt.Errorf("%w: empty subject", ErrGone)
	}
	conn, done, err := c.connect(ctx)
	if err != nil {
		return Identity{}, err
	}
	defer done()
	if err := c.serviceBind(conn); err != nil {
		return Identity{}, err
	}
	// The user filter with "*" for the username is any entry the filter
	// could match, so a filter that excludes locked accounts excludes
	// them here too.
	anyUser := fill(c.cfg.UserFilter, "*", "")
	base, scope, filter := c.cfg.UserBase, ldap.ScopeWholeSubtree, anyUser
	if c.cfg.SubjectAttribute == SubjectDN {
		if _, err := ldap.ParseDN(subject); err != nil {
			return Identity{}, fmt.Errorf("%w: subject is not a DN", ErrGone)
		}
		base, scope = subject, ldap.ScopeBaseObject
	} else {
		filter = "(&" + anyUser + "(" + c.cfg.SubjectAttribute + "=" + ldap.EscapeFilter(subject) + "))"
	}
	entry, err := c.searchUser(conn, base, scope, filter)
	if err != nil {
		return Identity{}, err
	}
	return c.identity(conn, entry)
}

// connect dials the directory and starts TLS; the returned function closes
// the connection. The whole operation gets one deadline, the earlier of
// ctx's and Timeout from now, set on the socket itself, so that no step
// (connect, handshake, a read the server never answers) outlives it, and
// the connection is closed when ctx is cancelled.
func (c *Client) connect(ctx context.Context) (*ldap.Conn, func(), error) {
	deadline := time.Now().Add(c.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	d := &net.Dialer{Timeout: c.cfg.ConnectTimeout, Deadline: deadline}
	host := c.url.Host
	if c.url.Port() == "" {
		host = net.JoinHostPort(c.url.Hostname(), map[string]string{"ldap": "389", "ldaps": "636"}[c.url.Scheme])
	}
	var raw net.Conn
	var err error
	if c.url.Scheme == "ldaps" {
		raw, err = (&tls.Dialer{NetDialer: d, Config: c.tls}).DialContext(ctx, "tcp", host)
	} else {
		raw, err = d.DialContext(ctx, "tcp", host)
	}
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("%w: connect to %s: %w", ErrUnavailable, host, err)
	}
	raw.SetDeadline(deadline)
	conn := ldap.NewConn(raw, c.url.Scheme == "ldaps")
	conn.Start()
	conn.SetTimeout(time.Until(deadline))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	done := func() {
		stop()
		cancel()
		conn.Close()
	}
	if c.cfg.StartTLS {
		if err := conn.StartTLS(c.tls); err != nil {
			done()
			return nil, nil, fmt.Errorf("%w: StartTLS with %s: %w", ErrUnavailable, host, err)
		}
	}
	return conn, done, nil
}

// serviceBind binds as the service account (nothing to do for anonymous
// searches). A refusal is an outage: no user can be checked.
func (c *Client) serviceBind(conn *ldap.Conn) error {
	if c.cfg.BindDN == "" {
		return nil
	}
	if err := conn.Bind(c.cfg.BindDN, c.cfg.BindPassword); err != nil {
		return fmt.Errorf("%w: service account bind: %w", ErrUnavailable, err)
	}
	return nil
}

// searchUser finds exactly one entry; none or several is ErrGone.
func (c *Client) searchUser(conn *ldap.Conn, base string, scope int, filter string) (*ldap.Entry, error) {
	attrs := []string{}
	for _, a := range []string{c.cfg.SubjectAttribute, c.cfg.UsernameAttribute, c.cfg.EmailAttribute, c.cfg.NameAttribute} {
		if a != SubjectDN {
			attrs = append(attrs, a)
		}
	}
	req := ldap.NewSearchRequest(base, scope, ldap.NeverDerefAliases, 2, 0, false, filter, attrs, nil)
	res, err := conn.Search(req)
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, fmt.Errorf("%w: several entries match", ErrGone)
	case scope == ldap.ScopeBaseObject && ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return nil, fmt.Errorf("%w: no such entry", ErrGone)
	case err != nil:
		return nil, fmt.Errorf("%w: user search: %w", ErrUnavailable, err)
	case len(res.Entries) != 1:
		return nil, fmt.Errorf("%w: %d entries match", ErrGone, len(res.Entries))
	}
	return res.Entries[0], nil
}

// identity reads entry's profile and groups. {username} in the group
// filter is the entry's own username attribute, so that a login (whatever
// case or spacing was typed) and a refresh (which has no username) find
// the same groups.
func (c *Client) identity(conn *ldap.Conn, entry *ldap.Entry) (Identity, error) {
	id := Identity{DN: entry.DN, Username: first(entry, c.cfg.UsernameAttribute),
		Email: first(entry, c.cfg.EmailAttribute), Name: first(entry, c.cfg.NameAttribute)}
	if c.cfg.SubjectAttribute == SubjectDN {
		id.Subject = entry.DN
	} else {
		vs := entry.GetEqualFoldAttributeValues(c.cfg.SubjectAttribute)
		if len(vs) != 1 || vs[0] == "" || !utf8.ValidString(vs[0]) {
			return Identity{}, fmt.Errorf("%w: the entry has %d values of subject attribute %s, want one text value",
				ErrUnavailable, len(vs), c.cfg.SubjectAttribute)
		}
		id.Subject = vs[0]
	}
	if c.cfg.GroupBase == "" {
		return id, nil
	}
	if id.Username == "" && strings.Contains(c.cfg.GroupFilter, "{username}") {
		// "(memberUid=)" would ask for groups of an empty name: the
		// entry has no username to be a member by.
		return id, nil
	}
	filter := fill(c.cfg.GroupFilter, ldap.EscapeFilter(id.Username), ldap.EscapeFilter(entry.DN))
	req := ldap.NewSearchRequest(c.cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, []string{c.cfg.GroupNameAttribute}, nil)
	res, err := conn.Search(req)
	if err != nil {
		return Identity{}, fmt.Errorf("%w: group search: %w", ErrUnavailable, err)
	}
	for _, g := range res.Entries {
		id.Groups = append(id.Groups, g.GetEqualFoldAttributeValues(c.cfg.GroupNameAttribute)...)
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	return id, nil
}

func first(e *ldap.Entry, attr string) string {
	if attr == "" || attr == SubjectDN {
		return ""
	}
	return e.GetEqualFoldAttributeValue(attr)
}

// unavailable reports an error that says nothing about the credentials:
// the connection failed, or the server was busy, unavailable, out of time
// or otherwise unable (RFC 4511 appendix A).
func unavailable(err error) bool {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return true
	}
	return ldap.IsErrorAnyOf(err, ldap.ErrorNetwork, ldap.ErrorUnexpectedResponse, ldap.LDAPResultBusy,
		ldap.LDAPResultUnavailable, ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded,
		ldap.LDAPResultOther, ldap.LDAPResultOperationsError, ldap.LDAPResultProtocolError)
}
