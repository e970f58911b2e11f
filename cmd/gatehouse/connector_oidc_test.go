package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

const upstreamSecret = "upstream-client-secret-6f1e2d"

// connectorSetup is a Gatehouse on PostgreSQL with a client "webapp", and
// zitadel/oidc's provider upstream with Gatehouse registered as its client
// "gatehouse" and the connector "corp" pointing at it.
type connectorSetup struct {
	ts     *testServer
	up     *upstreamOP
	rp     *relyingParty
	secret string
}

func newConnectorSetup(t *testing.T, p admin.ConnectorParams) *connectorSetup {
	t.Helper()
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	up := startUpstreamOP(t, "gatehouse", upstreamSecret, ts.issuer+"/login/connectors/corp/callback")
	p.ID, p.Kind, p.Name = "corp", "oidc", "Corp"
	p.Secret = upstreamSecret
	p.OIDC = &storage.OIDCSettings{Issuer: up.URL, ClientID: "gatehouse", Scopes: []string{"email", "profile", "offline_access"}}
	p.RolesClaim = "groups"
	p.RoleMap = map[string]string{"idp-admins": "admin", "idp-devs": "developer"}
	p.TimeoutSeconds = 2
	if _, err := ts.app.admin.CreateConnector(context.Background(), p); err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	return &connectorSetup{ts: ts, up: up, rp: newRP(t, ts, "webapp", secret), secret: secret}
}

// upstreamLogin starts the client's authorization request, presses "Sign
// in with <connector>" on the login page as user, and returns the
// upstream's redirect back to Gatehouse (not yet followed) and the PKCE
// verifier.
func (cs *connectorSetup) upstreamLogin(t *testing.T, b *browser, connector, user string) (*url.URL, string) {
	t.Helper()
	cs.up.login.Store(user)
	authURL, _, _, verifier := cs.rp.start()
	resp, page := b.get(authURL)
	if resp.StatusCode != 200 || !strings.Contains(page, `value="`+connector+`"`) || !strings.Contains(page, "Sign in with") {
		t.Fatalf("login page: %d, no button for %s:\n%s", resp.StatusCode, connector, page)
	}
	form := formFields(page)
	form.Set("connector", connector)
	resp, page = b.post(b.base(authURL), form)
	loc, err := resp.Location()
	if err != nil || !strings.HasPrefix(loc.Path, "/login/connectors/") {
		t.Fatalf("sign in with %s: %d %v, want the upstream's redirect back to Gatehouse:\n%s", connector, resp.StatusCode, err, page)
	}
	return loc, verifier
}

// newUpstreamBrowser is a cookie-keeping HTTP client that follows
// redirects through the upstream provider, and stops at the upstream's
// redirect back to Gatehouse and at the client's redirect URI.
func newUpstreamBrowser(t *testing.T) *browser {
	b := newBrowser(t)
	b.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host == "127.0.0.1:45678" || strings.HasPrefix(req.URL.Path, "/login/connectors/") {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return b
}

// finish follows the upstream's redirect back and returns Gatehouse's
// answer.
func finish(b *browser, cb *url.URL) (*http.Response, string) { return b.get(cb.String()) }

// signIn logs user in through the connector and exchanges the code.
func (cs *connectorSetup) signIn(t *testing.T, user string) *oauth2.Token {
	t.Helper()
	b := newUpstreamBrowser(t)
	cb, verifier := cs.upstreamLogin(t, b, "corp", user)
	resp, page := finish(b, cb)
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d, no code for the client:\n%s", resp.StatusCode, page)
	}
	tok, err := cs.rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	return tok
}

func (cs *connectorSetup) refresh(t *testing.T, rt string) (int, map[string]any) {
	t.Helper()
	resp, body := cs.ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "webapp", cs.secret)
	return resp.StatusCode, body
}

func (cs *connectorSetup) users(t *testing.T) []storage.User {
	t.Helper()
	us, err := cs.ts.app.store.ListUsers(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return us
}

// TestConnectorOIDCLogin signs users in through an upstream OpenID provider
// (zitadel/oidc's, in-process) from Gatehouse's login page, on PostgreSQL:
// provisioning with mapped roles (an allow-list), roles re-read at
// refresh, a user removed upstream refused at refresh with the family
// revoked, a replayed callback refused, and a forged upstream ID token
// refused.
func TestConnectorOIDCLogin(t *testing.T) {
	cs := newConnectorSetup(t, admin.ConnectorParams{Provision: true})
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-admins", "idp-other")

	tok := cs.signIn(t, "alice")
	_, at := jwtParts(t, tok.AccessToken)
	if got := strs(at["roles"]); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("roles %v; want [admin] (idp-admins mapped, idp-other dropped)", got)
	}
	link, err := cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-alice")
	if err != nil || at["sub"] != link.UserID || !link.Provisioned || len(link.RefreshTokenEnc) == 0 {
		t.Fatalf("link %+v, %v; sub %v: want a provisioned user linked, with the upstream refresh token kept", link, err, at["sub"])
	}
	u, _ := cs.ts.app.store.GetUser(context.Background(), link.UserID)
	if u.Username != "corp/alice" || u.Email != "alice@corp.example" || !u.EmailVerified || u.PasswordHash != "" {
		t.Fatalf("provisioned user %+v; want corp/alice with the verified email and no password", u)
	}

	// Roles are re-read upstream at refresh.
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-devs")
	status, body := cs.refresh(t, tok.RefreshToken)
	if status != 200 {
		t.Fatalf("refresh: %d %v", status, body)
	}
	_, at = jwtParts(t, body["access_token"].(string))
	if got := strs(at["roles"]); !slices.Equal(got, []string{"developer"}) {
		t.Fatalf("roles after refresh %v; want [developer], re-read upstream", got)
	}
	rt := body["refresh_token"].(string)

	// A user removed upstream cannot refresh, and the family is revoked.
	cs.up.removeUser("up-alice")
	if status, body := cs.refresh(t, rt); status != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after removal upstream: %d %v; want 400 invalid_grant", status, body)
	}
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-devs")
	if status, body := cs.refresh(t, rt); status != 400 {
		t.Fatalf("refresh after the refusal, user back upstream: %d %v; want the family revoked", status, body)
	}

	// The callback is single use: replaying it (the cookie is gone) is
	// refused, and so is a forged ID token.
	b := newUpstreamBrowser(t)
	cb, _ := cs.upstreamLogin(t, b, "corp", "alice")
	if resp, _ := finish(b, cb); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("callback: %d; want 303 to the client", resp.StatusCode)
	}
	if resp, page := finish(b, cb); resp.StatusCode != 400 || !strings.Contains(page, "did not start in this browser") {
		t.Fatalf("replayed callback: %d; want 400 with an explanation:\n%s", resp.StatusCode, page)
	}
	cs.up.forge.Store(true)
	cs.up.setUser("up-mallory", "mallory", "mallory@corp.example", true, "idp-admins")
	b = newUpstreamBrowser(t)
	cb, _ = cs.upstreamLogin(t, b, "corp", "mallory")
	if resp, page := finish(b, cb); resp.StatusCode != http.StatusBadGateway || !strings.Contains(page, "could not be verified") ||
		!strings.Contains(page, `name="password"`) {
		t.Fatalf("forged ID token: %d; want 502 on the login page saying it could not be verified:\n%s", resp.StatusCode, page)
	}
	if _, err := cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-mallory"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("link after a forged ID token: %v; want none", err)
	}
}

// TestConnectorOIDCPolicy checks the linking policy through the login
// page: provisioning off refuses an unknown identity, link by email is
// refused while the upstream has not verified the email and links to the
// local user once it has, and a wrong state is refused.
func TestConnectorOIDCPolicy(t *testing.T) {
	cs := newConnectorSetup(t, admin.ConnectorParams{LinkByEmail: true})
	cs.ts.addUser(t, "u-bob", "bob", "pw-bob-12345", "staff")
	if err := cs.ts.app.store.UpdateUser(context.Background(), "u-bob", func(u storage.User) (storage.User, error) {
		u.Email, u.EmailVerified = "bob@corp.example", true
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	cs.up.setUser("up-carol", "carol", "carol@corp.example", true)
	cs.up.setUser("up-bob", "bob", "bob@corp.example", false, "idp-devs")

	for _, c := range []struct{ user, want string }{
		{"carol", "has no account here"},     // provisioning off
		{"bob", "its email is not verified"}, // link by email without email_verified
	} {
		b := newUpstreamBrowser(t)
		cb, _ := cs.upstreamLogin(t, b, "corp", c.user)
		if resp, page := finish(b, cb); resp.StatusCode != http.StatusForbidden || !strings.Contains(page, c.want) {
			t.Fatalf("%s: %d; want 403 saying %q:\n%s", c.user, resp.StatusCode, c.want, page)
		}
	}
	if n := len(cs.users(t)); n != 1 {
		t.Fatalf("%d users after refused logins; want 1 (bob)", n)
	}
	cs.up.setUser("up-bob", "bob", "bob@corp.example", true, "idp-devs")
	tok := cs.signIn(t, "bob")
	_, at := jwtParts(t, tok.AccessToken)
	if at["sub"] != "u-bob" || !slices.Equal(strs(at["roles"]), []string{"developer"}) {
		t.Fatalf("linked by email: sub %v roles %v; want u-bob with [developer]", at["sub"], at["roles"])
	}

	// A wrong state: the callback is refused and logs nobody in.
	b := newUpstreamBrowser(t)
	cb, _ := cs.upstreamLogin(t, b, "corp", "bob")
	q := cb.Query()
	q.Set("state", q.Get("state")[:len(q.Get("state"))-2]+"xx")
	cb.RawQuery = q.Encode()
	if resp, page := finish(b, cb); resp.StatusCode != 400 || !strings.Contains(page, "could not be completed") {
		t.Fatalf("wrong state: %d; want 400:\n%s", resp.StatusCode, page)
	}
}

// TestConnectorOIDCUpstreamDown shows that an upstream that is down or
// slow gets a readable error on the login page, within the connector's
// timeout, and that local logins on the same page still work.
func TestConnectorOIDCUpstreamDown(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-1", "dora", "pw-dora-12345")
	// A closed loopback port, and a provider that answers too late.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	for id, issuer := range map[string]string{"down": closed, "slow": slow.URL} {
		if _, err := ts.app.admin.CreateConnector(context.Background(), admin.ConnectorParams{ID: id, Kind: "oidc", Name: "IdP " + id,
			OIDC: &storage.OIDCSettings{Issuer: issuer, ClientID: "gatehouse"}, TimeoutSeconds: 1}); err != nil {
			t.Fatal(err)
		}
	}
	rp := newRP(t, ts, "webapp", secret)
	for _, id := range []string{"down", "slow"} {
		b := newUpstreamBrowser(t)
		authURL, _, _, _ := rp.start()
		_, page := b.get(authURL)
		form := formFields(page)
		form.Set("connector", id)
		start := time.Now()
		resp, page := b.post(b.base(authURL), form)
		if took := time.Since(start); took > 1800*time.Millisecond {
			t.Errorf("%s: answered after %v; want within the 1s timeout", id, took)
		}
		if resp.StatusCode != http.StatusBadGateway || !strings.Contains(page, "is not answering") || !strings.Contains(page, `name="password"`) {
			t.Fatalf("%s: %d; want 502 on the login page saying the provider is not answering:\n%s", id, resp.StatusCode, page)
		}
		// The password form of that same page still signs the user in.
		form = formFields(page)
		form.Del("connector")
		form.Set("username", "dora")
		form.Set("password", "pw-dora-12345")
		resp, page = b.post(b.base(authURL), form)
		if loc, err := resp.Location(); err != nil || loc.Query().Get("code") == "" {
			t.Fatalf("local login with %s down: %d:\n%s", id, resp.StatusCode, page)
		}
	}
}
