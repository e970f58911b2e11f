package main

import (
	"context"
	"errors"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// browser is a cookie-keeping HTTP client that stops at the relying
// party's redirect URI instead of following it.
type browser struct {
	*http.Client
	t *testing.T
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, Client: &http.Client{Jar: jar, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "127.0.0.1:45678" || strings.HasSuffix(req.URL.Path, "/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	}}}
}

// page fetches u and returns the response and its body.
func (b *browser) do(req *http.Request) (*http.Response, string) {
	b.t.Helper()
	resp, err := b.Client.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func (b *browser) get(u string) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return b.do(req)
}

func (b *browser) post(u string, form url.Values) (*http.Response, string) {
	req, _ := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

var hiddenField = regexp.MustCompile(`name="([a-z_]+)" value="([^"]*)"`)

// formFields returns the hidden fields of the page's form.
func formFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}

// relyingParty is a client application built on x/oauth2 and go-oidc.
type relyingParty struct {
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
	ts       *testServer
}

func newRP(t *testing.T, ts *testServer, clientID, secret string) *relyingParty {
	t.Helper()
	provider, err := oidc.NewProvider(context.Background(), ts.issuer)
	if err != nil {
		t.Fatalf("go-oidc: %v", err)
	}
	return &relyingParty{ts: ts, verifier: provider.Verifier(&oidc.Config{ClientID: clientID}), conf: &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, Endpoint: provider.Endpoint(),
		RedirectURL: "http://127.0.0.1:45678/callback", Scopes: []string{"openid", "profile", "offline_access"},
	}}
}

// start returns the authorization URL and the state, nonce and verifier.
func (rp *relyingParty) start(extra ...oauth2.AuthCodeOption) (authURL, state, nonce, verifier string) {
	state, nonce, verifier = oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()[:20], oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)}, extra...)
	return rp.conf.AuthCodeURL(state, opts...), state, nonce, verifier
}

// loginPage drives the login page and returns the redirect to the client.
func loginPage(t *testing.T, b *browser, authURL, username, password string) *url.URL {
	t.Helper()
	resp, page := b.get(authURL)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) {
		t.Fatalf("authorization request: %d, no login form:\n%s", resp.StatusCode, page)
	}
	form := formFields(page)
	form.Set("username", username)
	form.Set("password", password)
	resp, page = b.post(b.base(authURL), form)
	loc, err := resp.Location()
	if err != nil {
		t.Fatalf("login: %d, no redirect:\n%s", resp.StatusCode, page)
	}
	return loc
}

func (b *browser) base(authURL string) string {
	u, _ := url.Parse(authURL)
	return u.Scheme + "://" + u.Host + u.Path
}

// TestAuthorizationCodeFlow logs a user in through the hosted login page
// with a relying party built on x/oauth2 and go-oidc (RFC 6749 section 4.1,
// RFC 7636, OIDC Core 1.0 section 3.1), on PostgreSQL, and checks each
// refusal the flow must make.
func TestAuthorizationCodeFlow(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access", "read"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-9", "heidi", "pw-heidi-123", "user")
	rp := newRP(t, ts, "webapp", secret)
	ctx := context.Background()

	// Log in, exchange the code, verify the ID token.
	b := newBrowser(t)
	authURL, state, nonce, verifier := rp.start()
	loc := loginPage(t, b, authURL, "heidi", "pw-heidi-123")
	q := loc.Query()
	if loc.Host != "127.0.0.1:45678" || q.Get("state") != state || q.Get("iss") != ts.issuer || q.Get("code") == "" {
		t.Fatalf("redirect %s; want the registered URI (any loopback port) with code, state and iss", loc)
	}
	code := q.Get("code")
	tok, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	idt, err := rp.verifier.Verify(ctx, tok.Extra("id_token").(string))
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if idt.Subject != "u-9" || idt.Nonce != nonce || idt.VerifyAccessToken(tok.AccessToken) != nil || tok.RefreshToken == "" {
		t.Errorf("ID token sub %q nonce %q (want u-9, %q), at_hash ok %v, refresh token %v", idt.Subject, idt.Nonce, nonce,
			idt.VerifyAccessToken(tok.AccessToken) == nil, tok.RefreshToken != "")
	}

	// The access token is an RFC 9068 token of the user, live until ...
	header, atClaims := jwtParts(t, tok.AccessToken)
	checkRegistered(t, ts, header, atClaims, 10*time.Minute)
	if atClaims["sub"] != "u-9" || atClaims["client_id"] != "webapp" || !slices.Equal(strs(atClaims["roles"]), []string{"user"}) {
		t.Errorf("access token claims %v; want sub u-9, client_id webapp, roles [user]", atClaims)
	}
	if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "webapp", secret); ib["active"] != true {
		t.Fatalf("access token from the code: %v; want active", ib)
	}
	// ... the code is used again: single use, and a second use revokes
	// what the first issued.
	if _, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("second use of a code: %v; want invalid_grant", err)
	}
	if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {tok.AccessToken}}, "webapp", secret); ib["active"] != false {
		t.Errorf("access token after its code was reused: %v; want inactive", ib)
	}
	if resp, _ := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "webapp", secret); resp.StatusCode != 400 {
		t.Errorf("refresh token after its code was reused: %d; want 400", resp.StatusCode)
	}

	// With the login session, a new authorization needs no login (SSO);
	// a wrong verifier is refused.
	authURL, _, _, _ = rp.start()
	resp, page := b.get(authURL)
	loc, err = resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("second authorization with a login session: %d %s; want a redirect with a code", resp.StatusCode, page)
	}
	if _, err := rp.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(oauth2.GenerateVerifier())); !isOAuthError(err, "invalid_grant") {
		t.Errorf("wrong PKCE verifier: %v; want invalid_grant", err)
	}
	// A token request whose redirect_uri differs from the authorization
	// request's (RFC 6749 section 4.1.3), even one that is registered.
	authURL, _, _, verifier = rp.start()
	resp, _ = b.get(authURL)
	loc, _ = resp.Location()
	other := *rp.conf
	other.RedirectURL = "http://127.0.0.1:45679/callback"
	if _, err := other.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); !isOAuthError(err, "invalid_grant") {
		t.Errorf("code redeemed with another redirect_uri: %v; want invalid_grant", err)
	}

	// A wrong password shows an error on the page and issues nothing.
	b2 := newBrowser(t)
	authURL, _, _, _ = rp.start()
	_, page = b2.get(authURL)
	form := formFields(page)
	form.Set("username", "heidi")
	form.Set("password", "wrong")
	resp, page = b2.post(b2.base(authURL), form)
	if resp.StatusCode != 200 || resp.Header.Get("Location") != "" || !strings.Contains(page, "wrong") || !strings.Contains(page, `role="alert"`) {
		t.Errorf("wrong password: %d, Location %q; want the login page with an error", resp.StatusCode, resp.Header.Get("Location"))
	}
	// A form without the CSRF token is refused.
	form.Set("password", "pw-heidi-123")
	form.Del("csrf_token")
	if resp, _ := b2.post(b2.base(authURL), form); resp.StatusCode != http.StatusForbidden || resp.Header.Get("Location") != "" {
		t.Errorf("login without the CSRF token: %d; want 403", resp.StatusCode)
	}
	// Pages are not framable and load nothing from elsewhere.
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy = %q", csp)
	}

	// Requests that must never redirect: an unregistered redirect URI (an
	// open-redirect attempt) and an unknown client.
	for name, u := range map[string]string{
		"unregistered redirect_uri": strings.Replace(authURL, url.QueryEscape("http://127.0.0.1:45678/callback"), url.QueryEscape("https://evil.example/callback"), 1),
		"unknown client":            strings.Replace(authURL, "client_id=webapp", "client_id=nobody", 1),
	} {
		resp, _ := newBrowser(t).get(u)
		if resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q; want an error page, no redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// Without PKCE, or with plain, the client hears invalid_request.
	noPKCE := rp.conf.AuthCodeURL("state-1234567890", oidc.Nonce("nonce-1234567890"))
	plain := noPKCE + "&code_challenge=abcdefghijklmnopqrstuvwxyzabcdefghijklmnopq&code_challenge_method=plain"
	for name, u := range map[string]string{"no PKCE": noPKCE, "plain PKCE": plain} {
		resp, _ := b.get(u)
		loc, err := resp.Location()
		if err != nil || loc.Query().Get("error") != "invalid_request" || loc.Query().Get("iss") != ts.issuer {
			t.Errorf("%s: %d %v; want a redirect with error=invalid_request and iss", name, resp.StatusCode, loc)
		}
	}
	// prompt=none without a login session: login_required.
	authURL, _, _, _ = rp.start(oauth2.SetAuthURLParam("prompt", "none"))
	resp, _ = newBrowser(t).get(authURL)
	if loc, err := resp.Location(); err != nil || loc.Query().Get("error") != "login_required" {
		t.Errorf("prompt=none without a session: %d %v; want error=login_required", resp.StatusCode, loc)
	}
}

// TestCodeRedeemedConcurrently: N token requests with one code at once,
// on PostgreSQL: exactly one gets tokens (RFC 6749 section 4.1.2).
func TestCodeRedeemedConcurrently(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-9", "heidi", "pw-heidi-123", "user")
	rp := newRP(t, ts, "webapp", secret)
	rp.conf.Scopes = []string{"openid", "offline_access"}
	b := newBrowser(t)
	for round := range 5 {
		authURL, _, _, verifier := rp.start()
		var loc *url.URL
		if round == 0 {
			loc = loginPage(t, b, authURL, "heidi", "pw-heidi-123")
		} else {
			resp, _ := b.get(authURL)
			loc, _ = resp.Location()
		}
		code := loc.Query().Get("code")
		const n = 10
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, _ := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"authorization_code"}, "code": {code},
					"redirect_uri": {rp.conf.RedirectURL}, "code_verifier": {verifier}}, "webapp", secret)
				mu.Lock()
				codes[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		if codes[200] != 1 || codes[400] != n-1 {
			t.Fatalf("round %d: %d concurrent redemptions of one code: %v; want one 200 and %d 400", round, n, codes, n-1)
		}
	}
}

// TestPublicAndThirdPartyClients: a public client (no secret) must use
// PKCE and redeems its code with only its client_id; a third-party client
// gets the consent page, and a denial goes back as access_denied.
func TestPublicAndThirdPartyClients(t *testing.T) {
	ts := startServer(t, nil)
	ts.addClient(t, storage.Client{ID: "spa", Name: "SPA", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	thirdSecret := ts.addClient(t, storage.Client{ID: "other", Name: "Other Corp", ThirdParty: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid", "profile"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-9", "heidi", "pw-heidi-123", "user")
	ctx := context.Background()

	spa := newRP(t, ts, "spa", "")
	spa.conf.Scopes = []string{"openid"}
	spa.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	b := newBrowser(t)
	authURL, _, _, verifier := spa.start()
	loc := loginPage(t, b, authURL, "heidi", "pw-heidi-123")
	tok, err := spa.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("public client exchange: %v", err)
	}
	if _, err := spa.verifier.Verify(ctx, tok.Extra("id_token").(string)); err != nil {
		t.Errorf("public client's ID token: %v", err)
	}

	other := newRP(t, ts, "other", thirdSecret)
	other.conf.Scopes = []string{"openid", "profile"}
	for _, decision := range []string{"allow", "deny"} {
		authURL, _, _, verifier := other.start()
		resp, page := b.get(authURL) // logged in already: the consent page
		if resp.StatusCode != 200 || !strings.Contains(page, "Other Corp") || !strings.Contains(page, `value="allow"`) {
			t.Fatalf("third-party client: %d; want the consent page:\n%s", resp.StatusCode, page)
		}
		form := formFields(page)
		form.Set("consent", decision)
		resp, _ = b.post(b.base(authURL), form)
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("consent %s: %d, no redirect", decision, resp.StatusCode)
		}
		switch decision {
		case "allow":
			if _, err := other.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier)); err != nil {
				t.Errorf("code after consent: %v", err)
			}
		case "deny":
			if loc.Query().Get("error") != "access_denied" {
				t.Errorf("denied consent: %v; want error=access_denied", loc)
			}
		}
	}
}

func isOAuthError(err error, code string) bool {
	var re *oauth2.RetrieveError
	return errors.As(err, &re) && re.ErrorCode == code
}

// TestLogoutAndCORS: RP-initiated logout ends the login session and, when
// configured, the refresh families issued in it; CORS answers only the
// registered web origins.
func TestLogoutAndCORS(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.LogoutRevokesFamilies = true })
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "email", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"},
		PostLogoutRedirectURIs: []string{"http://127.0.0.1:45678/bye"}, WebOrigins: []string{"http://127.0.0.1:45678"}})
	ts.addUser(t, "u-9", "heidi", "pw-heidi-123", "user")
	if err := ts.app.store.UpdateUser(context.Background(), "u-9", func(u storage.User) (storage.User, error) {
		u.Email, u.EmailVerified, u.Name = "heidi@example.com", true, "Heidi H."
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	rp := newRP(t, ts, "webapp", secret)
	rp.conf.Scopes = []string{"openid", "profile", "email", "offline_access"}
	ctx := context.Background()
	b := newBrowser(t)
	authURL, _, _, verifier := rp.start()
	loc := loginPage(t, b, authURL, "heidi", "pw-heidi-123")
	tok, err := rp.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	provider, _ := oidc.NewProvider(ctx, ts.issuer)
	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var profile struct {
		Name string `json:"name"`
	}
	info.Claims(&profile)
	if info.Email != "heidi@example.com" || !info.EmailVerified || profile.Name != "Heidi H." {
		t.Errorf("userinfo with profile and email: %+v %+v", info, profile)
	}

	// CORS: the registered origin, and nobody else.
	for origin, want := range map[string]string{"http://127.0.0.1:45678": "http://127.0.0.1:45678", "https://evil.example": ""} {
		req, _ := http.NewRequest(http.MethodOptions, ts.URL+"/oauth2/token", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		resp, _ := b.do(req)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q; want %q", origin, got, want)
		}
		req, _ = http.NewRequest(http.MethodGet, ts.URL+"/userinfo", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, _ = b.do(req)
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != want || resp.StatusCode != 200 {
			t.Errorf("userinfo from %s: %d, Access-Control-Allow-Origin %q; want 200, %q", origin, resp.StatusCode, got, want)
		}
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth2/introspect", strings.NewReader("token=x"))
	req.Header.Set("Origin", "http://127.0.0.1:45678")
	if resp, _ := b.do(req); resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS headers on introspection, which browsers have no business calling")
	}

	// Logout with an unregistered post-logout URI is refused.
	logout := ts.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"https://evil.example/"}, "state": {"s-123"}}.Encode()
	if resp, _ := b.get(logout); resp.StatusCode != 400 || resp.Header.Get("Location") != "" {
		t.Errorf("logout to an unregistered URI: %d %q; want 400, no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
	logout = ts.URL + "/oauth2/logout?" + url.Values{"id_token_hint": {tok.Extra("id_token").(string)},
		"post_logout_redirect_uri": {"http://127.0.0.1:45678/bye"}, "state": {"s-123"}}.Encode()
	resp, _ := b.get(logout)
	if loc, err := resp.Location(); err != nil || loc.Path != "/bye" || loc.Query().Get("state") != "s-123" {
		t.Fatalf("logout: %d %v; want a redirect to the registered URI with state", resp.StatusCode, loc)
	}
	// The login session is over, and so is the family issued in it.
	authURL, _, _, _ = rp.start()
	if resp, page := b.get(authURL); resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) {
		t.Errorf("authorization after logout: %d; want the login page", resp.StatusCode)
	}
	if resp, _ := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "webapp", secret); resp.StatusCode != 400 {
		t.Errorf("refresh after logout: %d; want 400", resp.StatusCode)
	}
	// Without a hint, the user confirms on a page first.
	resp, page := newBrowser(t).get(ts.URL + "/oauth2/logout")
	if resp.StatusCode != 200 || !strings.Contains(page, "Sign out") || !strings.Contains(page, "csrf_token") {
		t.Errorf("logout without a hint: %d; want a confirmation page", resp.StatusCode)
	}
}

// TestDevModeDemoClients: dev mode prints a public client for the code
// flow beside the demo client, with its loopback redirect URI, and the
// printed user can sign in with it from any port (RFC 8252 section 7.3).
func TestDevModeDemoClients(t *testing.T) {
	ts := startServer(t, nil)
	var out strings.Builder
	if err := seedDemo(context.Background(), ts.app, &out); err != nil {
		t.Fatal(err)
	}
	lines := map[string]string{}
	for _, l := range strings.Split(out.String(), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(l, "#") {
			lines[k] = v
		}
	}
	for _, k := range []string{"client_id", "client_secret", "username", "password", "public_client_id", "redirect_uri"} {
		if lines[k] == "" {
			t.Fatalf("dev mode printed no %s=:\n%s", k, out.String())
		}
	}
	if lines["redirect_uri"] != "http://127.0.0.1/callback" {
		t.Errorf("redirect_uri=%s; want http://127.0.0.1/callback", lines["redirect_uri"])
	}
	rp := newRP(t, ts, lines["public_client_id"], "")
	rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	authURL, _, _, verifier := rp.start()
	loc := loginPage(t, newBrowser(t), authURL, lines["username"], lines["password"])
	tok, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil || tok.Extra("id_token") == nil || tok.RefreshToken == "" {
		t.Fatalf("code flow with the printed public client: %v; want tokens with an ID token and a refresh token", err)
	}
}

// TestHostedPagesBranding: the product name and logo are configurable; the
// logo is embedded as a data: URI, the only image source the CSP allows.
func TestHostedPagesBranding(t *testing.T) {
	logo := filepath.Join(t.TempDir(), "logo.png")
	if err := os.WriteFile(logo, []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, func(c *Config) { c.ProductName, c.LogoFile = "Acme ID", logo })
	ts.addClient(t, storage.Client{ID: "spa", Name: "SPA", Public: true, GrantTypes: []string{"authorization_code"},
		Scopes: []string{"openid"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	rp := newRP(t, ts, "spa", "")
	rp.conf.Scopes = []string{"openid"}
	authURL, _, _, _ := rp.start()
	resp, page := newBrowser(t).get(authURL)
	if !strings.Contains(page, "Acme ID") || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Errorf("login page lacks the product name or the logo:\n%s", page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src data:") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("Content-Security-Policy = %q; want img-src data: and no unsafe-inline", csp)
	}
	bad := filepath.Join(t.TempDir(), "logo.txt")
	os.WriteFile(bad, []byte("not an image"), 0o600)
	cfg := testConfig(t)
	cfg.LogoFile = bad
	if _, err := newApp(context.Background(), cfg, slogDiscard()); err == nil || !strings.Contains(err.Error(), "--logo-file") {
		t.Errorf("newApp with a logo that is no image = %v; want an error naming --logo-file", err)
	}
}

// TestCodeAfterPasswordReset: a code issued before the user's password was
// set is refused, as the user's refresh families are (design D3).
func TestCodeAfterPasswordReset(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-9", "heidi", "pw-heidi-123", "user")
	rp := newRP(t, ts, "webapp", secret)
	rp.conf.Scopes = []string{"openid", "offline_access"}
	authURL, _, _, verifier := rp.start()
	loc := loginPage(t, newBrowser(t), authURL, "heidi", "pw-heidi-123")
	if _, err := ts.app.admin.SetPassword(context.Background(), "u-9", admin.PasswordParams{Password: "a-new-password-1"}); err != nil {
		t.Fatal(err)
	}
	_, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" || !strings.Contains(re.ErrorDescription, "password was changed") {
		t.Fatalf("code issued before a password reset: %v; want invalid_grant saying the password was changed", err)
	}
}
