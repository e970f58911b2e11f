package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
)

// verifyWithOIDC discovers the issuer with go-oidc, verifies the token's
// signature against the remote JWKS, and returns header and claims.
func verifyWithOIDC(t *testing.T, ts *testServer, token string) (map[string]any, map[string]any) {
	t.Helper()
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, ts.issuer)
	if err != nil {
		t.Fatalf("oidc.NewProvider(%q): %v", ts.issuer, err)
	}
	var meta struct {
		JWKSURI string `json:"jwks_uri"`
	}
	if err := provider.Claims(&meta); err != nil {
		t.Fatal(err)
	}
	payload, err := oidc.NewRemoteKeySet(ctx, meta.JWKSURI).VerifySignature(ctx, token)
	if err != nil {
		t.Fatalf("VerifySignature: %v", err)
	}
	header, claims := jwtParts(t, token)
	var fromPayload map[string]any
	if err := json.Unmarshal(payload, &fromPayload); err != nil || fromPayload["jti"] != claims["jti"] {
		t.Fatalf("verified payload %s does not match the token's claims", payload)
	}
	return header, claims
}

func checkRegistered(t *testing.T, ts *testServer, header, claims map[string]any, lifetime time.Duration) {
	t.Helper()
	if header["typ"] != "at+jwt" || header["alg"] != "ES256" || header["kid"] == "" || header["kid"] == nil {
		t.Errorf("header = %v; want typ at+jwt, alg ES256, a kid", header)
	}
	if claims["iss"] != ts.issuer {
		t.Errorf("iss = %v; want %q", claims["iss"], ts.issuer)
	}
	if jti, _ := claims["jti"].(string); len(jti) < 16 {
		t.Errorf("jti = %v; want a unique id", claims["jti"])
	}
	iat, _ := claims["iat"].(float64)
	nbf, _ := claims["nbf"].(float64)
	exp, _ := claims["exp"].(float64)
	if now := float64(time.Now().Unix()); iat < now-5 || iat > now+5 || nbf != iat {
		t.Errorf("iat = %v, nbf = %v; want both now (%v)", iat, nbf, now)
	}
	if got := time.Duration(exp-iat) * time.Second; got < lifetime-2*time.Second || got > lifetime+2*time.Second {
		t.Errorf("exp - iat = %v; want %v", got, lifetime)
	}
}

func TestClientCredentialsEndToEnd(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{
		ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read", "write"}, Audiences: []string{"api", "billing"}, Roles: []string{"service", "batch"},
		// Custom claims never shadow registered or Gatehouse claims.
		Claims:        map[string]any{"tenant": "acme", "sub": "root", "roles": []any{"admin"}, "iss": "evil"},
		TokenLifetime: 3 * time.Minute,
	})
	for _, style := range []oauth2.AuthStyle{oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams} {
		cc := clientcredentials.Config{
			ClientID: "svc", ClientSecret: secret, TokenURL: ts.issuer + "/oauth2/token",
			Scopes: []string{"read"}, EndpointParams: url.Values{"audience": {"billing"}}, AuthStyle: style,
		}
		tok, err := cc.Token(context.Background())
		if err != nil {
			t.Fatalf("auth style %v: Token: %v", style, err)
		}
		if tok.RefreshToken != "" {
			t.Errorf("client_credentials returned a refresh token (RFC 6749 section 4.4.3 forbids it)")
		}
		if !strings.EqualFold(tok.TokenType, "bearer") {
			t.Errorf("token_type = %q; want bearer", tok.TokenType)
		}
		header, claims := verifyWithOIDC(t, ts, tok.AccessToken)
		checkRegistered(t, ts, header, claims, 3*time.Minute)
		if claims["sub"] != "svc" || claims["client_id"] != "svc" {
			t.Errorf("sub, client_id = %v, %v; want svc, svc", claims["sub"], claims["client_id"])
		}
		if got := strs(claims["aud"]); !slices.Equal(got, []string{"billing"}) {
			t.Errorf("aud = %v; want [billing]", got)
		}
		if claims["scope"] != "read" {
			t.Errorf("scope = %v; want read", claims["scope"])
		}
		if got := strs(claims["roles"]); !slices.Equal(got, []string{"service", "batch"}) {
			t.Errorf("roles = %v; want [service batch]", got)
		}
		if claims["tenant"] != "acme" {
			t.Errorf("custom claim tenant = %v; want acme", claims["tenant"])
		}
	}

	// With no scope or audience requested, the client's registered ones.
	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: secret, TokenURL: ts.issuer + "/oauth2/token"}
	tok, err := cc.Token(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	_, claims := jwtParts(t, tok.AccessToken)
	if claims["scope"] != "read write" || !slices.Equal(strs(claims["aud"]), []string{"api", "billing"}) {
		t.Errorf("defaults: scope = %v, aud = %v; want \"read write\", [api billing]", claims["scope"], claims["aud"])
	}

	// RFC 8707 resource indicators select the audience too.
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}, "resource": {"https://billing.example/"}}, "svc", secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_target" {
		t.Errorf("unregistered resource: %d %v; want 400 invalid_target", resp.StatusCode, body)
	}
}

func TestPasswordGrantRefreshRotationAndReuse(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{
		ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token"},
		Scopes: []string{"read", "offline_access"}, Audiences: []string{"api"}, Roles: []string{"service"},
	})
	ts.addUser(t, "u-1", "Alice", "correct horse", "user", "editor")
	ctx := context.Background()
	conf := &oauth2.Config{
		ClientID: "app", ClientSecret: secret, Scopes: []string{"read", "offline_access"},
		Endpoint: oauth2.Endpoint{TokenURL: ts.issuer + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
	// Usernames are case-insensitive.
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "correct horse")
	if err != nil {
		t.Fatalf("PasswordCredentialsToken: %v", err)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token although offline_access was requested and allowed")
	}
	header, claims := verifyWithOIDC(t, ts, tok.AccessToken)
	checkRegistered(t, ts, header, claims, 10*time.Minute)
	if claims["sub"] != "u-1" || claims["client_id"] != "app" || claims["scope"] != "read offline_access" {
		t.Errorf("claims = %v; want sub u-1, client_id app, scope \"read offline_access\"", claims)
	}
	if got := strs(claims["roles"]); !slices.Equal(got, []string{"user", "editor"}) {
		t.Errorf("roles = %v; want the user's [user editor]", got)
	}

	// Roles change; the refreshed access token shows it.
	if err := ts.app.store.UpdateUser(ctx, "u-1", func(u storage.User) (storage.User, error) {
		u.Roles = []string{"user", "admin"}
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	first := tok.RefreshToken
	expired := *tok
	expired.Expiry = time.Now().Add(-time.Minute)
	refreshed, err := conf.TokenSource(ctx, &expired).Token()
	if err != nil {
		t.Fatalf("refresh through TokenSource: %v", err)
	}
	if refreshed.RefreshToken == "" || refreshed.RefreshToken == first {
		t.Fatalf("refresh did not rotate the refresh token")
	}
	_, claims2 := verifyWithOIDC(t, ts, refreshed.AccessToken)
	if got := strs(claims2["roles"]); !slices.Equal(got, []string{"user", "admin"}) {
		t.Errorf("roles after refresh = %v; want [user admin]", got)
	}
	if claims2["jti"] == claims["jti"] || claims2["sub"] != "u-1" {
		t.Errorf("refreshed token: jti %v (first %v), sub %v", claims2["jti"], claims["jti"], claims2["sub"])
	}

	// The refreshed access token is live until the family is revoked.
	if _, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {refreshed.AccessToken}}, "app", secret); body["active"] != true {
		t.Fatalf("introspect refreshed token: %v; want active", body)
	}

	// Reusing the rotated token fails and revokes the whole family, the
	// token issued in its place included.
	refresh := func(rt string) (int, map[string]any) {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
		return resp.StatusCode, body
	}
	if code, body := refresh(first); code != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("reuse of rotated token: %d %v; want 400 invalid_grant", code, body)
	}
	if code, body := refresh(refreshed.RefreshToken); code != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("successor after reuse: %d %v; want 400 invalid_grant", code, body)
	}
	for _, at := range []string{tok.AccessToken, refreshed.AccessToken} {
		if _, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {at}}, "app", secret); body["active"] != false {
			t.Errorf("access token of a revoked family: introspection %v; want inactive", body)
		}
	}
}

func TestRefreshRefusals(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	appClient := storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write", "offline_access"}, Audiences: []string{"api"}}
	secret := ts.addClient(t, appClient)
	other := appClient
	other.ID, other.Name = "other", "other"
	otherSecret := ts.addClient(t, other)
	noRefresh := storage.Client{ID: "norefresh", Name: "norefresh", GrantTypes: []string{"password"}, Scopes: []string{"read", "offline_access"}}
	noRefreshSecret := ts.addClient(t, noRefresh)
	ts.addUser(t, "u-1", "bob", "pw-bob-123", "user")

	login := func(clientID, clientSecret, scope string) map[string]any {
		t.Helper()
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"bob"}, "password": {"pw-bob-123"}, "scope": {scope}}, clientID, clientSecret)
		if resp.StatusCode != 200 {
			t.Fatalf("password grant: %d %v", resp.StatusCode, body)
		}
		return body
	}
	refresh := func(clientID, clientSecret, rt string, extra url.Values) (int, map[string]any) {
		form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}
		for k, v := range extra {
			form[k] = v
		}
		resp, body := ts.post(t, "/oauth2/token", form, clientID, clientSecret)
		return resp.StatusCode, body
	}

	if body := login("app", secret, "read"); body["refresh_token"] != nil {
		t.Errorf("refresh token without offline_access: %v", body)
	}
	if body := login("norefresh", noRefreshSecret, "read offline_access"); body["refresh_token"] != nil || body["scope"] != "read" {
		t.Errorf("client without refresh_token grant got %v; want no refresh token, scope read", body)
	}

	rt := login("app", secret, "read offline_access")["refresh_token"].(string)
	if code, body := refresh("other", otherSecret, rt, nil); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh by another client: %d %v; want invalid_grant", code, body)
	}
	if code, body := refresh("app", secret, rt, url.Values{"scope": {"read write"}}); code != 400 || body["error"] != "invalid_scope" {
		t.Errorf("wider scope on refresh: %d %v; want invalid_scope", code, body)
	}
	// A narrower scope narrows the access token; the refresh token keeps
	// the original grant (RFC 6749 section 6).
	code, body := refresh("app", secret, rt, url.Values{"scope": {"read"}})
	if code != 200 {
		t.Fatalf("refresh with a narrower scope: %d %v", code, body)
	}
	if _, claims := jwtParts(t, body["access_token"].(string)); body["scope"] != "read" || claims["scope"] != "read" {
		t.Errorf("narrowed refresh: response scope %v, token scope %v; want read", body["scope"], claims["scope"])
	}
	rt = body["refresh_token"].(string)
	code, body = refresh("app", secret, rt, nil)
	if _, claims := jwtParts(t, body["access_token"].(string)); code != 200 || claims["scope"] != "read offline_access" {
		t.Errorf("refresh after a narrowed one: %d, token scope %v; want the original \"read offline_access\"", code, claims["scope"])
	}
	rt = body["refresh_token"].(string)

	// A disabled user cannot refresh; re-enabled, the same token works.
	setDisabled := func(v bool) {
		ts.app.store.UpdateUser(ctx, "u-1", func(u storage.User) (storage.User, error) { u.Disabled = v; return u, nil })
	}
	setDisabled(true)
	if code, body := refresh("app", secret, rt, nil); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh for a disabled user: %d %v; want invalid_grant", code, body)
	}
	setDisabled(false)
	code, body = refresh("app", secret, rt, nil)
	if code != 200 {
		t.Fatalf("refresh after re-enable: %d %v", code, body)
	}
	rt = body["refresh_token"].(string)

	// A disabled client cannot refresh.
	ts.app.store.UpdateClient(ctx, "app", func(c storage.Client) (storage.Client, error) { c.Disabled = true; return c, nil })
	if code, body := refresh("app", secret, rt, nil); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh by a disabled client: %d %v; want invalid_grant", code, body)
	}
	ts.app.store.UpdateClient(ctx, "app", func(c storage.Client) (storage.Client, error) { c.Disabled = false; return c, nil })

	// A deleted user cannot refresh.
	if err := ts.app.store.DeleteUser(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if code, body := refresh("app", secret, rt, nil); code != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh for a deleted user: %d %v; want invalid_grant", code, body)
	}
}

func TestRefreshFamilyAbsoluteLifetime(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		c.RefreshTokenLifetime = time.Hour
		c.RefreshFamilyLifetime = 2 * time.Hour
	})
	secret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"offline_access"}})
	ts.addUser(t, "u-1", "carol", "pw-carol-123", "user")
	_, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"pw-carol-123"}, "scope": {"offline_access"}}, "app", secret)
	rt, _ := body["refresh_token"].(string)
	if rt == "" {
		t.Fatalf("no refresh token: %v", body)
	}
	ts.advance(2*time.Hour + time.Minute)
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh after the family's lifetime: %d %v; want invalid_grant", resp.StatusCode, body)
	}
}

func TestIntrospectionAndRevocation(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{
		ID: "app", Name: "app", GrantTypes: []string{"client_credentials", "password", "refresh_token"},
		Scopes: []string{"read", "offline_access"}, Audiences: []string{"api"}, Roles: []string{"service"},
	})
	rsSecret := ts.addClient(t, storage.Client{ID: "rs", Name: "rs", GrantTypes: []string{"client_credentials"}})
	ts.addUser(t, "u-1", "dave", "pw-dave-123", "user", "auditor")
	token := func() map[string]any {
		_, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"dave"}, "password": {"pw-dave-123"}, "scope": {"read offline_access"}}, "app", secret)
		return body
	}
	introspect := func(tok string) map[string]any {
		t.Helper()
		resp, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "rs", rsSecret)
		if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("introspect: %d, Cache-Control %q; want 200 no-store", resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
		return body
	}

	body := token()
	at := body["access_token"].(string)
	got := introspect(at)
	_, claims := jwtParts(t, at)
	if got["active"] != true || got["sub"] != "u-1" || got["client_id"] != "app" || got["scope"] != "read offline_access" ||
		got["iss"] != ts.issuer || got["jti"] != claims["jti"] || got["exp"] != claims["exp"] ||
		!slices.Equal(strs(got["roles"]), []string{"user", "auditor"}) || !slices.Equal(strs(got["aud"]), []string{"api"}) {
		t.Errorf("introspect live token = %v", got)
	}

	// The refresh token introspects too, to its own client only.
	if _, got := ts.post(t, "/oauth2/introspect", url.Values{"token": {body["refresh_token"].(string)}}, "app", secret); got["active"] != true || got["client_id"] != "app" {
		t.Errorf("introspect refresh token by its client = %v; want active", got)
	}
	if got := introspect(body["refresh_token"].(string)); got["active"] != false || len(got) != 1 {
		t.Errorf("introspect refresh token by another client = %v; want only active=false", got)
	}

	// Inactive: malformed, foreign-signed, tampered, expired, revoked.
	other := startServer(t, nil)
	otherSecret := other.addClient(t, storage.Client{ID: "x", Name: "x", GrantTypes: []string{"client_credentials"}})
	_, ob := other.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "x", otherSecret)
	parts := strings.Split(at, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]
	for name, tok := range map[string]string{
		"malformed":      "not-a-token",
		"foreign-signed": ob["access_token"].(string),
		"tampered":       tampered,
		"unknown opaque": "ory_rt_abc.def",
	} {
		if got := introspect(tok); got["active"] != false || len(got) != 1 {
			t.Errorf("introspect %s token = %v; want only active=false", name, got)
		}
	}

	// Revoke the access token: it is denied, but the refresh family lives.
	resp, rb := ts.post(t, "/oauth2/revoke", url.Values{"token": {at}, "token_type_hint": {"access_token"}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke access token: %d %v", resp.StatusCode, rb)
	}
	if got := introspect(at); got["active"] != false {
		t.Errorf("revoked access token introspects %v", got)
	}
	resp, rb = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("refresh after revoking only the access token: %d %v", resp.StatusCode, rb)
	}

	// Another client may not revoke app's tokens (RFC 7009 section 2.1).
	resp, fb := ts.post(t, "/oauth2/revoke", url.Values{"token": {rb["refresh_token"].(string)}}, "rs", rsSecret)
	if resp.StatusCode != 400 || fb["error"] != "unauthorized_client" {
		t.Errorf("revocation by a foreign client: %d %v; want 400 unauthorized_client", resp.StatusCode, fb)
	}
	if got := introspect(rb["access_token"].(string)); got["active"] != true {
		t.Errorf("revocation by a foreign client took effect")
	}

	// Revoking the refresh token revokes the family and its access tokens.
	resp, _ = ts.post(t, "/oauth2/revoke", url.Values{"token": {rb["refresh_token"].(string)}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("revoke refresh token: %d", resp.StatusCode)
	}
	if got := introspect(rb["access_token"].(string)); got["active"] != false {
		t.Errorf("access token of a revoked family introspects %v", got)
	}
	resp, _ = ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rb["refresh_token"].(string)}}, "app", secret)
	if resp.StatusCode != 400 {
		t.Errorf("refresh with a revoked token: %d; want 400", resp.StatusCode)
	}
	// Unknown tokens revoke fine (RFC 7009 section 2.2).
	if resp, _ := ts.post(t, "/oauth2/revoke", url.Values{"token": {"nonsense"}}, "app", secret); resp.StatusCode != 200 {
		t.Errorf("revoke unknown token: %d; want 200", resp.StatusCode)
	}

	// Expired tokens are inactive.
	fresh := token()["access_token"].(string)
	// A resource server may authenticate with an access token of its own.
	_, rsTok := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "rs", rsSecret)
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/oauth2/introspect", strings.NewReader(url.Values{"token": {fresh}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+rsTok["access_token"].(string))
	if resp, body := do(t, req); resp.StatusCode != 200 || body["active"] != true || body["sub"] != "u-1" {
		t.Errorf("introspect with a bearer caller: %d %v; want 200 active", resp.StatusCode, body)
	}

	ts.advance(11 * time.Minute)
	if got := introspect(fresh); got["active"] != false {
		t.Errorf("expired token introspects %v", got)
	}

	// Introspection needs an authenticated caller.
	for name, user := range map[string][2]string{"wrong secret": {"rs", "nope"}, "unknown client": {"ghost", "x"}, "none": {"", ""}} {
		resp, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {fresh}}, user[0], user[1])
		if resp.StatusCode != 401 || body["error"] != "invalid_client" {
			t.Errorf("introspect with %s: %d %v; want 401 invalid_client", name, resp.StatusCode, body)
		}
	}
}

func TestDiscoveryAndJWKS(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, ts.issuer)
	if err != nil {
		t.Fatalf("go-oidc rejects the discovery document: %v", err)
	}
	var oidcDoc, oauthDoc map[string]any
	if err := provider.Claims(&oidcDoc); err != nil {
		t.Fatal(err)
	}
	resp, oauthDoc := do(t, mustGet(t, ts.URL+"/.well-known/oauth-authorization-server"))
	if resp.Header.Get("Cache-Control") == "" {
		t.Error("metadata has no Cache-Control")
	}
	a, _ := json.Marshal(oidcDoc)
	b, _ := json.Marshal(oauthDoc)
	if string(a) != string(b) {
		t.Errorf("the two metadata documents differ:\n%s\n%s", a, b)
	}
	want := map[string]string{
		"issuer":                 ts.issuer,
		"token_endpoint":         ts.issuer + "/oauth2/token",
		"jwks_uri":               ts.issuer + "/.well-known/jwks.json",
		"introspection_endpoint": ts.issuer + "/oauth2/introspect",
		"revocation_endpoint":    ts.issuer + "/oauth2/revoke",
		"userinfo_endpoint":      ts.issuer + "/userinfo",
		"authorization_endpoint": ts.issuer + "/oauth2/authorize",
	}
	for k, v := range want {
		if oidcDoc[k] != v {
			t.Errorf("%s = %v; want %s", k, oidcDoc[k], v)
		}
	}
	for k, v := range map[string][]string{
		"grant_types_supported":                         {"authorization_code", "client_credentials", "password", "refresh_token", "urn:ietf:params:oauth:grant-type:jwt-bearer", "urn:ietf:params:oauth:grant-type:token-exchange"},
		"token_endpoint_auth_methods_supported":         {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"},
		"introspection_endpoint_auth_methods_supported": {"client_secret_basic", "client_secret_post", "private_key_jwt"},
		"revocation_endpoint_auth_methods_supported":    {"client_secret_basic", "client_secret_post", "private_key_jwt"},
		// OIDC Discovery 1.0 section 3: required with private_key_jwt.
		"token_endpoint_auth_signing_alg_values_supported":         {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"},
		"introspection_endpoint_auth_signing_alg_values_supported": {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"},
		"revocation_endpoint_auth_signing_alg_values_supported":    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"},
		"response_types_supported":                                 {"code"},
		"code_challenge_methods_supported":                         {"S256"},
		"scopes_supported":                                         {"openid", "profile", "email", "read", "write", "offline_access"},
		"access_token_signing_alg_values_supported":                {"ES256"},
		// OpenID Connect Discovery 1.0 section 3: RS256 must be
		// included; ID tokens are signed with the RS256 line only.
		"id_token_signing_alg_values_supported": {"RS256"},
	} {
		if got := strs(oidcDoc[k]); !slices.Equal(got, v) {
			t.Errorf("%s = %v; want %v", k, got, v)
		}
	}
	for k := range oidcDoc {
		if strings.HasPrefix(k, "id_token_") && k != "id_token_signing_alg_values_supported" {
			t.Errorf("discovery advertises %s, which Gatehouse does not do", k)
		}
	}

	resp, jwks := do(t, mustGet(t, ts.URL+"/.well-known/jwks.json"))
	if !strings.Contains(resp.Header.Get("Cache-Control"), "max-age=300") {
		t.Errorf("JWKS Cache-Control = %q; want max-age=300", resp.Header.Get("Cache-Control"))
	}
	keys, _ := jwks["keys"].([]any)
	if len(keys) == 0 {
		t.Fatal("JWKS has no keys")
	}
	seen, algs := map[any]bool{}, map[string]int{}
	for _, k := range keys {
		m := k.(map[string]any)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := m[private]; ok {
				t.Errorf("JWKS key publishes private member %q", private)
			}
		}
		if m["use"] != "sig" || (m["alg"] != "ES256" && m["alg"] != "RS256") || m["kid"] == nil || seen[m["kid"]] {
			t.Errorf("JWKS key %v: want use sig, alg ES256 (access tokens) or RS256 (ID tokens), a unique kid", m)
		}
		algs[m["alg"].(string)]++
		seen[m["kid"]] = true
	}
	if algs["ES256"] == 0 || algs["RS256"] == 0 {
		t.Errorf("JWKS algorithms %v; want ES256 keys and RS256 keys", algs)
	}
}

func TestOAuth2LibrarySurfacesErrors(t *testing.T) {
	ts := startServer(t, nil)
	ts.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}})
	cc := clientcredentials.Config{ClientID: "svc", ClientSecret: "wrong", TokenURL: ts.issuer + "/oauth2/token"}
	_, err := cc.Token(context.Background())
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("wrong secret via x/oauth2: %v; want RetrieveError invalid_client 401", err)
	}
}

func TestPasswordGuessingIsThrottled(t *testing.T) {
	ts := startServer(t, nil)
	secret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	ts.addUser(t, "u-1", "gina", "pw-gina-123", "user")
	guess := func(pw string) (int, map[string]any, string) {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"Gina"}, "password": {pw}}, "app", secret)
		return resp.StatusCode, body, resp.Header.Get("Retry-After")
	}
	for i := range 10 {
		if code, body, _ := guess("wrong"); code != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("guess %d: %d %v; want 400 invalid_grant", i, code, body)
		}
	}
	code, body, retry := guess("pw-gina-123")
	if code != 429 || retry == "" || body["access_token"] != nil {
		t.Fatalf("after 10 failures, even the right password: %d %v Retry-After %q; want 429 with Retry-After", code, body, retry)
	}
	ts.advance(16 * time.Minute)
	if code, body, _ := guess("pw-gina-123"); code != 200 {
		t.Fatalf("after the window: %d %v; want 200", code, body)
	}
}

// TestClientCache: a cached client record spares the database on the
// client_credentials path; its TTL bounds how long a change made elsewhere
// takes to apply, and ForgetClient applies one at once.
func TestClientCache(t *testing.T) {
	ts := startServer(t, func(c *Config) { c.ClientCacheTTL = 5 * time.Second })
	secret := ts.addClient(t, storage.Client{ID: "svc", Name: "svc", GrantTypes: []string{"client_credentials"}})
	cc := url.Values{"grant_type": {"client_credentials"}}
	if resp, _ := ts.post(t, "/oauth2/token", cc, "svc", secret); resp.StatusCode != 200 {
		t.Fatalf("first token: %d", resp.StatusCode)
	}
	disable := func(v bool) {
		ts.app.store.UpdateClient(context.Background(), "svc", func(c storage.Client) (storage.Client, error) { c.Disabled = v; return c, nil })
	}
	disable(true)
	if resp, _ := ts.post(t, "/oauth2/token", cc, "svc", secret); resp.StatusCode != 200 {
		t.Fatalf("within the TTL the cached record applies: %d; want 200", resp.StatusCode)
	}
	ts.advance(5 * time.Second)
	if resp, body := ts.post(t, "/oauth2/token", cc, "svc", secret); resp.StatusCode != 401 {
		t.Fatalf("after the TTL a disabled client: %d %v; want 401", resp.StatusCode, body)
	}
	disable(false)
	ts.app.oauth.ForgetClient("svc")
	if resp, _ := ts.post(t, "/oauth2/token", cc, "svc", secret); resp.StatusCode != 200 {
		t.Fatalf("after ForgetClient the re-enabled client: %d; want 200", resp.StatusCode)
	}
}

// TestDisableRevokesOutstandingAccessTokens: disabling a user or a client
// makes every access token issued to it so far inactive at introspection,
// tokens outside any refresh family included; tokens issued after it is
// enabled again are not affected.
func TestDisableRevokesOutstandingAccessTokens(t *testing.T) {
	ts := startServer(t, nil)
	ctx := context.Background()
	secret := ts.addClient(t, storage.Client{ID: "app", Name: "app", GrantTypes: []string{"client_credentials", "password"}, Scopes: []string{"read"}})
	rsSecret := ts.addClient(t, storage.Client{ID: "rs", Name: "rs", GrantTypes: []string{"client_credentials"}})
	ts.addUser(t, "u-1", "hank", "pw-hank-123", "user")
	token := func(form url.Values) string {
		t.Helper()
		resp, body := ts.post(t, "/oauth2/token", form, "app", secret)
		if resp.StatusCode != 200 {
			t.Fatalf("token: %d %v", resp.StatusCode, body)
		}
		return body["access_token"].(string)
	}
	active := func(tok string) bool {
		t.Helper()
		_, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "rs", rsSecret)
		return body["active"] == true
	}
	login := url.Values{"grant_type": {"password"}, "username": {"hank"}, "password": {"pw-hank-123"}}
	userTok := token(login)
	if !active(userTok) {
		t.Fatal("fresh user token inactive")
	}
	if _, err := ts.app.admin.DisableUser(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if active(userTok) {
		t.Error("a disabled user's access token (no refresh family) is still active")
	}
	ts.advance(time.Second) // iat has second precision
	if _, err := ts.app.admin.EnableUser(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	if tok := token(login); !active(tok) {
		t.Error("a token issued after re-enabling the user is inactive")
	}

	ccTok := token(url.Values{"grant_type": {"client_credentials"}})
	disabled := true
	if _, err := ts.app.admin.UpdateClient(ctx, "app", admin.ClientPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if active(ccTok) {
		t.Error("a disabled client's client_credentials token is still active")
	}
	if active(userTok) {
		t.Error("a user token issued to a disabled client is still active")
	}
}
