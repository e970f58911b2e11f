package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

const connectorSecret = "upstream-client-secret-d41d8cd98f00b204"

func oidcParams() ConnectorParams {
	return ConnectorParams{ID: "corp", Kind: "oidc", Name: "Corp SSO",
		OIDC:   &storage.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "gatehouse", Scopes: []string{"email"}},
		Secret: connectorSecret, RolesClaim: "realm_access.roles", RoleMap: map[string]string{"idp-admin": "admin"},
		EmailDomains: []string{"example.com"}}
}

func ldapParams() ConnectorParams {
	return ConnectorParams{ID: "dir", Kind: "ldap", Name: "Directory", Secret: "bind-pw",
		LDAP: &storage.LDAPSettings{URL: "ldaps://ldap.example.com", BindDN: "cn=gh,dc=example,dc=com",
			UserBaseDN: "ou=people,dc=example,dc=com", UserFilter: "(uid={username})"},
		RoleMap: map[string]string{"admins": "admin"}}
}

// TestConnectorValidation refuses, field by field, what the boundary must
// refuse; nothing refused reaches the store.
func TestConnectorValidation(t *testing.T) {
	mod := func(f func(p *ConnectorParams)) ConnectorParams { p := oidcParams(); f(&p); return p }
	modL := func(f func(p *ConnectorParams)) ConnectorParams { p := ldapParams(); f(&p); return p }
	tests := []struct {
		name  string
		p     ConnectorParams
		field string
	}{
		{"bad id", mod(func(p *ConnectorParams) { p.ID = "Corp" }), "id"},
		{"empty id", mod(func(p *ConnectorParams) { p.ID = "" }), "id"},
		{"long id", mod(func(p *ConnectorParams) { p.ID = strings.Repeat("a", 64) }), "id"},
		{"unknown kind", mod(func(p *ConnectorParams) { p.Kind = "saml" }), "kind"},
		{"oidc without settings", mod(func(p *ConnectorParams) { p.OIDC = nil }), "oidc"},
		{"oidc with ldap settings", mod(func(p *ConnectorParams) { p.LDAP = ldapParams().LDAP }), "oidc"},
		{"http issuer", mod(func(p *ConnectorParams) { p.OIDC.Issuer = "http://idp.example.com" }), "oidc.issuer"},
		{"issuer with query", mod(func(p *ConnectorParams) { p.OIDC.Issuer = "https://idp.example.com/?a=b" }), "oidc.issuer"},
		{"NUL in client id", mod(func(p *ConnectorParams) { p.OIDC.ClientID = "a\x00b" }), "oidc.client_id"},
		{"invalid UTF-8 client id", mod(func(p *ConnectorParams) { p.OIDC.ClientID = "a\xffb" }), "oidc.client_id"},
		{"long client id", mod(func(p *ConnectorParams) { p.OIDC.ClientID = strings.Repeat("a", 1025) }), "oidc.client_id"},
		{"bad scope", mod(func(p *ConnectorParams) { p.OIDC.Scopes = []string{"a b"} }), "oidc.scopes"},
		{"NUL in secret", mod(func(p *ConnectorParams) { p.Secret = "a\x00" }), "secret"},
		{"long secret", mod(func(p *ConnectorParams) { p.Secret = strings.Repeat("s", 1025) }), "secret"},
		{"bad claim path", mod(func(p *ConnectorParams) { p.RolesClaim = "a..b" }), "roles_claim"},
		{"roles claim without map", mod(func(p *ConnectorParams) { p.RoleMap = nil }), "role_map"},
		{"map without roles claim", mod(func(p *ConnectorParams) { p.RolesClaim = "" }), "roles_claim"},
		{"bad local role", mod(func(p *ConnectorParams) { p.RoleMap = map[string]string{"x": "bad role"} }), "role_map"},
		{"NUL in upstream role", mod(func(p *ConnectorParams) { p.RoleMap = map[string]string{"x\x00": "admin"} }), "role_map"},
		{"upper-case domain", mod(func(p *ConnectorParams) { p.EmailDomains = []string{"Example.com"} }), "email_domains"},
		{"domain with @", mod(func(p *ConnectorParams) { p.EmailDomains = []string{"a@example.com"} }), "email_domains"},
		{"timeout too long", mod(func(p *ConnectorParams) { p.TimeoutSeconds = 61 }), "timeout_seconds"},
		{"negative timeout", mod(func(p *ConnectorParams) { p.TimeoutSeconds = -1 }), "timeout_seconds"},
		{"name with control", mod(func(p *ConnectorParams) { p.Name = "a\nb" }), "name"},
		{"plain ldap off loopback", modL(func(p *ConnectorParams) { p.LDAP.URL = "ldap://ldap.example.com" }), "ldap.url"},
		{"ldaps with start_tls", modL(func(p *ConnectorParams) { p.LDAP.StartTLS = true }), "ldap.start_tls"},
		{"filter without username", modL(func(p *ConnectorParams) { p.LDAP.UserFilter = "(uid=*)" }), "ldap.user_filter"},
		{"ldap roles claim", modL(func(p *ConnectorParams) { p.RolesClaim = "groups" }), "roles_claim"},
	}
	store := memory.New()
	svc := newService(t, store, time.Now, &syncBuffer{})
	for _, tt := range tests {
		_, err := svc.CreateConnector(context.Background(), tt.p)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tt.field {
			t.Errorf("%s: CreateConnector = %v; want a FieldError on %s", tt.name, err, tt.field)
		}
	}
	if cs, _ := store.ListConnectors(context.Background()); len(cs) != 0 {
		t.Fatalf("%d connectors stored after refused input; want 0", len(cs))
	}
	// Allowed: plain LDAP on loopback, with StartTLS, or with the explicit flag.
	for i, u := range []struct {
		url             string
		startTLS, plain bool
	}{{"ldap://127.0.0.1:3389", false, false}, {"ldap://ldap.example.com", true, false}, {"ldap://ldap.example.com", false, true}} {
		p := ldapParams()
		p.ID = "dir" + string(rune('a'+i))
		p.LDAP.URL, p.LDAP.StartTLS, p.LDAP.InsecureNoTLS = u.url, u.startTLS, u.plain
		if _, err := svc.CreateConnector(context.Background(), p); err != nil {
			t.Errorf("CreateConnector(%s start_tls=%v insecure=%v) = %v", u.url, u.startTLS, u.plain, err)
		}
	}
}

// TestConnectorsAPI creates, reads, updates and deletes connectors over
// HTTP: the secret is stored sealed and never appears in a response or the
// audit log.
func TestConnectorsAPI(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	status, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/connectors", oidcParams())
	if status != http.StatusCreated || body["secret_set"] != true || body["enabled"] != true || body["provision"] != false || body["link_by_email"] != false {
		t.Fatalf("create = %d %v; want 201, secret set, enabled, provision and link_by_email off", status, body)
	}
	if scopes := body["oidc"].(map[string]any)["scopes"].([]any); len(scopes) != 2 || scopes[0] != "openid" {
		t.Fatalf("scopes = %v; want openid added first", scopes)
	}
	if status, _ := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/connectors", oidcParams()); status != http.StatusConflict {
		t.Fatalf("create again = %d; want 409", status)
	}
	if status, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/connectors", ldapParams()); status != http.StatusCreated || body["kind"] != "ldap" {
		t.Fatalf("create ldap = %d %v", status, body)
	}
	stored, err := g.store.GetConnector(context.Background(), "corp")
	if err != nil || len(stored.SecretEnc) == 0 || strings.Contains(string(stored.SecretEnc), connectorSecret) {
		t.Fatalf("stored secret: %v; want it sealed", err)
	}
	status, body = g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/connectors/corp", map[string]any{"enabled": false, "provision": true, "secret": "another-secret-value"})
	if status != http.StatusOK || body["enabled"] != false || body["provision"] != true {
		t.Fatalf("update = %d %v", status, body)
	}
	if status, _ := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/connectors/corp", map[string]any{"ldap": ldapParams().LDAP}); status != http.StatusBadRequest {
		t.Fatalf("update with the other kind's settings = %d; want 400", status)
	}
	if status, _ := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/connectors/corp", map[string]any{"kind": "ldap"}); status != http.StatusBadRequest {
		t.Fatalf("update of the kind = %d; want 400 (unknown field)", status)
	}
	status, body = g.callJSON(t, tok, http.MethodGet, PathPrefix+"/connectors", nil)
	if list, _ := body["connectors"].([]any); status != http.StatusOK || len(list) != 2 {
		t.Fatalf("list = %d %v", status, body)
	}
	resp, raw := g.call(t, tok, http.MethodGet, PathPrefix+"/connectors/corp", nil)
	if resp.StatusCode != http.StatusOK || strings.Contains(string(raw), "secret-value") || strings.Contains(string(raw), connectorSecret) {
		t.Fatalf("get = %d %s; want the connector without its secret", resp.StatusCode, raw)
	}
	if status, _ := g.callJSON(t, tok, http.MethodDelete, PathPrefix+"/connectors/corp", nil); status != http.StatusNoContent {
		t.Fatalf("delete = %d; want 204", status)
	}
	if status, _ := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/connectors/corp", nil); status != http.StatusNotFound {
		t.Fatalf("get after delete = %d; want 404", status)
	}
	audit := g.audit.String()
	if !strings.Contains(audit, "connector.create") || strings.Contains(audit, connectorSecret) || strings.Contains(audit, "another-secret-value") {
		t.Fatalf("audit log: want connector events and no secret:\n%s", audit)
	}
}
