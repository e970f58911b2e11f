package oauth

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/directory"
	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
)

// ErrDirectoryUnavailable reports that no LDAP directory could say whether
// a user's credentials are right: the token endpoint answers 503
// temporarily_unavailable with Retry-After (not invalid_grant), the login
// page says the service is busy, and the throttle takes the attempt back,
// since nothing was learned about the password.
var ErrDirectoryUnavailable = directory.ErrUnavailable

// errNoMappedGroup: a directory user in none of the groups the role map
// names, under a connector that requires one.
var errNoMappedGroup = errors.New("the user is in no group the connector's role map names")

// ldapKind is the LDAP connector kind: it checks passwords against the
// directory at login and re-reads the user at refresh.
type ldapKind struct {
	secrets *keys.Secrets
}

var _ UpstreamRereader = ldapKind{}

// client builds the directory client of LDAP connector c, with its bind
// password opened. Building one is cheap (no connection); it is built per
// use so that an update of the connector applies to the next login.
func (k ldapKind) client(c storage.Connector) (*directory.Client, error) {
	cfg, err := DirectoryConfig(c)
	if err != nil {
		return nil, err
	}
	if len(c.SecretEnc) > 0 {
		pw, err := k.secrets.OpenData("connector", c.ID, c.SecretEnc)
		if err != nil {
			return nil, fmt.Errorf("connector %q: open the bind password: %w", c.ID, err)
		}
		cfg.BindPassword = string(pw)
	}
	return directory.New(cfg)
}

// DirectoryConfig is the directory client configuration of LDAP connector
// c, without its bind password (which is sealed in the store): the one
// translation of the stored settings, which the admin rules also use to
// check a connector before it is stored.
func DirectoryConfig(c storage.Connector) (directory.Config, error) {
	l := c.LDAP
	if c.Kind != storage.ConnectorLDAP || l == nil {
		return directory.Config{}, fmt.Errorf("connector %q is not an LDAP connector", c.ID)
	}
	cfg := directory.Config{
		URL: l.URL, StartTLS: l.StartTLS, InsecureNoTLS: l.InsecureNoTLS,
		BindDN: l.BindDN, UserBase: l.UserBaseDN, UserFilter: l.UserFilter,
		SubjectAttribute: l.SubjectAttribute, UsernameAttribute: l.UsernameAttribute, EmailAttribute: l.EmailAttribute, NameAttribute: l.NameAttribute,
		GroupBase: l.GroupBaseDN, GroupFilter: l.GroupFilter, GroupNameAttribute: l.GroupNameAttribute,
		Timeout: c.Timeout, ConnectTimeout: min(c.Timeout, directory.DefaultConnectTimeout),
	}
	if l.CACert != "" {
		cfg.RootCAs = x509.NewCertPool()
		if !cfg.RootCAs.AppendCertsFromPEM([]byte(l.CACert)) {
			return directory.Config{}, fmt.Errorf("connector %q: the CA certificate is not PEM", c.ID)
		}
	}
	if l.RequireGroup && (len(c.RoleMap) == 0 || l.GroupBaseDN == "") {
		return directory.Config{}, fmt.Errorf("connector %q: require_group needs a group search and a role map", c.ID)
	}
	return cfg, nil
}

// upstream is what linking needs of a directory identity: the group names
// are the roles the connector's role map reads. A connector that requires
// a group refuses a user in none it maps.
func upstream(c storage.Connector, id directory.Identity, username string) (UpstreamIdentity, error) {
	if c.LDAP.RequireGroup && len(verifier.MapRoles(id.Groups, c.RoleMap)) == 0 {
		return UpstreamIdentity{}, errNoMappedGroup
	}
	// A directory's mail attribute is whatever was typed into it:
	// unverified, so it never links an existing user by email. The
	// directory's spelling of the username is preferred to the typed one.
	if id.Username != "" {
		username = id.Username
	}
	return UpstreamIdentity{Subject: id.Subject, Email: id.Email, Name: id.Name,
		PreferredUsername: username, Roles: id.Groups}, nil
}

// Reread reads a linked user again for a refresh: a user gone from the
// directory (or no longer matching the user filter, or in no mapped group
// when the connector requires one) is ErrUpstreamRevoked; an outage is
// ErrDirectoryUnavailable.
func (k ldapKind) Reread(ctx context.Context, c storage.Connector, link storage.IdentityLink) (UpstreamIdentity, storage.IdentityLink, error) {
	cl, err := k.client(c)
	if err != nil {
		return UpstreamIdentity{}, link, fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err)
	}
	id, err := cl.Lookup(ctx, link.Subject)
	if errors.Is(err, directory.ErrGone) {
		return UpstreamIdentity{}, link, fmt.Errorf("%w: %w", ErrUpstreamRevoked, err)
	}
	if err != nil {
		return UpstreamIdentity{}, link, err
	}
	up, err := upstream(c, id, "")
	if err != nil {
		return UpstreamIdentity{}, link, fmt.Errorf("%w: %w", ErrUpstreamRevoked, err)
	}
	return up, link, nil
}

// directories returns the enabled LDAP connectors a username is checked
// against, in id order: all of them, or, for "<connector id>/<name>", that
// connector alone with name (so a directory user can sign in whose plain
// username a local user holds).
func (s *fositeStore) directories(ctx context.Context, username string) ([]storage.Connector, []string, error) {
	all, err := s.store.ListConnectors(ctx)
	if err != nil {
		return nil, nil, err
	}
	all = slices.DeleteFunc(all, func(c storage.Connector) bool { return c.Kind != storage.ConnectorLDAP || c.Disabled })
	if prefix, name, ok := strings.Cut(username, "/"); ok && name != "" {
		for _, c := range all {
			if c.ID == prefix {
				return []storage.Connector{c}, []string{name}, nil
			}
		}
	}
	names := make([]string, len(all))
	for i := range names {
		names[i] = username
	}
	return all, names, nil
}

// directoryLogin checks username and password against the enabled LDAP
// connectors (design D5's throttle has reserved the attempt already) and
// links the directory user to its Gatehouse user (LinkIdentity: an
// existing link, or provisioning when the connector allows it). The first
// directory that accepts the password decides. When none does and one
// could not answer, the result is ErrDirectoryUnavailable; when all said
// no, fosite.ErrNotFound (a wrong password). found reports whether there
// is any LDAP connector at all.
func (s *fositeStore) directoryLogin(ctx context.Context, username, password string) (u storage.User, found bool, err error) {
	conns, names, err := s.directories(ctx, username)
	if err != nil || len(conns) == 0 {
		return storage.User{}, false, err
	}
	var outage error
	for i, c := range conns {
		cl, err := s.ldap.client(c)
		if err != nil {
			s.logger.ErrorContext(ctx, "LDAP connector unusable", "connector_id", c.ID, "err", err)
			outage = fmt.Errorf("%w: %w", ErrDirectoryUnavailable, err)
			continue
		}
		id, err := s.authenticateEntry(ctx, cl, c, names[i], password)
		if errors.Is(err, directory.ErrInvalidCredentials) {
			continue
		}
		var te *ThrottleError
		if errors.As(err, &te) {
			return storage.User{}, true, err
		}
		if err != nil {
			s.logger.WarnContext(ctx, "LDAP directory unavailable", "connector_id", c.ID, "err", err)
			outage = err
			continue
		}
		up, err := upstream(c, id, names[i])
		if err != nil {
			return storage.User{}, true, fmt.Errorf("connector %s: %w: %w", c.ID, err, fosite.ErrNotFound)
		}
		user, _, err := LinkIdentity(ctx, s.store, c, up, s.now().UTC())
		switch {
		case errors.Is(err, ErrNotProvisioned), errors.Is(err, ErrLinkRefused), errors.Is(err, ErrUserDisabled),
			errors.Is(err, ErrConnectorDisabled):
			s.logger.InfoContext(ctx, "directory user refused", "connector_id", c.ID, "err", err)
			return storage.User{}, true, fmt.Errorf("connector %s: %w: %w", c.ID, err, fosite.ErrNotFound)
		case err != nil:
			return storage.User{}, true, err
		}
		return user, true, nil
	}
	if outage != nil {
		return storage.User{}, true, outage
	}
	return storage.User{}, true, fmt.Errorf("no directory accepted the credentials: %w", fosite.ErrNotFound)
}

// authenticateEntry checks the password on the entry username finds in
// cl's directory, after counting the attempt against that entry (design
// D5's per-user limits keyed by connector and entry DN). The typed
// username's counter, which Authenticate reserved, cannot see that
// "alice", "alice " and "ALICE\u00ad" are one entry to the directory
// (RFC 4518 ignores case and insignificant spaces and maps some
// characters to nothing); the entry's counter can. The entry's attempt is
// kept only when the entry refused the password.
func (s *fositeStore) authenticateEntry(ctx context.Context, cl *directory.Client, c storage.Connector, username, password string) (directory.Identity, error) {
	st := stateFrom(ctx)
	st.mu.Lock()
	addr := st.clientAddr
	st.mu.Unlock()
	var res *reservation
	id, err := cl.AuthenticateGuarded(ctx, username, password, func(dn string) error {
		r, err := s.throttle.reserveEntry(ctx, c.ID, dn, addr)
		res = r
		return err
	})
	if !errors.Is(err, directory.ErrInvalidCredentials) {
		s.throttle.release(ctx, res)
	}
	return id, err
}
