package admin

import (
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// Connector is a connector as administrators see it: everything but its
// secret, of which only whether one is set is shown.
type Connector struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	// Name is shown on the login page as "Sign in with <name>".
	Name    string                `json:"name"`
	Enabled bool                  `json:"enabled"`
	OIDC    *storage.OIDCSettings `json:"oidc,omitempty"`
	LDAP    *storage.LDAPSettings `json:"ldap,omitempty"`
	// SecretSet says a client secret (OIDC) or bind password (LDAP) is
	// stored; the secret itself is never returned.
	SecretSet      bool              `json:"secret_set"`
	Provision      bool              `json:"provision"`
	LinkByEmail    bool              `json:"link_by_email"`
	RolesClaim     string            `json:"roles_claim"`
	RoleMap        map[string]string `json:"role_map"`
	EmailDomains   []string          `json:"email_domains"`
	TimeoutSeconds int64             `json:"timeout_seconds"`
	CreatedAt      time.Time         `json:"created_at"`
	UpdatedAt      time.Time         `json:"updated_at"`
}

// ConnectorParams creates a connector.
type ConnectorParams struct {
	// ID is [a-z0-9-], 1-63 characters, starting with a letter or digit;
	// it appears in the OIDC callback URL
	// (<issuer>/login/connectors/<id>/callback) and never changes.
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Disabled creates the connector switched off.
	Disabled bool                  `json:"disabled,omitempty"`
	OIDC     *storage.OIDCSettings `json:"oidc,omitempty"`
	LDAP     *storage.LDAPSettings `json:"ldap,omitempty"`
	// Secret is the OIDC client secret or the LDAP bind password; it is
	// stored sealed under the master secrets.
	Secret       string            `json:"secret,omitempty"`
	Provision    bool              `json:"provision,omitempty"`
	LinkByEmail  bool              `json:"link_by_email,omitempty"`
	RolesClaim   string            `json:"roles_claim,omitempty"`
	RoleMap      map[string]string `json:"role_map,omitempty"`
	EmailDomains []string          `json:"email_domains,omitempty"`
	// TimeoutSeconds bounds each call to the upstream; 0 is the default
	// (DefaultConnectorTimeout).
	TimeoutSeconds int64 `json:"timeout_seconds,omitempty"`
}

// ConnectorPatch changes the fields it sets. OIDC and LDAP replace the
// kind's settings as a whole; an empty Secret removes the secret.
type ConnectorPatch struct {
	Name           *string               `json:"name,omitempty"`
	Enabled        *bool                 `json:"enabled,omitempty"`
	OIDC           *storage.OIDCSettings `json:"oidc,omitempty"`
	LDAP           *storage.LDAPSettings `json:"ldap,omitempty"`
	Secret         *string               `json:"secret,omitempty"`
	Provision      *bool                 `json:"provision,omitempty"`
	LinkByEmail    *bool                 `json:"link_by_email,omitempty"`
	RolesClaim     *string               `json:"roles_claim,omitempty"`
	RoleMap        *map[string]string    `json:"role_map,omitempty"`
	EmailDomains   *[]string             `json:"email_domains,omitempty"`
	TimeoutSeconds *int64                `json:"timeout_seconds,omitempty"`
}
