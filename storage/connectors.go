package storage

import (
	"context"
	"time"
)

// Connector kinds.
const (
	// ConnectorOIDC is an upstream OpenID Connect provider: users sign in
	// there (authorization code flow with PKCE) and come back.
	ConnectorOIDC = "oidc"
	// ConnectorLDAP is an LDAP directory: users type their directory
	// password into Gatehouse, which binds as them.
	ConnectorLDAP = "ldap"
)

// Connector is an upstream identity provider users may log in through
// (design D14, issue 16). The kind-specific settings are in OIDC or LDAP
// (exactly the one of Kind is set); the policy fields apply to both.
type Connector struct {
	// ID is chosen by the operator ([a-z0-9-], e.g. "corp"): it names the
	// connector in URLs (the OIDC callback registered upstream) and in
	// identity links, so it never changes.
	ID string
	// Kind is ConnectorOIDC or ConnectorLDAP.
	Kind string
	// Name is shown on the login page: "Sign in with <Name>".
	Name     string
	Disabled bool
	OIDC     *OIDCSettings
	LDAP     *LDAPSettings
	// SecretEnc is the OIDC client secret or the LDAP bind password,
	// sealed under the master secrets as signing keys are
	// (keys.Secrets.SealData with purpose "connector" and the id); empty
	// when none is set. Stores keep it opaque.
	SecretEnc []byte
	// Provision lets the first login of an unknown upstream identity
	// create a Gatehouse user. Off by default.
	Provision bool
	// LinkByEmail lets the first login of an unknown upstream identity be
	// linked to the one existing user with the same email, and only when
	// the upstream says the email is verified. Off by default (account
	// takeover otherwise).
	LinkByEmail bool
	// RolesClaim is where an OIDC connector reads upstream roles: a
	// verifier.ClaimPath in its string form ("groups",
	// "realm_access.roles"). LDAP connectors take group names instead.
	RolesClaim string
	// RoleMap maps upstream role (or group) names to Gatehouse roles and
	// is an allow-list: upstream roles it does not name are dropped. When
	// it is empty, the connector manages no roles and a linked user keeps
	// the roles an operator gave.
	RoleMap map[string]string
	// EmailDomains, when not empty, admit only upstream identities whose
	// email is in one of these domains.
	EmailDomains []string
	// Timeout bounds each call to the upstream; zero means the default.
	Timeout   time.Duration
	CreatedAt time.Time
	UpdatedAt time.Time
}

// OIDCSettings are an upstream OpenID Connect provider's.
type OIDCSettings struct {
	// Issuer is the provider's issuer URL; its discovery document is at
	// Issuer + "/.well-known/openid-configuration".
	Issuer   string   `json:"issuer"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
	// SubjectClaim identifies the user upstream; default "sub".
	SubjectClaim string `json:"subject_claim,omitempty"`
}

// LDAPSettings are an LDAP directory's. The LDAP kind owns their meaning.
type LDAPSettings struct {
	// URL is ldaps://host[:port] or ldap://host[:port].
	URL string `json:"url"`
	// StartTLS upgrades an ldap:// connection before binding.
	StartTLS bool `json:"start_tls,omitempty"`
	// InsecureNoTLS allows ldap:// without StartTLS off loopback.
	InsecureNoTLS bool   `json:"insecure_no_tls,omitempty"`
	BindDN        string `json:"bind_dn,omitempty"`
	UserBaseDN    string `json:"user_base_dn"`
	// UserFilter finds a user; "{username}" is replaced by the escaped
	// username (RFC 4515).
	UserFilter       string `json:"user_filter"`
	SubjectAttribute string `json:"subject_attribute,omitempty"`
	// UsernameAttribute is read from the user's entry to fill
	// "{username}" in GroupFilter (default uid): the directory's spelling
	// of the username, the same at login and at refresh.
	UsernameAttribute string `json:"username_attribute,omitempty"`
	EmailAttribute    string `json:"email_attribute,omitempty"`
	NameAttribute     string `json:"name_attribute,omitempty"`
	GroupBaseDN       string `json:"group_base_dn,omitempty"`
	// GroupFilter finds a user's groups; "{dn}" is replaced by the
	// escaped DN of the user, "{username}" by the escaped value of
	// UsernameAttribute in the user's entry.
	GroupFilter        string `json:"group_filter,omitempty"`
	GroupNameAttribute string `json:"group_name_attribute,omitempty"`
	// CACert is PEM certificates that verify the directory's TLS
	// certificate; empty: the system's roots.
	CACert string `json:"ca_cert,omitempty"`
	// RequireGroup admits only users in at least one group the role map
	// names: at login, and at every refresh (a user removed from all of
	// them cannot refresh).
	RequireGroup bool `json:"require_group,omitempty"`
}

// IdentityLink ties an upstream identity (connector, upstream subject) to
// a Gatehouse user. A (connector, subject) pair is linked to at most one
// user.
type IdentityLink struct {
	ConnectorID string
	// Subject is the upstream's stable identifier of the user (the OIDC
	// "sub", an LDAP entry's subject attribute).
	Subject string
	UserID  string
	// Provisioned says the link's first login created the user.
	Provisioned bool
	// RefreshTokenEnc is the upstream refresh token, sealed (keys
	// purpose "connector-refresh"), for kinds that re-read the identity
	// upstream at each refresh; empty when the upstream gave none.
	RefreshTokenEnc []byte
	CreatedAt       time.Time
	// LastLoginAt is the last time the identity was read upstream (a
	// login or a refresh).
	LastLoginAt time.Time
}

// ConnectorStore keeps connectors.
type ConnectorStore interface {
	GetConnector(ctx context.Context, id string) (Connector, error)
	// CreateConnector stores a new connector; a taken id is
	// ErrAlreadyExists.
	CreateConnector(ctx context.Context, c Connector) error
	// UpdateConnector applies fn to the stored connector atomically.
	UpdateConnector(ctx context.Context, id string, fn func(Connector) (Connector, error)) error
	// DeleteConnector removes a connector and every identity link of it;
	// the linked users stay.
	DeleteConnector(ctx context.Context, id string) error
	// ListConnectors returns every connector ordered by id.
	ListConnectors(ctx context.Context) ([]Connector, error)
}

// IdentityLinkStore keeps identity links.
type IdentityLinkStore interface {
	// GetIdentityLink returns the link of (connectorID, subject).
	GetIdentityLink(ctx context.Context, connectorID, subject string) (IdentityLink, error)
	// CreateIdentityLink stores l and, when user is not nil, creates that
	// user, in one atomic step: when (l.ConnectorID, l.Subject) is linked
	// already, the user has a link through l.ConnectorID already (one
	// upstream identity per user and connector), or the user's id or
	// username is taken, nothing is written and the error is
	// ErrAlreadyExists. Of concurrent first logins of one upstream identity
	// exactly one links (and provisions), and of concurrent links of
	// several identities to one user through one connector exactly one.
	CreateIdentityLink(ctx context.Context, l IdentityLink, user *User) error
	// UpdateIdentityLink applies fn to the stored link atomically.
	UpdateIdentityLink(ctx context.Context, connectorID, subject string, fn func(IdentityLink) (IdentityLink, error)) error
	// ListUserIdentityLinks returns the user's links ordered by connector
	// and subject. Deleting a user deletes its links.
	ListUserIdentityLinks(ctx context.Context, userID string) ([]IdentityLink, error)
	// ConnectorHasIdentityLinks reports whether any link of the
	// connector exists.
	ConnectorHasIdentityLinks(ctx context.Context, connectorID string) (bool, error)
	// FindUsersByEmail returns the users whose Email is exactly email.
	FindUsersByEmail(ctx context.Context, email string) ([]User, error)
}
