package main

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

func mustGet(t testing.TB, u string) *http.Request {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

// Rows of the README's error table (section "Errors"), by their first
// column.
const (
	rowClient      = "unknown client, wrong secret, no client authentication"
	rowUnauthz     = "grant not registered for the client"
	rowGrantType   = "grant type not served"
	rowScope       = "scope not registered for the client, or wider than the original grant on refresh"
	rowTarget      = "audience/resource not registered for the client"
	rowGrant       = "wrong password or unknown user (same body), bad/rotated/revoked/expired or first-format refresh token, disabled or deleted user or client on refresh"
	rowRequest     = "missing or repeated parameter, two client authentication methods, non-form body"
	rowExchange    = "token exchange: missing, unsupported or unusable `subject_token` (forged, expired, revoked, not issued for the client, a disabled user's), an actor token, a `requested_token_type` other than an access token"
	rowInput       = "NUL byte, invalid UTF-8 or over-long value in any parameter or in the Basic credentials"
	rowGET         = "GET"
	rowTooBig      = "body over 64 KiB"
	rowUnavailable = "database unreachable"
)

// rowsTestedElsewhere names the test that covers a row TestTokenErrors
// cannot set up.
var rowsTestedElsewhere = map[string]string{
	rowUnavailable: "TestDatabaseOutage",
	"JWT bearer assertion refused: untrusted or disabled issuer, bad signature or algorithm, wrong `typ` or audience, expired, too old, no `jti`, replayed, unknown or disabled subject": "TestJWTBearerGrant, TestJWTBearerUserSubject, oauth.TestVerifyTrusted",
	"a trusted issuer's keys cannot be fetched and none are cached": "TestJWTBearerRequestErrors, oauth.TestVerifyTrustedSlowIssuer",
	"client assertion (`private_key_jwt`) expired, not yet valid, living over an hour, replayed, wrong `aud`/`iss`/`sub`, no `jti`, unknown `kid`, bad signature, algorithm not allowed, or keys unreachable at its `jwks_uri`": "TestPrivateKeyJWTRefused, TestPrivateKeyJWTReplay, TestPrivateKeyJWTSlowKeys",
	"password attempts past a throttle limit (see [Security](#security-password-guessing))":                                                                                     "TestThrottleOwnerFromAnotherAddress, TestMetrics",
	"password hashing at capacity: queue full, or the request's deadline passed while waiting":                                                                                  "TestPasswordHashingBounded",
	"an LDAP directory down, silent past its timeout or refusing the service account, for a directory user's login or refresh (see [LDAP](#sign-in-against-an-ldap-directory))": "TestLDAPDirectoryDown, directory.TestUnavailable",
}

// TestTokenErrors is the RFC 6749 section 5.2 table (design D9): every row
// of the README's error table, each case citing the section that fixes its
// answer.
func TestTokenErrors(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	ccSecret := ts.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audiences: []string{"api"}})
	pwSecret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "offline_access"}})
	offSecret := ts.addClient(t, storage.Client{ID: "off", Name: "off", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "offline_access"}})
	txSecret := ts.addClient(t, storage.Client{ID: "tx", Name: "tx", GrantTypes: []string{oauth.GrantTypeTokenExchange}, Scopes: []string{"read"}, Audiences: []string{"api"}})
	ts.addUser(t, "u-1", "erin", "pw-erin-123", "user")
	ts.addUser(t, "u-2", "dora", "pw-dora-123", "user")

	form := func(kv ...string) string {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v.Encode()
	}
	login := func(client, secret, user, pw string) string {
		t.Helper()
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}, "scope": {"read offline_access"}}, client, secret)
		if resp.StatusCode != 200 {
			t.Fatalf("password grant: %d %v", resp.StatusCode, body)
		}
		return body["refresh_token"].(string)
	}
	refreshForm := func(rt string) string { return form("grant_type", "refresh_token", "refresh_token", rt) }
	// A rotated token: refreshed once, its successor kept.
	rotated := login("app", pwSecret, "erin", "pw-erin-123")
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rotated}}, "app", pwSecret); resp.StatusCode != 200 {
		t.Fatalf("refresh: %d %v", resp.StatusCode, body)
	}
	revoked := login("app", pwSecret, "erin", "pw-erin-123")
	if resp, _ := ts.post(t, "/oauth2/revoke", url.Values{"token": {revoked}}, "app", pwSecret); resp.StatusCode != 200 {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	// Disabled in the store, without the admin service's revocation, so
	// that only the disabled flag refuses the refresh.
	ofDisabledUser := login("app", pwSecret, "dora", "pw-dora-123")
	ts.app.store.UpdateUser(ctx, "u-2", func(u storage.User) (storage.User, error) { u.Disabled = true; return u, nil })
	ofDisabledClient := login("off", offSecret, "erin", "pw-erin-123")
	ts.app.store.UpdateClient(ctx, "off", func(c storage.Client) (storage.Client, error) { c.Disabled = true; return c, nil })

	cc := form("grant_type", "client_credentials")
	exchange := func(subject string, kv ...string) string {
		return form(append([]string{"grant_type", oauth.GrantTypeTokenExchange, "subject_token", subject, "subject_token_type", oauth.TokenTypeAccessToken}, kv...)...)
	}
	tests := []struct {
		name        string
		row         string // the README row
		rfc         string // where the answer comes from
		method      string
		contentType string
		body        string
		user, pass  string
		wantStatus  int
		wantError   string
		wantBasic   bool // WWW-Authenticate: Basic
		// wantHint, when set, must appear in error_description: the
		// description has to say what happened.
		wantHint string
	}{
		{name: "unknown client (basic)", row: rowClient, rfc: "RFC 6749 5.2", body: cc, user: "ghost", pass: "x", wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "wrong secret (basic)", row: rowClient, rfc: "RFC 6749 5.2", body: cc, user: "svc", pass: "wrong", wantStatus: 401, wantError: "invalid_client", wantBasic: true},
		{name: "wrong secret (post)", row: rowClient, rfc: "RFC 6749 5.2", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", "wrong"), wantStatus: 401, wantError: "invalid_client"},
		{name: "no client authentication", row: rowClient, rfc: "RFC 6749 5.2", body: cc, wantStatus: 401, wantError: "invalid_client"},
		{name: "grant not allowed for client", row: rowUnauthz, rfc: "RFC 6749 5.2", body: form("grant_type", "password", "username", "erin", "password", "pw-erin-123"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unauthorized_client"},
		{name: "unknown grant", row: rowGrantType, rfc: "RFC 6749 5.2", body: form("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unsupported_grant_type"},
		{name: "authorization_code not allowed for client", row: rowUnauthz, rfc: "RFC 6749 5.2", body: form("grant_type", "authorization_code", "code", "x"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unauthorized_client"},
		{name: "missing grant_type", row: rowRequest, rfc: "RFC 6749 5.2", body: form("scope", "read"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "scope not allowed", row: rowScope, rfc: "RFC 6749 5.2", body: form("grant_type", "client_credentials", "scope", "admin"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_scope"},
		{name: "wider scope on refresh", row: rowScope, rfc: "RFC 6749 6", body: form("grant_type", "refresh_token", "refresh_token", login("app", pwSecret, "erin", "pw-erin-123"), "scope", "read write"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_scope"},
		{name: "audience not allowed", row: rowTarget, rfc: "RFC 8707 2", body: form("grant_type", "client_credentials", "audience", "payroll"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_target"},
		{name: "resource not a URI", row: rowTarget, rfc: "RFC 8707 2", body: form("grant_type", "client_credentials", "resource", "relative/path"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_target"},
		{name: "wrong password", row: rowGrant, rfc: "RFC 6749 5.2", body: form("grant_type", "password", "username", "erin", "password", "nope"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown user", row: rowGrant, rfc: "RFC 6749 5.2", body: form("grant_type", "password", "username", "nobody", "password", "nope"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "unknown refresh token", row: rowGrant, rfc: "RFC 6749 5.2", body: refreshForm("ory_rt_x.y"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "first-format refresh token", row: rowGrant, rfc: "RFC 6749 5.2", body: refreshForm("ory_rt_AAAA.BBBB"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "truncated refresh token", row: rowGrant, rfc: "RFC 6749 5.2", body: refreshForm("ghr1.fam.1.AAAA"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh token of an unknown family", row: rowGrant, rfc: "RFC 6749 5.2", body: refreshForm("ghr1.fam.1." + strings.Repeat("A", 43) + "." + strings.Repeat("A", 43)), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "refresh token with NUL", row: rowInput, rfc: "RFC 6749 5.2 (malformed)", body: refreshForm("ghr1.fa\x00m.1." + strings.Repeat("A", 43) + "." + strings.Repeat("A", 43)), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "rotated refresh token", row: rowGrant, rfc: "RFC 6749 5.2, RFC 9700 4.14.2", body: refreshForm(rotated), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant", wantHint: "already used"},
		{name: "revoked refresh token", row: rowGrant, rfc: "RFC 6749 5.2, RFC 7009 2.1", body: refreshForm(revoked), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant", wantHint: "revoked"},
		{name: "refresh for a disabled user", row: rowGrant, rfc: "RFC 6749 5.2 (the grant is revoked)", body: refreshForm(ofDisabledUser), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_grant", wantHint: "The user is disabled"},
		{name: "refresh by a disabled client", row: rowGrant, rfc: "RFC 6749 5.2 (the grant is revoked)", body: refreshForm(ofDisabledClient), user: "off", pass: offSecret, wantStatus: 400, wantError: "invalid_grant"},
		{name: "token exchange not allowed for client", row: rowUnauthz, rfc: "RFC 8693 2.2.2, RFC 6749 5.2", body: exchange("a.b.c"), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "unauthorized_client"},
		{name: "token exchange: missing subject_token", row: rowExchange, rfc: "RFC 8693 2.1, 2.2.2", body: form("grant_type", oauth.GrantTypeTokenExchange, "subject_token_type", oauth.TokenTypeAccessToken), user: "tx", pass: txSecret, wantStatus: 400, wantError: "invalid_request", wantHint: "subject_token"},
		{name: "token exchange: forged subject_token", row: rowExchange, rfc: "RFC 8693 2.2.2", body: exchange("a.b.c"), user: "tx", pass: txSecret, wantStatus: 400, wantError: "invalid_request", wantHint: "subject_token"},
		{name: "token exchange: actor token", row: rowExchange, rfc: "RFC 8693 2.1, 2.2.2", body: exchange("a.b.c", "actor_token", "a.b.c", "actor_token_type", oauth.TokenTypeAccessToken), user: "tx", pass: txSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "token exchange: requested_token_type id_token", row: rowExchange, rfc: "RFC 8693 2.1, 2.2.2", body: exchange("a.b.c", "requested_token_type", "urn:ietf:params:oauth:token-type:id_token"), user: "tx", pass: txSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "token exchange: audience not allowed", row: rowTarget, rfc: "RFC 8693 2.2.2", body: exchange("a.b.c", "audience", "payroll"), user: "tx", pass: txSecret, wantStatus: 400, wantError: "invalid_target"},
		{name: "missing password", row: rowRequest, rfc: "RFC 6749 4.3.2, 5.2", body: form("grant_type", "password", "username", "erin"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "missing refresh token", row: rowRequest, rfc: "RFC 6749 6, 5.2", body: form("grant_type", "refresh_token"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "empty refresh token", row: rowRequest, rfc: "RFC 6749 6, 5.2", body: form("grant_type", "refresh_token", "refresh_token", ""), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated parameter", row: rowRequest, rfc: "RFC 6749 3.2", body: cc + "&grant_type=client_credentials", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "repeated scope", row: rowRequest, rfc: "RFC 6749 3.2", body: cc + "&scope=read&scope=read", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "client secret in both header and body", row: rowRequest, rfc: "RFC 6749 2.3", body: form("grant_type", "client_credentials", "client_id", "svc", "client_secret", ccSecret), user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "JSON body", row: rowRequest, rfc: "RFC 6749 3.2", contentType: "application/json", body: `{"grant_type":"client_credentials"}`, user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "no content type", row: rowRequest, rfc: "RFC 6749 3.2", contentType: "-", body: cc, user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "bad form encoding", row: rowRequest, rfc: "RFC 6749 3.2, 5.2", body: "grant_type=%zz", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "NUL in username", row: rowInput, rfc: "RFC 6749 5.2 (malformed)", body: form("grant_type", "password", "username", "erin\x00", "password", "x"), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "invalid UTF-8 in scope", row: rowInput, rfc: "RFC 6749 5.2 (malformed)", body: cc + "&scope=%FF", user: "svc", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "over-long password", row: rowInput, rfc: "RFC 6749 5.2 (malformed)", body: form("grant_type", "password", "username", "erin", "password", strings.Repeat("p", 2000)), user: "app", pass: pwSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "NUL in Basic client id", row: rowInput, rfc: "RFC 6749 2.3.1, 5.2", body: cc, user: "svc%00", pass: ccSecret, wantStatus: 400, wantError: "invalid_request"},
		{name: "GET", row: rowGET, rfc: "RFC 6749 3.2 (POST only)", method: http.MethodGet, user: "svc", pass: ccSecret, wantStatus: 405, wantError: "invalid_request"},
		{name: "body over 64 KiB", row: rowTooBig, rfc: "RFC 6749 5.2 (malformed), RFC 9110 15.5.14", body: cc + "&pad=" + strings.Repeat("a", 70<<10), user: "svc", pass: ccSecret, wantStatus: 413, wantError: "invalid_request"},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.row] = true
	}
	for _, row := range readmeErrorRows(t) {
		if !covered[row] && rowsTestedElsewhere[row] == "" {
			t.Errorf("README error row %q has no case", row)
		}
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
				t.Errorf("got %d %v; want %d %s (%s)", resp.StatusCode, body, tt.wantStatus, tt.wantError, tt.rfc)
			}
			if desc, _ := body["error_description"].(string); !strings.Contains(desc, tt.wantHint) {
				t.Errorf("error_description %q; want it to say %q", desc, tt.wantHint)
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

// readmeErrorRows returns the first column of every row of the README's
// error table.
func readmeErrorRows(t *testing.T) []string {
	t.Helper()
	f, err := os.Open("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rows []string
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Errors"
		case in && strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| case ") && !strings.HasPrefix(line, "|---"):
			rows = append(rows, strings.TrimSpace(strings.Split(line, "|")[1]))
		}
	}
	if len(rows) < 10 {
		t.Fatalf("README error table: %d rows found; the table moved?", len(rows))
	}
	return rows
}

// TestIntrospectRevokeErrors is the error table of the introspection (RFC
// 7662) and revocation (RFC 7009) endpoints, which answer in RFC 6749
// section 5.2's format.
func TestIntrospectRevokeErrors(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	_, tb := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "svc", secret)
	at := tb["access_token"].(string)
	tests := []struct {
		name, path, rfc string
		method          string
		form            url.Values
		user, pass      string
		wantStatus      int
		wantError       string // "" for a success
	}{
		{name: "introspect: no client authentication", path: "/oauth2/introspect", rfc: "RFC 7662 2.1, 2.3", form: url.Values{"token": {at}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "introspect: wrong secret", path: "/oauth2/introspect", rfc: "RFC 7662 2.3", form: url.Values{"token": {at}}, user: "svc", pass: "wrong", wantStatus: 401, wantError: "invalid_client"},
		{name: "introspect: missing token", path: "/oauth2/introspect", rfc: "RFC 7662 2.1 (token is REQUIRED), RFC 6749 5.2", form: url.Values{}, user: "svc", pass: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "introspect: GET", path: "/oauth2/introspect", rfc: "RFC 7662 2.1 (POST)", method: http.MethodGet, user: "svc", pass: secret, wantStatus: 405, wantError: "invalid_request"},
		{name: "introspect: NUL in token", path: "/oauth2/introspect", rfc: "RFC 6749 5.2 (malformed)", form: url.Values{"token": {"a\x00"}}, user: "svc", pass: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "introspect: unknown token", path: "/oauth2/introspect", rfc: "RFC 7662 2.2 (active false, 200)", form: url.Values{"token": {"nope"}}, user: "svc", pass: secret, wantStatus: 200},
		{name: "revoke: no client authentication", path: "/oauth2/revoke", rfc: "RFC 7009 2.1, 2.2.1", form: url.Values{"token": {at}}, wantStatus: 401, wantError: "invalid_client"},
		{name: "revoke: wrong secret", path: "/oauth2/revoke", rfc: "RFC 7009 2.2.1", form: url.Values{"token": {at}}, user: "svc", pass: "wrong", wantStatus: 401, wantError: "invalid_client"},
		{name: "revoke: missing token", path: "/oauth2/revoke", rfc: "RFC 7009 2.1 (token is REQUIRED), 2.2.1", form: url.Values{}, user: "svc", pass: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "revoke: GET", path: "/oauth2/revoke", rfc: "RFC 7009 2.1 (POST)", method: http.MethodGet, user: "svc", pass: secret, wantStatus: 405, wantError: "invalid_request"},
		{name: "revoke: invalid UTF-8 in token", path: "/oauth2/revoke", rfc: "RFC 6749 5.2 (malformed)", form: url.Values{"token": {"\xff"}}, user: "svc", pass: secret, wantStatus: 400, wantError: "invalid_request"},
		{name: "revoke: unknown token", path: "/oauth2/revoke", rfc: "RFC 7009 2.2 (invalid tokens get 200)", form: url.Values{"token": {"nope"}}, user: "svc", pass: secret, wantStatus: 200},
		{name: "revoke: unknown hint", path: "/oauth2/revoke", rfc: "RFC 7009 2.1 (the hint may be ignored)", form: url.Values{"token": {"nope"}, "token_type_hint": {"id_token"}}, user: "svc", pass: secret, wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			req, _ := http.NewRequest(method, ts.URL+tt.path, strings.NewReader(tt.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tt.user != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, body := do(t, req)
			got, _ := body["error"].(string)
			if resp.StatusCode != tt.wantStatus || got != tt.wantError {
				t.Errorf("got %d %v; want %d %q (%s)", resp.StatusCode, body, tt.wantStatus, tt.wantError, tt.rfc)
			}
			if tt.wantError != "" && resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", resp.Header.Get("Cache-Control"))
			}
		})
	}
}
