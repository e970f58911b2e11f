package main

import (
	"context"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestBrowserConnectorLogin drives headless Chromium from cmd/example-webapp
// through Gatehouse's login page, "Sign in with Corp", zitadel/oidc's
// provider upstream and back, on PostgreSQL: the cookies of the flow work
// in a real browser across the two sites, the webapp gets the provisioned
// user with its mapped role, and a refresh re-reads the user upstream.
func TestBrowserConnectorLogin(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	port := freePort(t)
	ts.addClient(t, storage.Client{ID: "browser-app", Name: "Browser App", Public: true,
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "email", "offline_access"},
		RedirectURIs: []string{"http://127.0.0.1/callback"}})
	up := startUpstreamOP(t, "gatehouse", upstreamSecret, ts.issuer+"/login/connectors/corp/callback")
	up.setUser("up-erin", "erin", "erin@corp.example", true, "idp-admins")
	up.login.Store("erin")
	if _, err := ts.app.admin.CreateConnector(context.Background(), admin.ConnectorParams{ID: "corp", Kind: "oidc", Name: "Corp",
		OIDC:   &storage.OIDCSettings{Issuer: up.URL, ClientID: "gatehouse", Scopes: []string{"email", "profile", "offline_access"}},
		Secret: upstreamSecret, Provision: true, RolesClaim: "groups", RoleMap: map[string]string{"idp-admins": "admin"}}); err != nil {
		t.Fatal(err)
	}
	app := startWebapp(t, ts.issuer, "browser-app", port)
	ctx := chromium(t)
	step := func(what string, navigates bool, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		var err error
		if navigates {
			_, err = chromedp.RunResponse(ctx, actions...)
		} else {
			err = chromedp.Do(ctx, actions...)
		}
		if err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}
	step("open the app", false, chromedp.Navigate(app+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	step("click sign in", true, chromedp.Click(chromedp.CSS("#login")))
	step("login page offers Corp", false, chromedp.WaitVisible(chromedp.CSS("#connector-corp")))
	step("sign in with Corp", true, chromedp.Click(chromedp.CSS("#connector-corp")))
	step("signed in", false, chromedp.WaitVisible(chromedp.CSS("#refresh")))
	link, err := ts.app.store.GetIdentityLink(context.Background(), "corp", "up-erin")
	if err != nil {
		t.Fatalf("no link after the browser login: %v", err)
	}
	who, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#who")))
	if err != nil || !strings.Contains(who, link.UserID) {
		t.Fatalf("webapp shows %q (%v); want the provisioned user %s", who, err, link.UserID)
	}
	step("refresh", true, chromedp.Click(chromedp.CSS("#refresh")))
	step("refreshed", false, chromedp.WaitVisible(chromedp.CSS("#refresh")))
	if page, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main"))); strings.Contains(page, "failed") || !strings.Contains(page, link.UserID) {
		t.Fatalf("after refresh: %q", page)
	}
	if l, _ := ts.app.store.GetIdentityLink(context.Background(), "corp", "up-erin"); !l.LastLoginAt.After(link.LastLoginAt) {
		t.Errorf("refresh did not re-read the user upstream (last read %v, before %v)", l.LastLoginAt, link.LastLoginAt)
	}
}
