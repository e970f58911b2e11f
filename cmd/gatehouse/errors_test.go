package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

func mustGet(t testing.TB, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// TestTokenErrors is the RFC 6749 section 5.2 table (design D9).
func TestTokenErrors(t *testing.T) {
	ts := startServer(t, nil)
	ccSecret := ts.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audiences: []string{"api"}})
	pwSecret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "offline_access"}})
	ts.addUser(t, "u-1", "erin", "pw-erin-123", "user")

	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	cc := form("grant_type", "client_credentials")
	tests := []struct {
		name        string
		method      string
		contentType string
		body        string
		user, pass  string
		wantStatus  int
		wantError   string
		wantBasic   bool // WWW-Authenticate: Basic
	}{
		{name: "unknown client (basic)", body: cc, user: "ghost", pass: "x", wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "wrong secret (basic)", body: cc, user: "svc", pass: "wrong", wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "wrong secret (post)", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", "wrong"), wantStatus: 401, wantError: "invalid_client"},
		{name: "no client authentication", body: cc, wantStatus: 401, wantError: "invalid_client"},
		{name: "grant not allowed for client", body: form("grant_type", "password", "username", "erin", "password", "pw-erin-123"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unauthorized_client"},
		{name: "unknown grant", body: form("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "authorization_code not served", body: form("grant_type", "authorization_code", "code", "x"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "missing grant_type", body: form("scope", "read"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "scope not allowed", body: form("grant_type", "client_credentials", "scope", "admin"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_scope"},
		{name: "audience not allowed", body: form("grant_type", "client_credentials", "audience", "payroll"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_target"},
		{name: "resource not a URI", body: form("grant_type", "client_credentials", "resource", "relative/path"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_target"},
		{name: "wrong password", body: form("grant_type", "password", "username", "erin", "password", "nope"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown user", body: form("grant_type", "password", "username", "nobody", "password", "nope"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "missing password", body: form("grant_type", "password", "username", "erin"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "unknown refresh token", body: form("grant_type", "refresh_token", "refresh_token", "ory_rt_x.y"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		// RFC 6749 section 5.2: a missing required parameter is invalid_request.
		{name: "missing refresh token", body: form("grant_type", "refresh_token"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "first-format refresh token", body: form("grant_type", "refresh_token", "refresh_token", "ory_rt_AAAA.BBBB"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "truncated refresh token", body: form("grant_type", "refresh_token", "refresh_token", "ghr1.fam.1.AAAA"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh token with NUL", body: form("grant_type", "refresh_token", "refresh_token", "ghr1.fa\x00m.1."+strings.Repeat("A", 43)+"."+strings.Repeat("A", 43)), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh token of an unknown family", body: form("grant_type", "refresh_token", "refresh_token", "ghr1.fam.1."+strings.Repeat("A", 43)+"."+strings.Repeat("A", 43)), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "repeated parameter", body: cc + "&grant_type=client_credentials", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated scope", body: cc + "&scope=read&scope=read", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "GET", method: http.MethodGet, user: "svc", pass: ccSecret, wantStatus: 405, wantError: "invalid_request"},
		{name: "JSON body", contentType: "application/json", body: `{"grant_type":"client_credentials"}`, user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "no content type", contentType: "-", body: cc, user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "body over 64 KiB", body: cc + "&pad=" + strings.Repeat("a", 70<<10), user: "svc", pass: ccSecret, wantStatus: 413, wantError: "invalid_request"},
		{name: "bad form encoding", body: "grant_type=%zz", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "client secret in both header and body", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", ccSecret), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
	}
	bodies := map[string]string{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, ts.URL+"/oauth2/token", strings.NewReader(tt.body))
			switch tt.contentType {
			case "":
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			case "-":
			default:
				req.Header.Set("Content-Type", tt.contentType)
			}
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, body := do(t, req)
			if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
				t.Errorf("got %d %v; want %d %s", resp.StatusCode, body, tt.wantStatus, tt.wantError)
			}
			if _, ok := body["access_token"]; ok {
				t.Errorf("error response carries a token: %v", body)
			}
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", cc)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			if gotBasic := strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic"); gotBasic != tt.wantBasic {
				t.Errorf("WWW-Authenticate = %q; want Basic challenge: %v", resp.Header.Get("WWW-Authenticate"), tt.wantBasic)
			}
			if d, _ := body["error_description"].(string); strings.Contains(strings.ToLower(d), "storage") || strings.Contains(d, "%!") {
				t.Errorf("error_description leaks internals: %q", d)
			}
			bodies[tt.name], _ = body["error_description"].(string)
		})
	}
	// Wrong password and unknown user are indistinguishable.
	if bodies["wrong password"] != bodies["unknown user"] {
		t.Errorf("wrong password and unknown user differ:\n%q\n%q", bodies["wrong password"], bodies["unknown user"])
	}
}
