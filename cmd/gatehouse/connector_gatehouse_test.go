package main

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestConnectorGatehouseUpstream runs the README's example of "Sign in with
// an OpenID Connect provider": a second Gatehouse is the provider (its
// roles come from userinfo, its ID tokens are RS256), on its own database
// and under another host name (localhost), and a user signs in to the
// first through it, gets the mapped roles, and cannot refresh once
// disabled at the provider.
func TestConnectorGatehouseUpstream(t *testing.T) {
	corp := startServer(t, func(c *Config) {
		withPostgres(pgtest.URL(t))(c)
		_, port, _ := net.SplitHostPort(c.Addr)
		c.Issuer = "http://localhost:" + port
	})
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	upstreamSecret := corp.addClient(t, storage.Client{ID: "gatehouse", Name: "gatehouse",
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "email", "offline_access"},
		RedirectURIs: []string{ts.issuer + "/login/connectors/corp/callback"}})
	corp.addUser(t, "u-alice", "alice", "alice-password-1", "staff", "admins")
	if _, err := corp.app.admin.UpdateUser(context.Background(), "u-alice", admin.UserPatch{Email: ptr("alice@corp.example"), EmailVerified: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.app.admin.CreateConnector(context.Background(), admin.ConnectorParams{ID: "corp", Kind: "oidc", Name: "Corp",
		OIDC:   &storage.OIDCSettings{Issuer: corp.issuer, ClientID: "gatehouse", Scopes: []string{"openid", "profile", "email", "offline_access"}},
		Secret: upstreamSecret, RolesClaim: "roles", RoleMap: map[string]string{"admins": "admin", "staff": "user"}, Provision: true}); err != nil {
		t.Fatal(err)
	}
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	rp := newRP(t, ts, "webapp", secret)

	b := newUpstreamBrowser(t)
	authURL, _, _, verifier := rp.start()
	_, page := b.get(authURL)
	form := formFields(page)
	form.Set("connector", "corp")
	resp, page := b.post(b.base(authURL), form)
	if resp.StatusCode != 200 || !strings.Contains(page, `name="password"`) || !strings.HasPrefix(resp.Request.URL.String(), corp.issuer) {
		t.Fatalf("sign in with Corp: %d at %s; want Corp's login page:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	form = formFields(page)
	form.Set("username", "alice")
	form.Set("password", "alice-password-1")
	resp, page = b.post(corp.issuer+"/oauth2/authorize", form)
	cb, err := resp.Location()
	if err != nil || !strings.HasPrefix(cb.String(), ts.issuer+"/login/connectors/corp/callback?") {
		t.Fatalf("Corp's login: %d %v; want its redirect back:\n%s", resp.StatusCode, err, page)
	}
	resp, page = finish(b, cb)
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("callback: %d:\n%s", resp.StatusCode, page)
	}
	tok, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	_, at := jwtParts(t, tok.AccessToken)
	roles := strs(at["roles"])
	slices.Sort(roles)
	if !slices.Equal(roles, []string{"admin", "user"}) {
		t.Fatalf("roles %v; want [admin user] from Corp's userinfo roles", roles)
	}
	u, _ := ts.app.store.GetUser(context.Background(), at["sub"].(string))
	if u.Username != "corp/alice" || u.Email != "alice@corp.example" || !u.EmailVerified {
		t.Fatalf("provisioned %+v; want corp/alice with Corp's verified email", u)
	}

	if _, err := corp.app.admin.DisableUser(context.Background(), "u-alice"); err != nil {
		t.Fatal(err)
	}
	r, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}, "webapp", secret)
	if r.StatusCode != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("refresh after alice was disabled at Corp: %d %v; want 400 invalid_grant", r.StatusCode, body)
	}
}

func ptr[T any](v T) *T { return &v }
