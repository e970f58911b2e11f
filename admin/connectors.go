package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"

	"github.com/gatehouse/gatehouse/storage"
)

// SecretPurposeConnector is the purpose connector secrets are sealed for
// (keys.Secrets.SealData), with the connector's id.
const SecretPurposeConnector = "connector"

func connectorView(c storage.Connector) Connector {
	return Connector{
		ID: c.ID, Kind: c.Kind, Name: c.Name, Enabled: !c.Disabled, OIDC: c.OIDC, LDAP: c.LDAP,
		SecretSet: len(c.SecretEnc) > 0, Provision: c.Provision, LinkByEmail: c.LinkByEmail,
		RolesClaim: c.RolesClaim, RoleMap: nonNilMap(c.RoleMap), EmailDomains: nonNil(c.EmailDomains),
		TimeoutSeconds: int64(c.Timeout.Seconds()), CreatedAt: c.CreatedAt.UTC(), UpdatedAt: c.UpdatedAt.UTC(),
	}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// cleanKind checks that exactly the kind's settings are given and cleans
// them.
func cleanKind(c *storage.Connector) error {
	switch c.Kind {
	case storage.ConnectorOIDC:
		if c.OIDC == nil || c.LDAP != nil {
			return fieldErr("oidc", "an oidc connector needs oidc settings and no ldap settings")
		}
		o, err := cleanOIDCSettings(c.OIDC)
		if err != nil {
			return err
		}
		c.OIDC = o
	case storage.ConnectorLDAP:
		if c.LDAP == nil || c.OIDC != nil {
			return fieldErr("ldap", "an ldap connector needs ldap settings and no oidc settings")
		}
		l, err := cleanLDAPSettings(c.LDAP)
		if err != nil {
			return err
		}
		c.LDAP = l
		if err := checkDirectory(*c); err != nil {
			return err
		}
	default:
		return fieldErr("kind", "%q: use oidc or ldap", c.Kind)
	}
	return nil
}

// sealSecret seals secret for connector id; an empty secret is none.
func (s *Service) sealSecret(id, secret string) ([]byte, error) {
	if secret == "" {
		return nil, nil
	}
	if s.secrets == nil {
		return nil, errors.New("admin: no master secrets to seal the connector's secret (set GATEHOUSE_SECRETS)")
	}
	sealed, err := s.secrets.SealData(SecretPurposeConnector, id, []byte(secret))
	if err != nil {
		return nil, fmt.Errorf("seal connector secret: %w", err)
	}
	return sealed, nil
}

// CreateConnector creates a connector; a taken id is a *ConflictError.
func (s *Service) CreateConnector(ctx context.Context, p ConnectorParams) (Connector, error) {
	if err := checkConnectorID(p.ID); err != nil {
		return Connector{}, err
	}
	if err := checkConnectorSecret(p.Secret); err != nil {
		return Connector{}, err
	}
	now := s.now().UTC()
	c := storage.Connector{
		ID: p.ID, Kind: p.Kind, Name: p.Name, Disabled: p.Disabled, OIDC: p.OIDC, LDAP: p.LDAP,
		Provision: p.Provision, LinkByEmail: p.LinkByEmail, RolesClaim: p.RolesClaim, RoleMap: maps.Clone(p.RoleMap),
		EmailDomains: slices.Clone(p.EmailDomains), CreatedAt: now, UpdatedAt: now,
	}
	if err := cleanKind(&c); err != nil {
		return Connector{}, err
	}
	if err := cleanConnectorPolicy(&c, p.TimeoutSeconds); err != nil {
		return Connector{}, err
	}
	sealed, err := s.sealSecret(c.ID, p.Secret)
	if err != nil {
		return Connector{}, err
	}
	c.SecretEnc = sealed
	if err := s.store.CreateConnector(ctx, c); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			return Connector{}, &ConflictError{Field: "id", Reason: fmt.Sprintf("connector %q exists", c.ID)}
		}
		return Connector{}, fmt.Errorf("create connector: %w", err)
	}
	s.audit(ctx, "connector.create", "connector", c.ID, "kind", c.Kind, "provision", c.Provision,
		"link_by_email", c.LinkByEmail, "secret_set", len(c.SecretEnc) > 0)
	return connectorView(c), nil
}

// GetConnector returns a connector; an unknown id is a *NotFoundError.
func (s *Service) GetConnector(ctx context.Context, id string) (Connector, error) {
	c, err := s.store.GetConnector(ctx, id)
	if err = recordErr(err, "connector", id, "get connector"); err != nil {
		return Connector{}, err
	}
	return connectorView(c), nil
}

// ListConnectors returns every connector ordered by id.
func (s *Service) ListConnectors(ctx context.Context) ([]Connector, error) {
	cs, err := s.store.ListConnectors(ctx)
	if err != nil {
		return nil, fmt.Errorf("list connectors: %w", err)
	}
	out := make([]Connector, len(cs))
	for i, c := range cs {
		out[i] = connectorView(c)
	}
	return out, nil
}

// UpdateConnector applies p atomically. The kind and id never change.
func (s *Service) UpdateConnector(ctx context.Context, id string, p ConnectorPatch) (Connector, error) {
	if p.Secret != nil {
		if err := checkConnectorSecret(*p.Secret); err != nil {
			return Connector{}, err
		}
	}
	linked := false
	if p.OIDC != nil || p.LDAP != nil {
		var err error
		if linked, err = s.store.ConnectorHasIdentityLinks(ctx, id); err != nil {
			return Connector{}, fmt.Errorf("update connector: %w", err)
		}
	}
	var (
		out     storage.Connector
		changed []string
	)
	err := s.store.UpdateConnector(ctx, id, func(c storage.Connector) (storage.Connector, error) {
		before := c
		changed = changed[:0]
		set := func(name string, ok bool, apply func()) {
			if ok {
				apply()
				changed = append(changed, name)
			}
		}
		set("name", p.Name != nil, func() { c.Name = *p.Name })
		set("enabled", p.Enabled != nil, func() { c.Disabled = !*p.Enabled })
		set("oidc", p.OIDC != nil, func() { c.OIDC = p.OIDC })
		set("ldap", p.LDAP != nil, func() { c.LDAP = p.LDAP })
		set("provision", p.Provision != nil, func() { c.Provision = *p.Provision })
		set("link_by_email", p.LinkByEmail != nil, func() { c.LinkByEmail = *p.LinkByEmail })
		set("roles_claim", p.RolesClaim != nil, func() { c.RolesClaim = *p.RolesClaim })
		set("role_map", p.RoleMap != nil, func() { c.RoleMap = maps.Clone(*p.RoleMap) })
		set("email_domains", p.EmailDomains != nil, func() { c.EmailDomains = slices.Clone(*p.EmailDomains) })
		timeout := int64(c.Timeout.Seconds())
		set("timeout_seconds", p.TimeoutSeconds != nil, func() { timeout = *p.TimeoutSeconds })
		if err := cleanKind(&c); err != nil {
			return c, err
		}
		if err := cleanConnectorPolicy(&c, timeout); err != nil {
			return c, err
		}
		if field := rekeyed(before, c); linked && field != "" {
			// Links are keyed by (connector, upstream subject): another
			// issuer or subject claim would hand its subjects the
			// accounts of the old one's.
			return c, fieldErr(field, "cannot change while users are linked through this connector; delete the connector (its links go, the users stay) and create it again")
		}
		if p.Secret == nil && len(c.SecretEnc) > 0 && endpointMoved(before, c) {
			// The stored secret was given for the old provider or
			// directory; it is never sent to another host unasked.
			return c, fieldErr("secret", "a new secret is required in the same update when the issuer or the directory's host changes")
		}
		if p.Secret != nil {
			sealed, err := s.sealSecret(id, *p.Secret)
			if err != nil {
				return c, err
			}
			c.SecretEnc = sealed
			changed = append(changed, "secret")
		}
		c.UpdatedAt = s.now().UTC()
		out = c
		return c, nil
	})
	if err = recordErr(err, "connector", id, "update connector"); err != nil {
		return Connector{}, err
	}
	s.audit(ctx, "connector.update", "connector", id, "fields", changed)
	return connectorView(out), nil
}

// endpointMoved reports whether an update points the connector at another
// provider (any other OIDC issuer: one host may serve several, as
// Keycloak's realms) or another directory host (a port may change).
func endpointMoved(before, after storage.Connector) bool {
	switch {
	case before.OIDC != nil && after.OIDC != nil:
		return before.OIDC.Issuer != after.OIDC.Issuer
	case before.LDAP != nil && after.LDAP != nil:
		b, errB := url.Parse(before.LDAP.URL)
		a, errA := url.Parse(after.LDAP.URL)
		return errB != nil || errA != nil || !strings.EqualFold(b.Hostname(), a.Hostname())
	}
	return false
}

// rekeyed names the setting an update changes that decides what an
// upstream subject means (the OIDC issuer or subject claim, the LDAP
// subject attribute), or "".
func rekeyed(before, after storage.Connector) string {
	switch {
	case before.OIDC != nil && after.OIDC != nil && before.OIDC.Issuer != after.OIDC.Issuer:
		return "oidc.issuer"
	case before.OIDC != nil && after.OIDC != nil && cmpOr(before.OIDC.SubjectClaim, "sub") != cmpOr(after.OIDC.SubjectClaim, "sub"):
		return "oidc.subject_claim"
	case before.LDAP != nil && after.LDAP != nil && !strings.EqualFold(before.LDAP.SubjectAttribute, after.LDAP.SubjectAttribute):
		return "ldap.subject_attribute"
	}
	return ""
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// DeleteConnector deletes a connector and its identity links; the users
// linked through it stay.
func (s *Service) DeleteConnector(ctx context.Context, id string) error {
	err := s.store.DeleteConnector(ctx, id)
	if err = recordErr(err, "connector", id, "delete connector"); err != nil {
		return err
	}
	s.audit(ctx, "connector.delete", "connector", id)
	return nil
}

// ReencryptConnectorSecrets seals every connector's secret again under the
// current master secret (the first), after a new one was put in front;
// the old one can then be dropped. It returns how many it resealed. A
// secret no master secret opens stops it with an error naming the
// connector.
func (s *Service) ReencryptConnectorSecrets(ctx context.Context) (int, error) {
	if s.secrets == nil {
		return 0, errors.New("admin: no master secrets (set GATEHOUSE_SECRETS)")
	}
	cs, err := s.store.ListConnectors(ctx)
	if err != nil {
		return 0, fmt.Errorf("list connectors: %w", err)
	}
	n := 0
	for _, c := range cs {
		if len(c.SecretEnc) == 0 {
			continue
		}
		err := s.store.UpdateConnector(ctx, c.ID, func(c storage.Connector) (storage.Connector, error) {
			plain, err := s.secrets.OpenData(SecretPurposeConnector, c.ID, c.SecretEnc)
			if err != nil {
				return c, fmt.Errorf("connector %s: %w", c.ID, err)
			}
			c.SecretEnc, err = s.secrets.SealData(SecretPurposeConnector, c.ID, plain)
			clear(plain)
			return c, err
		})
		if err != nil {
			return n, fmt.Errorf("reencrypt connector secret: %w", err)
		}
		n++
		s.audit(ctx, "connector.reencrypt", "connector", c.ID)
	}
	return n, nil
}
