package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// hostileServers are the same server on the memory store and on
// PostgreSQL, which refuses NUL and invalid UTF-8 where the memory store
// would keep them.
func hostileServers(t *testing.T) map[string]*testServer {
	return map[string]*testServer{
		"memory":   startServer(t, nil),
		"postgres": startServer(t, withPostgres(pgtest.URL(t))),
	}
}

// adminAPI serves ts's admin API and returns its URL and an admin token.
func adminAPI(t testing.TB, ts *testServer) (string, string) {
	t.Helper()
	hs := httptest.NewServer(ts.app.adminHandler)
	t.Cleanup(hs.Close)
	c, err := ts.app.admin.CreateClient(context.Background(), admin.ClientParams{Name: "ops-admin", GrantTypes: []string{"client_credentials"}, Roles: []string{ts.app.cfg.AdminRole}})
	if err != nil {
		t.Fatal(err)
	}
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, c.ID, c.ClientSecret)
	if resp.StatusCode != 200 {
		t.Fatalf("admin token: %d %v", resp.StatusCode, body)
	}
	return hs.URL, body["access_token"].(string)
}

// TestHostileInputOAuth sends NUL bytes, invalid UTF-8 and over-long
// values in every parameter of the token, introspection and revocation
// endpoints, to both stores: each answer is 400 invalid_request (design
// D9), never a 500, and the password throttle never counts them.
func TestHostileInputOAuth(t *testing.T) {
	hostile := map[string]string{"NUL": "alice\x00", "invalid UTF-8": "alice\xff", "over-long": strings.Repeat("a", 20<<10)}
	for store, ts := range hostileServers(t) {
		secret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"client_credentials", "password", "refresh_token"}, Scopes: []string{"read", "offline_access"}, Audiences: []string{"api"}})
		ts.addUser(t, "u-1", "alice", "pw-alice-123", "user")
		base := map[string]url.Values{
			"/oauth2/token|password":      {"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-alice-123"}, "scope": {"read"}, "audience": {"api"}, "resource": {"https://api.example/"}},
			"/oauth2/token|refresh_token": {"grant_type": {"refresh_token"}, "refresh_token": {"ory_rt_x.y"}, "scope": {"read"}},
			"/oauth2/token|post-auth":     {"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {secret}},
			"/oauth2/introspect|":         {"token": {"a.b.c"}, "token_type_hint": {"access_token"}},
			"/oauth2/revoke|":             {"token": {"ory_rt_x.y"}, "token_type_hint": {"refresh_token"}},
		}
		for key, form := range base {
			path, _, _ := strings.Cut(key, "|")
			for param := range form {
				for what, v := range hostile {
					if what == "over-long" && param == "grant_type" {
						v = strings.Repeat("a", 200)
					}
					t.Run(store+" "+key+" "+param+" "+what, func(t *testing.T) {
						f := url.Values{}
						for k, vs := range form {
							f[k] = vs
						}
						f.Set(param, v)
						user, pass := "app", secret
						if f.Get("client_id") != "" {
							user, pass = "", ""
						}
						resp, body := ts.post(t, path, f, user, pass)
						if resp.StatusCode != 400 || body["error"] != "invalid_request" {
							t.Errorf("%s with %s %s: %d %v; want 400 invalid_request", path, what, param, resp.StatusCode, body)
						}
						if d, _ := body["error_description"].(string); strings.Contains(d, v) {
							t.Errorf("the description echoes the value: %q", d)
						}
					})
				}
			}
		}
		for what, v := range hostile {
			for _, cred := range []struct{ user, pass string }{{v, secret}, {"app", v}} {
				t.Run(store+" Basic "+what, func(t *testing.T) {
					// ts.post form-encodes the credentials (RFC 6749 section
					// 2.3.1); fosite decodes them again.
					resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, cred.user, cred.pass)
					if resp.StatusCode != 400 || body["error"] != "invalid_request" {
						t.Errorf("Basic %s: %d %v; want 400 invalid_request", what, resp.StatusCode, body)
					}
				})
			}
		}
		// None of it reaches the throttle: past its limit of 10 failures a
		// username would get 429.
		for i := range 12 {
			resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice\x00"}, "password": {"x"}}, "app", secret)
			if resp.StatusCode != 400 || body["error"] != "invalid_request" {
				t.Fatalf("%s: hostile login %d: %d %v; want 400 invalid_request", store, i+1, resp.StatusCode, body)
			}
		}
		if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw-alice-123"}}, "app", secret); resp.StatusCode != 200 {
			t.Errorf("%s: alice after the hostile requests: %d %v", store, resp.StatusCode, body)
		}
	}
}

// TestHostileInputAdmin sends NUL bytes, invalid UTF-8 and over-long
// values in the path, query and body of admin requests to both stores:
// each answer is 400 naming the field (design D9), and both stores agree.
func TestHostileInputAdmin(t *testing.T) {
	for store, ts := range hostileServers(t) {
		base, token := adminAPI(t, ts)
		tests := []struct {
			name, method, path, body string
			wantField                string
		}{
			{"NUL in user id", "GET", "/users/u-%00", "", "id"},
			{"invalid UTF-8 in user id", "GET", "/users/%FF", "", "id"},
			{"over-long user id", "GET", "/users/" + strings.Repeat("u", 300), "", "id"},
			{"NUL in client id", "GET", "/clients/c%00", "", "id"},
			{"invalid UTF-8 in client id", "DELETE", "/clients/%FF%FE", "", "id"},
			{"invalid UTF-8 in client id (patch)", "PATCH", "/clients/%FF", `{"name":"x"}`, "id"},
			{"NUL in role", "DELETE", "/users/u-1/roles/a%00", "", "role"},
			{"NUL in username query", "GET", "/users?username=alice%00", "", "username"},
			{"invalid UTF-8 in username query", "GET", "/users?username=%FF", "", "username"},
			{"NUL in a claim value", "POST", "/clients", `{"name":"n1","grant_types":["client_credentials"],"claims":{"tenant":"a\u0000b"}}`, "claims.tenant"},
			{"NUL in a nested claim value", "POST", "/clients", `{"name":"n2","grant_types":["client_credentials"],"claims":{"org":{"ids":["x","\u0000"]}}}`, "claims.org.ids"},
			{"NUL in a claim name", "POST", "/clients", `{"name":"n3","grant_types":["client_credentials"],"claims":{"a\u0000":"b"}}`, "claims"},
			{"invalid UTF-8 in a claim value", "POST", "/clients", "{\"name\":\"n4\",\"grant_types\":[\"client_credentials\"],\"claims\":{\"tenant\":\"\xff\"}}", "claims.tenant"},
			{"invalid UTF-8 in a claim name", "POST", "/clients", "{\"name\":\"n5\",\"grant_types\":[\"client_credentials\"],\"claims\":{\"\xff\":\"x\"}}", "claims"},
			{"NUL in a name", "POST", "/clients", `{"name":"a\u0000","grant_types":["client_credentials"]}`, "name"},
			{"invalid UTF-8 in a username", "POST", "/users", "{\"username\":\"bob\xff\"}", "username"},
			{"NUL in a username", "POST", "/users", `{"username":"bob\u0000"}`, "username"},
			{"NUL in a password", "POST", "/users", `{"username":"carl","password":"password\u0000x"}`, "password"},
			{"NUL in a role", "POST", "/users", `{"username":"dan","roles":["a\u0000"]}`, "roles"},
			{"NUL in an audience", "POST", "/clients", `{"name":"n6","grant_types":["client_credentials"],"audiences":["a\u0000"]}`, "audiences"},
			{"over-long name", "POST", "/clients", `{"name":"` + strings.Repeat("n", 200) + `","grant_types":["client_credentials"]}`, "name"},
			{"over-long audience", "POST", "/clients", `{"name":"n7","grant_types":["client_credentials"],"audiences":["` + strings.Repeat("a", 300) + `"]}`, "audiences"},
			{"over-long claims", "POST", "/clients", `{"name":"n8","grant_types":["client_credentials"],"claims":{"x":"` + strings.Repeat("c", 5000) + `"}}`, "claims"},
			{"over-long client id", "POST", "/clients", `{"id":"` + strings.Repeat("i", 200) + `","name":"n9","grant_types":["client_credentials"]}`, "id"},
			{"over-long username", "POST", "/users", `{"username":"` + strings.Repeat("u", 200) + `"}`, "username"},
			{"over-long password", "POST", "/users", `{"username":"erin","password":"` + strings.Repeat("p", 2000) + `"}`, "password"},
			{"over-long role", "POST", "/users", `{"username":"fay","roles":["` + strings.Repeat("r", 100) + `"]}`, "roles"},
		}
		for _, tt := range tests {
			t.Run(store+" "+tt.name, func(t *testing.T) {
				var body io.Reader
				if tt.body != "" {
					body = strings.NewReader(tt.body)
				}
				req, err := http.NewRequest(tt.method, base+admin.PathPrefix+tt.path, body)
				if err != nil {
					t.Fatal(err)
				}
				if body != nil {
					req.Header.Set("Content-Type", "application/json")
				}
				req.Header.Set("Authorization", "Bearer "+token)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				var got struct{ Error, Field string }
				json.NewDecoder(resp.Body).Decode(&got)
				if resp.StatusCode != 400 || got.Error != "invalid_request" || got.Field != tt.wantField {
					t.Errorf("%s %s: %d %+v; want 400 invalid_request naming %q", tt.method, tt.path, resp.StatusCode, got, tt.wantField)
				}
			})
		}
	}
}
