package main

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestIDTokensWithGoOIDC: the password grant with openid returns an ID token
// (OIDC Core 1.0 section 2) that go-oidc verifies against the discovery
// document and JWKS, with at_hash binding it to the access token (section
// 3.1.3.6); a refresh returns a new one for the same login (section 12.2);
// userinfo answers for the access token (section 5.3). On PostgreSQL, so
// the refresh family's session makes a database round trip.
func TestIDTokensWithGoOIDC(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "web", Name: "web", GrantTypes: []string{"password", "refresh_token", "client_credentials"},
		Scopes: []string{"openid", "profile", "read", "offline_access"}, Audiences: []string{"api"}})
	ts.addUser(t, "u-7", "grace", "pw-grace-123", "user", "editor")
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, ts.issuer)
	if err != nil {
		t.Fatal(err)
	}
	conf := &oauth2.Config{ClientID: "web", ClientSecret: secret, Endpoint: provider.Endpoint(),
		Scopes: []string{"openid", "profile", "offline_access"}}
	verifier := provider.Verifier(&oidc.Config{ClientID: "web"})

	tok, err := conf.PasswordCredentialsToken(ctx, "grace", "pw-grace-123")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := verifier.Verify(ctx, raw)
	if err != nil {
		t.Fatalf("go-oidc rejects the ID token: %v", err)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash does not match the access token: %v", err)
	}
	var claims struct {
		Azp      string `json:"azp"`
		AuthTime int64  `json:"auth_time"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject != "u-7" || !slices.Equal(idt.Audience, []string{"web"}) || claims.Azp != "web" || claims.AuthTime == 0 {
		t.Errorf("ID token sub %q aud %v azp %q auth_time %d; want u-7, [web], web, the login time", idt.Subject, idt.Audience, claims.Azp, claims.AuthTime)
	}
	if header, _ := jwtParts(t, raw); header["typ"] != "JWT" || header["alg"] != "RS256" {
		t.Errorf("ID token typ %v, alg %v; want JWT (never at+jwt) and RS256 (OIDC Core 1.0 section 3.1.3.7: the default)", header["typ"], header["alg"])
	}
	// A relying party that knows only RS256, as OIDC Discovery 1.0
	// section 3 lets it, accepts it too, while access tokens stay ES256.
	rsOnly := provider.Verifier(&oidc.Config{ClientID: "web", SupportedSigningAlgs: []string{oidc.RS256}})
	if _, err := rsOnly.Verify(ctx, raw); err != nil {
		t.Errorf("an RS256-only relying party rejects the ID token: %v", err)
	}
	if header, _ := jwtParts(t, tok.AccessToken); header["alg"] != "ES256" {
		t.Errorf("access token alg = %v; want ES256, the configured algorithm", header["alg"])
	}
	// An ID token is not an access token (RFC 8725 section 3.11).
	if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {raw}}, "web", secret); ib["active"] != false {
		t.Errorf("introspection of an ID token: %v; want inactive", ib)
	}
	if resp := userinfo(t, ts, raw); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with an ID token as bearer: %d; want 401", resp.StatusCode)
	}

	info, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var infoClaims struct {
		Username string   `json:"preferred_username"`
		Roles    []string `json:"roles"`
	}
	if err := info.Claims(&infoClaims); err != nil {
		t.Fatal(err)
	}
	if info.Subject != "u-7" || infoClaims.Username != "grace" || !slices.Equal(infoClaims.Roles, []string{"user", "editor"}) {
		t.Errorf("userinfo = %s %+v; want u-7, grace, [user editor]", info.Subject, infoClaims)
	}

	// A refresh: a new ID token for the same login.
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatal(err)
	}
	raw2, _ := refreshed.Extra("id_token").(string)
	idt2, err := verifier.Verify(ctx, raw2)
	if err != nil {
		t.Fatalf("go-oidc rejects the refreshed ID token: %v", err)
	}
	if err := idt2.VerifyAccessToken(refreshed.AccessToken); err != nil {
		t.Errorf("refreshed at_hash: %v", err)
	}
	var claims2 struct {
		AuthTime int64 `json:"auth_time"`
	}
	idt2.Claims(&claims2)
	if idt2.Subject != "u-7" || claims2.AuthTime != claims.AuthTime || raw2 == raw {
		t.Errorf("refreshed ID token sub %q auth_time %d; want u-7 and the login's %d, and a new token", idt2.Subject, claims2.AuthTime, claims.AuthTime)
	}

	// Without openid: no ID token, and userinfo refuses the access token.
	_, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"grace"}, "password": {"pw-grace-123"}, "scope": {"read"}}, "web", secret)
	if body["id_token"] != nil {
		t.Errorf("password grant without openid returned an ID token")
	}
	if resp := userinfo(t, ts, body["access_token"].(string)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("userinfo with a token lacking openid: %d; want 403 insufficient_scope", resp.StatusCode)
	}
	// A client's own token names no user.
	_, cc := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"openid"}}, "web", secret)
	if cc["id_token"] != nil {
		t.Error("client_credentials returned an ID token")
	}
	if resp := userinfo(t, ts, cc["access_token"].(string)); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("userinfo with a client's token: %d; want 401", resp.StatusCode)
	}
	// A prompt parameter on a password grant changes nothing.
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"grace"}, "password": {"pw-grace-123"},
		"scope": {"openid"}, "prompt": {"none"}, "max_age": {"1"}}, "web", secret); resp.StatusCode != 200 || body["id_token"] == nil {
		t.Errorf("password grant with prompt and max_age: %d %v; want an ID token", resp.StatusCode, body)
	}
}

func userinfo(t *testing.T, ts *testServer, token string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, _ := do(t, req)
	return resp
}
