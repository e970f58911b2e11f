package admin

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIIssuerLifecycle creates, lists, shows, changes and deletes a
// trusted issuer through the admin API, with the defaults and the
// conflicts.
func TestAPIIssuerLifecycle(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/issuers", map[string]any{
		"id": "keycloak", "issuer": "https://kc.example/realms/acme", "roles_claim": "realm_access.roles",
		"role_map": map[string]string{"api-admin": "admin", "ops": "admin"},
	})
	if code != 201 {
		t.Fatalf("POST /issuers = %d %v; want 201", code, body)
	}
	// Defaults: subject "sub" names a user; default audiences and
	// algorithms are shown as empty lists.
	if body["subject_claim"] != "sub" || body["subject_type"] != "user" || body["max_token_age_seconds"] != float64(0) ||
		len(body["audiences"].([]any)) != 0 || body["disabled"] != false {
		t.Errorf("created issuer = %v; want the defaults", body)
	}
	if code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/issuers", map[string]any{"issuer": "https://kc.example/realms/acme"}); code != 409 || body["field"] != "issuer" {
		t.Errorf("POST the same issuer again = %d %v; want 409 on issuer", code, body)
	}
	if code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/issuers", map[string]any{"id": "keycloak", "issuer": "https://other.example"}); code != 409 || body["field"] != "id" {
		t.Errorf("POST the same id again = %d %v; want 409 on id", code, body)
	}
	code, body = g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/issuers/keycloak", map[string]any{
		"subject_type": "client", "subject_claim": "azp", "algorithms": []string{"RS256"}, "max_token_age_seconds": 600, "disabled": true,
	})
	if code != 200 || body["subject_type"] != "client" || body["subject_claim"] != "azp" || body["max_token_age_seconds"] != float64(600) ||
		body["disabled"] != true || body["roles_claim"] != "realm_access.roles" {
		t.Errorf("PATCH /issuers/keycloak = %d %v", code, body)
	}
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/issuers/keycloak", map[string]any{"algorithms": []string{"HS256"}}); code != 400 || body["field"] != "algorithms" {
		t.Errorf("PATCH algorithms HS256 = %d %v; want 400 on algorithms", code, body)
	}
	code, body = g.callJSON(t, tok, http.MethodGet, PathPrefix+"/issuers", nil)
	if l, _ := body["issuers"].([]any); code != 200 || len(l) != 1 {
		t.Errorf("GET /issuers = %d %v; want one issuer", code, body)
	}
	if code, _ := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/issuers/keycloak", nil); code != 200 {
		t.Errorf("GET /issuers/keycloak = %d", code)
	}
	if resp, _ := g.call(t, tok, http.MethodDelete, PathPrefix+"/issuers/keycloak", nil); resp.StatusCode != 204 {
		t.Errorf("DELETE = %d; want 204", resp.StatusCode)
	}
	if code, _ := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/issuers/keycloak", nil); code != 404 {
		t.Errorf("GET after DELETE = %d; want 404", code)
	}
	if !strings.Contains(g.audit.String(), "issuer.create") || !strings.Contains(g.audit.String(), "issuer.delete") {
		t.Errorf("audit log lacks the issuer events: %s", g.audit.String())
	}
}

// TestAPIIssuerValidation: what the admin rules refuse, each with 400
// naming the field, before any store sees it.
func TestAPIIssuerValidation(t *testing.T) {
	g := startGatehouse(t)
	g.svc.issuer = g.issuer
	tok := g.adminToken(t)
	long := "https://idp.example/" + strings.Repeat("a", 600)
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no issuer", map[string]any{}, "issuer"},
		{"http issuer", map[string]any{"issuer": "http://idp.example"}, "issuer"},
		{"http issuer on a private address", map[string]any{"issuer": "http://10.0.0.1"}, "issuer"},
		{"issuer with a query", map[string]any{"issuer": "https://idp.example?x=1"}, "issuer"},
		{"issuer with a fragment", map[string]any{"issuer": "https://idp.example#x"}, "issuer"},
		{"issuer with user information", map[string]any{"issuer": "https://u:p@idp.example"}, "issuer"},
		{"relative issuer", map[string]any{"issuer": "/realms/acme"}, "issuer"},
		{"file issuer", map[string]any{"issuer": "file:///etc/passwd"}, "issuer"},
		{"over-long issuer", map[string]any{"issuer": long}, "issuer"},
		{"issuer with a NUL", map[string]any{"issuer": "https://idp.example/\u0000"}, "issuer"},
		{"issuer with a space", map[string]any{"issuer": "https://idp.example/ a"}, "issuer"},
		{"Gatehouse itself", map[string]any{"issuer": g.issuer}, "issuer"},
		{"http jwks_uri", map[string]any{"issuer": "https://idp.example", "jwks_uri": "http://idp.example/keys"}, "jwks_uri"},
		{"alg none", map[string]any{"issuer": "https://idp.example", "algorithms": []string{"none"}}, "algorithms"},
		{"alg HS256", map[string]any{"issuer": "https://idp.example", "algorithms": []string{"HS256"}}, "algorithms"},
		{"unknown subject type", map[string]any{"issuer": "https://idp.example", "subject_type": "group"}, "subject_type"},
		{"subject claim jti", map[string]any{"issuer": "https://idp.example", "subject_claim": "jti"}, "subject_claim"},
		{"subject claim with a space", map[string]any{"issuer": "https://idp.example", "subject_claim": "a b"}, "subject_claim"},
		{"roles claim empty name", map[string]any{"issuer": "https://idp.example", "roles_claim": "a..b"}, "roles_claim"},
		{"roles claim registered", map[string]any{"issuer": "https://idp.example", "roles_claim": "sub"}, "roles_claim"},
		{"role map without a roles claim", map[string]any{"issuer": "https://idp.example", "role_map": map[string]string{"a": "b"}}, "roles_claim"},
		{"role map to a bad role", map[string]any{"issuer": "https://idp.example", "roles_claim": "groups", "role_map": map[string]string{"a": "b c"}}, "role_map.a"},
		{"role map from control text", map[string]any{"issuer": "https://idp.example", "roles_claim": "groups", "role_map": map[string]string{"a\u0007": "b"}}, "role_map"},
		{"role map key with a NUL", map[string]any{"issuer": "https://idp.example", "roles_claim": "groups", "role_map": map[string]string{"a\u0000": "b"}}, "role_map"},
		{"max age too long", map[string]any{"issuer": "https://idp.example", "max_token_age_seconds": 86401}, "max_token_age_seconds"},
		{"negative max age", map[string]any{"issuer": "https://idp.example", "max_token_age_seconds": -1}, "max_token_age_seconds"},
		{"audience with a space", map[string]any{"issuer": "https://idp.example", "audiences": []string{"a b"}}, "audiences"},
		{"bad id", map[string]any{"id": "a/b", "issuer": "https://idp.example"}, "id"},
		{"unknown field", map[string]any{"issuer": "https://idp.example", "provision_users": true}, "provision_users"},
	}
	for _, tt := range tests {
		code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/issuers", tt.body)
		if code != 400 || body["field"] != tt.field {
			t.Errorf("%s: POST /issuers = %d %v; want 400 on %s", tt.name, code, body, tt.field)
		}
	}
	// Invalid UTF-8 in the path is refused at the boundary.
	if resp, _ := g.call(t, tok, http.MethodGet, PathPrefix+"/issuers/%ff", nil); resp.StatusCode != 400 {
		t.Errorf("GET /issuers/%%ff = %d; want 400", resp.StatusCode)
	}
	// Nothing was stored.
	if l, _ := g.store.ListTrustedIssuers(t.Context()); len(l) != 0 {
		t.Errorf("%d issuers stored after refused requests; want 0", len(l))
	}
	// The accepted edges: loopback http, a URL roles claim, Unicode
	// upstream role names.
	code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/issuers", map[string]any{
		"issuer": "http://127.0.0.1:5556/dex", "jwks_uri": "http://[::1]:5556/keys", "roles_claim": `"https://example.com/roles"`,
		"role_map": map[string]string{"Équipe Ops": "ops"}, "subject_type": "client", "algorithms": []string{"EdDSA", "ES256"},
	})
	if code != 201 || body["roles_claim"] != `"https://example.com/roles"` {
		t.Errorf("POST the accepted edges = %d %v; want 201", code, body)
	}
}
