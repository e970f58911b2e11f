package admin

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/oauth"
)

func TestAPIAuthentication(t *testing.T) {
	g := startGatehouse(t)
	admin := g.adminToken(t)
	plainID, plainSecret := g.client(t, ClientParams{Name: "plain", GrantTypes: []string{"client_credentials"}, Roles: []string{"service"}})
	plain := g.token(t, plainID, plainSecret)
	scopedID, scopedSecret := g.client(t, ClientParams{Name: "scoped", GrantTypes: []string{"client_credentials"}, Scopes: []string{DefaultAdminScope}})
	scoped := g.token(t, scopedID, scopedSecret)
	// An admin whose tokens are for another audience is not admitted.
	otherID, otherSecret := g.client(t, ClientParams{Name: "other-aud", GrantTypes: []string{"client_credentials"}, Roles: []string{DefaultAdminRole}, Audiences: []string{"billing"}})
	otherAud := g.token(t, otherID, otherSecret)
	parts := strings.Split(admin, ".")
	sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
	sig[0] ^= 1
	forged := parts[0] + "." + parts[1] + "." + base64.RawURLEncoding.EncodeToString(sig)

	tests := []struct {
		name      string
		token     string
		want      int
		challenge string // a substring of WWW-Authenticate
	}{
		{"no token", "", 401, `Bearer realm="gatehouse-admin"`},
		{"garbage", "not-a-jwt", 401, `error="invalid_token"`},
		{"forged signature", forged, 401, `error="invalid_token"`},
		{"other audience", otherAud, 401, `error="invalid_token"`},
		{"not admin", plain, 403, `error="insufficient_scope"`},
		{"admin role", admin, 200, ""},
		{"admin scope", scoped, 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := g.call(t, tt.token, http.MethodGet, PathPrefix+"/clients", nil)
			if resp.StatusCode != tt.want {
				t.Fatalf("GET /clients with %s = %d %s; want %d", tt.name, resp.StatusCode, body, tt.want)
			}
			if ch := resp.Header.Get("WWW-Authenticate"); !strings.Contains(ch, tt.challenge) || (tt.challenge != "" && !strings.HasPrefix(ch, "Bearer")) {
				t.Errorf("WWW-Authenticate = %q; want it to contain %q", ch, tt.challenge)
			}
			if tt.want == 403 && !strings.Contains(resp.Header.Get("WWW-Authenticate"), `scope="gatehouse:admin"`) {
				t.Errorf("403 challenge %q does not name the scope", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}

	// A revoked admin token stops at once (the deny list is consulted).
	var claims struct {
		JTI string `json:"jti"`
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(scoped, ".")[1])
	json.Unmarshal(payload, &claims)
	if err := g.store.Deny(context.Background(), claims.JTI, g.clock.now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if resp, body := g.call(t, scoped, http.MethodGet, PathPrefix+"/clients", nil); resp.StatusCode != 401 {
		t.Errorf("denied admin token: %d %s; want 401", resp.StatusCode, body)
	}

	// The OpenAPI document needs no token; unknown paths and methods get
	// JSON errors.
	if resp, body := g.call(t, "", http.MethodGet, OpenAPIPath, nil); resp.StatusCode != 200 || !json.Valid(body) {
		t.Errorf("GET %s = %d; want 200 JSON", OpenAPIPath, resp.StatusCode)
	}
	if code, body := g.callJSON(t, admin, http.MethodPut, PathPrefix+"/clients", "{}"); code != 405 || body["error"] != "method_not_allowed" {
		t.Errorf("PUT /clients = %d %v; want 405 method_not_allowed", code, body)
	}
	if code, body := g.callJSON(t, admin, http.MethodGet, PathPrefix+"/nothing", nil); code != 404 || body["error"] != "not_found" {
		t.Errorf("GET /nothing = %d %v; want 404 not_found", code, body)
	}
}

// TestAPILocalAuth checks the in-process discovery path the server uses,
// with no network between the admin API and the issuer's documents.
func TestAPILocalAuth(t *testing.T) {
	g := startGatehouse(t)
	token := g.adminToken(t)
	auth, err := NewAuth(AuthConfig{Issuer: g.issuer, Local: g.router, Now: g.clock.now,
		HTTPClient: &http.Client{Transport: failingTransport{t}}})
	if err != nil {
		t.Fatal(err)
	}
	h := NewHandler(g.svc, auth)
	req := httptest.NewRequest(http.MethodGet, PathPrefix+"/users", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("GET /users through local auth = %d %s; want 200", rec.Code, rec.Body)
	}
	// A nil auth fails closed.
	rec = httptest.NewRecorder()
	NewHandler(g.svc, nil).ServeHTTP(rec, req)
	if rec.Code != 401 {
		t.Errorf("nil auth: %d; want 401", rec.Code)
	}
}

type failingTransport struct{ t *testing.T }

func (f failingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	f.t.Errorf("network request to %s; want none with Local set", r.URL)
	return nil, http.ErrNotSupported
}

func TestAPIValidation(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	cc := []string{"client_credentials"}
	tests := []struct {
		name, method, path string
		body               any
		want               int
		field              string
	}{
		{"reserved claim", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Claims: map[string]any{"sub": "root"}}, 400, "claims.sub"},
		{"reserved claim any case", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Claims: map[string]any{"Roles": "x"}}, 400, "claims.Roles"},
		{"unknown scope", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Scopes: []string{"read", "root"}}, 400, "scopes"},
		{"unknown grant type", "POST", "/clients", ClientParams{Name: "a", GrantTypes: []string{"implicit"}}, 400, "grant_types"},
		{"no grant type", "POST", "/clients", ClientParams{Name: "a"}, 400, "grant_types"},
		{"refresh without password", "POST", "/clients", ClientParams{Name: "a", GrantTypes: []string{"client_credentials", "refresh_token"}}, 400, "grant_types"},
		{"lifetime too long", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, TokenLifetimeSeconds: 86401}, 400, "token_lifetime_seconds"},
		{"lifetime negative", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, TokenLifetimeSeconds: -1}, 400, "token_lifetime_seconds"},
		{"chosen secret", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, ClientSecret: "hunter2hunter2"}, 400, "client_secret"},
		{"bad role", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Roles: []string{"bad role"}}, 400, "roles"},
		{"bad id", "POST", "/clients", ClientParams{ID: "a/b", Name: "a", GrantTypes: cc}, 400, "id"},
		{"user id prefix", "POST", "/clients", ClientParams{ID: "u-x", Name: "a", GrantTypes: cc}, 400, "id"},
		{"no name", "POST", "/clients", ClientParams{GrantTypes: cc}, 400, "name"},
		{"audience with space", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Audiences: []string{"a b"}}, 400, "audiences"},
		{"jwks with a private key", "POST", "/clients", `{"name":"a","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt",` +
			`"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI"}]}}`, 400, "jwks"},
		{"jwks with a NUL", "POST", "/clients", `{"name":"a","grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[{"kid":"a\u0000"}]}}`, 400, "jwks.keys.kid"},
		{"jwks_uri over http", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "http://keys.example/jwks"}, 400, "jwks_uri"},
		{"alg none", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, TokenEndpointAuthMethod: "private_key_jwt", JWKSURI: "https://keys.example/jwks", TokenEndpointAuthSigningAlgs: []string{"none"}}, 400, "token_endpoint_auth_signing_algs"},
		{"unknown field", "POST", "/clients", `{"name":"a","grant_types":["client_credentials"],"colour":"red"}`, 400, "colour"},
		{"wrong type", "POST", "/clients", `{"name":"a","grant_types":"client_credentials"}`, 400, "grant_types"},
		{"malformed JSON", "POST", "/clients", `{"name":`, 400, ""},
		{"two values", "POST", "/clients", `{"name":"a","grant_types":["client_credentials"]} {}`, 400, ""},
		{"empty body", "POST", "/clients", "", 400, ""},
		{"too large", "POST", "/clients", `{"name":"` + strings.Repeat("a", MaxBodyBytes) + `"}`, 413, ""},
		{"empty username", "POST", "/users", UserParams{Username: "  "}, 400, "username"},
		{"username with slash", "POST", "/users", UserParams{Username: "a/b"}, 400, "username"},
		{"short password", "POST", "/users", UserParams{Username: "bob", Password: "short"}, 400, "password"},
		{"bad user role", "POST", "/users", UserParams{Username: "bob", Roles: []string{"-x"}}, 400, "roles"},
		{"redirect URI with fragment", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, RedirectURIs: []string{"https://app.example/cb#x"}}, 400, "redirect_uris"},
		{"redirect URI wildcard", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, RedirectURIs: []string{"https://*.app.example/cb"}}, 400, "redirect_uris"},
		{"redirect URI http", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, RedirectURIs: []string{"http://app.example/cb"}}, 400, "redirect_uris"},
		{"redirect URI relative", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, RedirectURIs: []string{"/cb"}}, 400, "redirect_uris"},
		{"post-logout URI localhost", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, PostLogoutRedirectURIs: []string{"http://localhost/bye"}}, 400, "post_logout_redirect_uris"},
		{"web origin with path", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, WebOrigins: []string{"https://app.example/spa"}}, 400, "web_origins"},
		{"public client_credentials", "POST", "/clients", ClientParams{Name: "a", GrantTypes: cc, Public: true}, 400, "grant_types"},
		{"public token exchange", "POST", "/clients", ClientParams{Name: "a", GrantTypes: []string{oauth.GrantTypeTokenExchange}, Public: true}, 400, "grant_types"},
		{"user email with name", "POST", "/users", UserParams{Username: "bob", Email: "Bob <bob@example.com>"}, 400, "email"},
		{"user verified without email", "POST", "/users", UserParams{Username: "bob", EmailVerified: true}, 400, "email_verified"},
		{"user name with control", "POST", "/users", UserParams{Username: "bob", Name: "Bob\x07"}, 400, "name"},
		{"patch unknown user", "PATCH", "/users/nope", UserPatch{Name: new(string)}, 404, ""},
		{"patch user unknown field", "PATCH", "/users/nope", `{"username":"x"}`, 400, "username"},
		{"grace too long", "POST", "/clients/nope/rotate-secret", RotateParams{GraceSeconds: 31 * 86400}, 400, "grace_seconds"},
		{"patch reserved claim", "PATCH", "/clients/nope", `{"claims":{"iss":"x"}}`, 404, ""},
		{"unknown client", "GET", "/clients/nope", nil, 404, ""},
		{"unknown user", "GET", "/users/nope", nil, 404, ""},
		{"delete unknown user", "DELETE", "/users/nope", nil, 404, ""},
		{"disable unknown user", "POST", "/users/nope/disable", nil, 404, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := g.callJSON(t, tok, tt.method, PathPrefix+tt.path, tt.body)
			if code != tt.want {
				t.Fatalf("%s %s = %d %v; want %d", tt.method, tt.path, code, body, tt.want)
			}
			if body["field"] != nil && body["field"] != tt.field || tt.field != "" && body["field"] != tt.field {
				t.Errorf("field = %v; want %q", body["field"], tt.field)
			}
			if tt.want == 400 && body["error"] != "invalid_request" {
				t.Errorf("error = %v; want invalid_request", body["error"])
			}
			if desc, _ := body["error_description"].(string); desc == "" {
				t.Errorf("no error_description in %v", body)
			}
		})
	}

	// A media type other than JSON is refused.
	req, _ := http.NewRequest(http.MethodPost, g.URL+PathPrefix+"/clients", strings.NewReader("name=a"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, _ := send(t, req); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("form body: %d; want 415", resp.StatusCode)
	}
	// Nothing was created by the refused requests.
	if cs, _ := g.svc.ListClients(context.Background()); len(cs) != 1 {
		t.Errorf("clients after refusals: %d; want only the admin", len(cs))
	}
}

func TestAPIConflicts(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	cc := []string{"client_credentials"}
	steps := []struct {
		name, path string
		body       any
		want       int
		field      string
	}{
		{"client", "/clients", ClientParams{ID: "billing", Name: "billing", GrantTypes: cc}, 201, ""},
		{"same client name", "/clients", ClientParams{Name: "billing", GrantTypes: cc}, 409, "name"},
		{"same client id", "/clients", ClientParams{ID: "billing", Name: "billing-2", GrantTypes: cc}, 409, "id"},
		{"user", "/users", UserParams{Username: "Alice", Password: "correct horse"}, 201, ""},
		{"same username other case", "/users", UserParams{Username: "ALICE"}, 409, "username"},
		{"user NFC", "/users", UserParams{Username: "jos\u00e9"}, 201, ""},
		{"same username NFD", "/users", UserParams{Username: "jose\u0301"}, 409, "username"},
		{"same username NFD upper", "/users", UserParams{Username: "JOSE\u0301"}, 409, "username"},
	}
	for _, s := range steps {
		code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+s.path, s.body)
		if code != s.want {
			t.Fatalf("%s: POST %s = %d %v; want %d", s.name, s.path, code, body, s.want)
		}
		if s.want == 409 && (body["error"] != "conflict" || body["field"] != s.field) {
			t.Errorf("%s: body %v; want conflict on %s", s.name, body, s.field)
		}
	}
	// Renaming a client onto a taken name conflicts too.
	g.client(t, ClientParams{ID: "other", Name: "other", GrantTypes: cc})
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/other", map[string]any{"name": "billing"}); code != 409 {
		t.Errorf("rename onto a taken name: %d %v; want 409", code, body)
	}
	// The stored username is the normalised one.
	code, body := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/users?username=ALICE", nil)
	users, _ := body["users"].([]any)
	if code != 200 || len(users) != 1 || users[0].(map[string]any)["username"] != "alice" {
		t.Errorf("GET /users?username=ALICE = %d %v; want alice", code, body)
	}
}

func TestAPIClientLifecycle(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	code, created := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients", ClientParams{
		Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read", "write"},
		Audiences: []string{"api"}, Roles: []string{"service"}, Claims: map[string]any{"tenant": "acme", "tier": 2},
		TokenLifetimeSeconds: 300,
	})
	if code != 201 {
		t.Fatalf("create client: %d %v", code, created)
	}
	id, secret := created["id"].(string), created["client_secret"].(string)
	if id == "" || len(secret) < 43 {
		t.Fatalf("create client: id %q, secret %q; want an id and a 256-bit secret", id, secret)
	}
	// The secret works, and the token says what the client was given.
	at := g.token(t, id, secret)
	var claims map[string]any
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(at, ".")[1])
	json.Unmarshal(payload, &claims)
	if claims["tenant"] != "acme" || claims["tier"] != float64(2) || claims["exp"].(float64)-claims["iat"].(float64) != 300 {
		t.Errorf("token claims = %v; want tenant acme, tier 2, lifetime 300s", claims)
	}
	// GET and list never show a secret or digest.
	resp, raw := g.call(t, tok, http.MethodGet, PathPrefix+"/clients/"+id, nil)
	if resp.StatusCode != 200 || strings.Contains(string(raw), secret) || strings.Contains(strings.ToLower(string(raw)), "hash") {
		t.Errorf("GET client = %d %s; want 200 without secret material", resp.StatusCode, raw)
	}
	resp, raw = g.call(t, tok, http.MethodGet, PathPrefix+"/clients", nil)
	if resp.StatusCode != 200 || strings.Contains(string(raw), secret) || !strings.Contains(string(raw), `"svc"`) {
		t.Errorf("list clients = %d %s", resp.StatusCode, raw)
	}

	// PATCH changes only what it names.
	code, patched := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+id, map[string]any{"roles": []string{"service", "batch"}, "token_lifetime_seconds": 0})
	if code != 200 || !slices.Equal(toStrings(patched["roles"]), []string{"service", "batch"}) ||
		!slices.Equal(toStrings(patched["scopes"]), []string{"read", "write"}) || patched["token_lifetime_seconds"] != float64(0) {
		t.Errorf("PATCH = %d %v", code, patched)
	}
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+id, map[string]any{"claims": map[string]any{"jti": "x"}}); code != 400 || body["field"] != "claims.jti" {
		t.Errorf("PATCH reserved claim = %d %v; want 400 claims.jti", code, body)
	}

	// Rotation without grace stops the old secret at once.
	code, rot := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients/"+id+"/rotate-secret", nil)
	if code != 200 || rot["client_secret"] == secret || rot["previous_secret_expires_at"] != nil {
		t.Fatalf("rotate = %d %v", code, rot)
	}
	second := rot["client_secret"].(string)
	if code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"client_credentials"}}, id, secret); code != 401 || body["error"] != "invalid_client" {
		t.Errorf("old secret after rotation: %d %v; want 401 invalid_client", code, body)
	}
	g.token(t, id, second)

	// With a grace period the old secret works until it ends.
	code, rot = g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients/"+id+"/rotate-secret", RotateParams{GraceSeconds: 3600})
	if code != 200 || rot["previous_secret_expires_at"] == nil {
		t.Fatalf("rotate with grace = %d %v", code, rot)
	}
	third := rot["client_secret"].(string)
	g.token(t, id, second)
	g.token(t, id, third)
	if _, got := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/clients/"+id, nil); got["previous_secret_expires_at"] == nil {
		t.Errorf("client during grace = %v; want previous_secret_expires_at", got)
	}
	// The token endpoint alone sees the clock move: fosite stamps "exp"
	// from the real clock, so tokens issued meanwhile would not verify.
	g.clock.advance(time.Hour + time.Minute)
	if code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"client_credentials"}}, id, second); code != 401 {
		t.Errorf("old secret after the grace period: %d %v; want 401", code, body)
	}
	g.token(t, id, third)
	g.clock.advance(-time.Hour - time.Minute)

	// Disabling refuses its grants; deleting removes it.
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+id, map[string]any{"disabled": true}); code != 200 || body["disabled"] != true {
		t.Errorf("disable client = %d %v", code, body)
	}
	if code, _ := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"client_credentials"}}, id, third); code != 401 {
		t.Errorf("disabled client's grant: %d; want 401", code)
	}
	if resp, _ := g.call(t, tok, http.MethodDelete, PathPrefix+"/clients/"+id, nil); resp.StatusCode != 204 {
		t.Errorf("DELETE client = %d; want 204", resp.StatusCode)
	}
	if code, _ := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/clients/"+id, nil); code != 404 {
		t.Errorf("GET deleted client = %d; want 404", code)
	}
	if code, _ := g.callJSON(t, tok, http.MethodDelete, PathPrefix+"/clients/"+id, nil); code != 404 {
		t.Errorf("DELETE deleted client = %d; want 404", code)
	}

	// Every change was audited by the admin client, with no secret.
	log := g.audit.String()
	for _, action := range []string{"client.create", "client.update", "client.rotate_secret", "client.delete"} {
		if !strings.Contains(log, `"action":"`+action+`"`) {
			t.Errorf("audit log lacks %s:\n%s", action, log)
		}
	}
	if !strings.Contains(log, `"actor":"client:`) {
		t.Errorf("audit log does not name the admin client as actor:\n%s", log)
	}
	for _, s := range []string{secret, second, third} {
		if strings.Contains(log, s) {
			t.Errorf("audit log contains a client secret")
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, x := range v.([]any) {
		out = append(out, x.(string))
	}
	return out
}

// userSession logs a user in with the password grant and offline_access.
func (g *gatehouse) userSession(t *testing.T, clientID, clientSecret, username, password string) (access, refresh string) {
	t.Helper()
	code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {username},
		"password": {password}, "scope": {"read offline_access"}}, clientID, clientSecret)
	if code != 200 {
		t.Fatalf("password grant for %s: %d %v", username, code, body)
	}
	return body["access_token"].(string), body["refresh_token"].(string)
}

func TestAPIUserLifecycle(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	appID, appSecret := g.client(t, ClientParams{Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "offline_access"}})
	rsID, rsSecret := g.client(t, ClientParams{Name: "rs", GrantTypes: []string{"client_credentials"}})
	active := func(at string) any {
		t.Helper()
		_, body := g.form(t, discovery.IntrospectionPath, url.Values{"token": {at}}, rsID, rsSecret)
		return body["active"]
	}
	refresh := func(rt string) (int, map[string]any) {
		t.Helper()
		return g.form(t, discovery.TokenPath, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, appID, appSecret)
	}

	// Create with a given password; create with a generated one.
	code, carol := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users", UserParams{Username: "Carol", Password: "pw-carol-123", Roles: []string{"user"}})
	if code != 201 || carol["username"] != "carol" || carol["password"] != nil {
		t.Fatalf("create carol = %d %v", code, carol)
	}
	code, dan := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users", UserParams{Username: "dan"})
	danPassword, _ := dan["password"].(string)
	if code != 201 || len(danPassword) < 20 {
		t.Fatalf("create dan = %d %v; want a generated password", code, dan)
	}
	carolID, danID := carol["id"].(string), dan["id"].(string)

	// Role changes show in the next access token.
	_, carolRT := g.userSession(t, appID, appSecret, "CAROL", "pw-carol-123")
	if code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users/"+carolID+"/roles", RolesParams{Roles: []string{"editor", "user"}}); code != 200 || !slices.Equal(toStrings(body["roles"]), []string{"user", "editor"}) {
		t.Fatalf("add roles = %d %v", code, body)
	}
	if code, body := g.callJSON(t, tok, http.MethodDelete, PathPrefix+"/users/"+carolID+"/roles/user", nil); code != 200 || !slices.Equal(toStrings(body["roles"]), []string{"editor"}) {
		t.Fatalf("remove role = %d %v", code, body)
	}
	code, body := refresh(carolRT)
	if code != 200 {
		t.Fatalf("refresh = %d %v", code, body)
	}
	var claims struct {
		Roles []string `json:"roles"`
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(body["access_token"].(string), ".")[1])
	json.Unmarshal(payload, &claims)
	if !slices.Equal(claims.Roles, []string{"editor"}) {
		t.Errorf("roles after refresh = %v; want [editor]", claims.Roles)
	}
	carolAT, carolRT := body["access_token"].(string), body["refresh_token"].(string)

	// Disabling kills the refresh token and, at introspection, the access
	// token at once.
	if active(carolAT) != true {
		t.Fatal("carol's access token inactive before disabling")
	}
	if code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users/"+carolID+"/disable", nil); code != 200 || body["disabled"] != true {
		t.Fatalf("disable = %d %v", code, body)
	}
	if code, body := refresh(carolRT); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh of a disabled user = %d %v; want 400 invalid_grant", code, body)
	}
	if active(carolAT) != false {
		t.Error("access token of a disabled user is still active at introspection")
	}
	if code, _ := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"pw-carol-123"}}, appID, appSecret); code != 400 {
		t.Errorf("password grant of a disabled user = %d; want 400", code)
	}
	// Enabled again, carol logs in anew; the old refresh token stays dead.
	if code, _ := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users/"+carolID+"/enable", nil); code != 200 {
		t.Fatalf("enable = %d", code)
	}
	if code, _ := refresh(carolRT); code != 400 {
		t.Errorf("old refresh token after enable = %d; want 400", code)
	}
	g.userSession(t, appID, appSecret, "carol", "pw-carol-123")

	// Setting a password: the old one stops, sessions end.
	danAT, danRT := g.userSession(t, appID, appSecret, "dan", danPassword)
	if resp, _ := g.call(t, tok, http.MethodPut, PathPrefix+"/users/"+danID+"/password", PasswordParams{Password: "new-dan-pass"}); resp.StatusCode != 204 {
		t.Errorf("set password = %d; want 204", resp.StatusCode)
	}
	if code, _ := refresh(danRT); code != 400 {
		t.Errorf("refresh after password change = %d; want 400", code)
	}
	if code, _ := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {"dan"}, "password": {danPassword}}, appID, appSecret); code != 400 {
		t.Errorf("old password = %d; want 400", code)
	}
	code, gen := g.callJSON(t, tok, http.MethodPut, PathPrefix+"/users/"+danID+"/password", nil)
	if code != 200 || gen["password"] == nil {
		t.Fatalf("generate password = %d %v", code, gen)
	}
	danAT, danRT = g.userSession(t, appID, appSecret, "dan", gen["password"].(string))

	// Deleting a user kills its tokens too.
	if resp, _ := g.call(t, tok, http.MethodDelete, PathPrefix+"/users/"+danID, nil); resp.StatusCode != 204 {
		t.Fatalf("delete user = %d", resp.StatusCode)
	}
	if code, _ := refresh(danRT); code != 400 {
		t.Errorf("refresh of a deleted user = %d; want 400", code)
	}
	if active(danAT) != false {
		t.Error("access token of a deleted user is still active at introspection")
	}
	if code, body := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/users", nil); code != 200 || len(body["users"].([]any)) != 1 {
		t.Errorf("list users = %d %v; want carol alone", code, body)
	}

	// Deleting the client kills the families it holds.
	carolAT, _ = g.userSession(t, appID, appSecret, "carol", "pw-carol-123")
	if resp, _ := g.call(t, tok, http.MethodDelete, PathPrefix+"/clients/"+appID, nil); resp.StatusCode != 204 {
		t.Fatalf("delete client = %d", resp.StatusCode)
	}
	if active(carolAT) != false {
		t.Error("access token of a deleted client's family is still active")
	}

	log := g.audit.String()
	for _, s := range []string{"pw-carol-123", "new-dan-pass", danPassword, gen["password"].(string), "$argon2id$"} {
		if strings.Contains(log, s) {
			t.Errorf("audit log contains a password or hash (%q)", s)
		}
	}
	for _, action := range []string{"user.create", "user.roles_add", "user.roles_remove", "user.disable", "user.enable", "user.set_password", "user.delete"} {
		if !strings.Contains(log, `"action":"`+action+`"`) {
			t.Errorf("audit log lacks %s", action)
		}
	}
}

// TestAPIAuthLeeway checks that AuthConfig.Leeway reaches the claims check
// (verifier.ValidateClaims): 45 s past exp, a token is refused with the
// default 30 s and accepted with a minute.
func TestAPIAuthLeeway(t *testing.T) {
	g := startGatehouse(t)
	token := g.adminToken(t)
	later := func() time.Time { return g.clock.now().Add(oauth.DefaultAccessTokenLifetime + 45*time.Second) }
	for _, tt := range []struct {
		leeway time.Duration
		want   int
	}{{0, http.StatusUnauthorized}, {time.Minute, http.StatusOK}} {
		auth, err := NewAuth(AuthConfig{Issuer: g.issuer, Local: g.router, Now: later, Leeway: tt.leeway})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, PathPrefix+"/users", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		NewHandler(g.svc, auth).ServeHTTP(rec, req)
		if rec.Code != tt.want {
			t.Errorf("leeway %v: GET /users 45s past exp = %d %s; want %d", tt.leeway, rec.Code, rec.Body, tt.want)
		}
	}
}

// The admin API registers a token-exchange service (RFC 8693) like any
// confidential client, and refuses the grant for a public one, on
// creation and when a client is made public.
func TestAPITokenExchangeClient(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	te := oauth.GrantTypeTokenExchange
	code, created := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients", ClientParams{
		ID: "orders-api", Name: "orders", GrantTypes: []string{te}, Scopes: []string{"read"}, Audiences: []string{"inventory-api"},
	})
	if code != 201 || !slices.Equal(toStrings(created["grant_types"]), []string{te}) {
		t.Fatalf("create token-exchange client: %d %v", code, created)
	}
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/orders-api", map[string]any{"public": true}); code != 400 || body["field"] != "grant_types" {
		t.Errorf("PATCH public on a token-exchange client: %d %v; want 400 grant_types", code, body)
	}
}
