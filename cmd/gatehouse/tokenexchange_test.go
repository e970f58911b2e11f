package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// exchangeForm is an RFC 8693 section 2.1 request for subject, plus kv.
func exchangeForm(subject string, kv ...string) url.Values {
	f := url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {subject},
		"subject_token_type": {oauth.TokenTypeAccessToken}}
	for i := 0; i < len(kv); i += 2 {
		f.Add(kv[i], kv[i+1])
	}
	return f
}

// exchangeServer is a server with a user (alice, roles reader and
// editor), a web app that logs her in for the orders service, and
// services that may exchange her tokens: orders for inventory and
// billing, inventory for warehouse.
type exchangeServer struct {
	*testServer
	secrets map[string]string
}

func startExchangeServer(t *testing.T) *exchangeServer { return startExchangeServerWith(t, nil) }

func startExchangeServerWith(t *testing.T, mutate func(*Config)) *exchangeServer {
	t.Helper()
	ts := startServer(t, mutate)
	es := &exchangeServer{testServer: ts, secrets: map[string]string{}}
	te := oauth.GrantTypeTokenExchange
	for _, c := range []storage.Client{
		{ID: "web", GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "write", "offline_access"},
			Audiences: []string{"orders", "noaud"}},
		{ID: "orders", GrantTypes: []string{te, "client_credentials"}, Scopes: []string{"read", "write", "admin"},
			Audiences: []string{"inventory", "https://billing.example/"}, TokenLifetime: time.Hour, Roles: []string{"service"}},
		{ID: "inventory", GrantTypes: []string{te}, Scopes: []string{"read"}, Audiences: []string{"warehouse"}},
		{ID: "intruder", GrantTypes: []string{te}, Scopes: []string{"read"}, Audiences: []string{"inventory"}},
		{ID: "cconly", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, Audiences: []string{"inventory"}},
		{ID: "noaud", GrantTypes: []string{te}, Scopes: []string{"read"}},
	} {
		c.Name = c.ID
		es.secrets[c.ID] = ts.addClient(t, c)
	}
	ts.addUser(t, "u-alice", "alice", "pw-alice-123", "reader", "editor")
	return es
}

// login is alice's password-grant access token from the web app.
func (es *exchangeServer) login(t *testing.T, scope, audience string) map[string]any {
	t.Helper()
	resp, body := es.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"pw-alice-123"}, "scope": {scope}, "audience": {audience}}, "web", es.secrets["web"])
	if resp.StatusCode != 200 {
		t.Fatalf("password grant: %d %v", resp.StatusCode, body)
	}
	return body
}

func (es *exchangeServer) exchange(t *testing.T, client string, form url.Values) (int, map[string]any) {
	t.Helper()
	resp, body := es.post(t, "/oauth2/token", form, client, es.secrets[client])
	if resp.StatusCode >= 500 {
		t.Fatalf("exchange answered %d %v", resp.StatusCode, body)
	}
	if resp.StatusCode != 200 {
		if _, ok := body["access_token"]; ok {
			t.Fatalf("error response carries a token: %v", body)
		}
	}
	return resp.StatusCode, body
}

// A service exchanges a user's token for a narrower one for a downstream
// audience (RFC 8693): same sub, act naming the service (section 4.1),
// narrowed scope and roles, expiry capped by the subject token's, the
// response of section 2.2.1, and a token that a service's verifier
// accepts for the new audience only.
func TestTokenExchangeDelegation(t *testing.T) {
	es := startExchangeServer(t)
	ctx := context.Background()
	subject := es.login(t, "read write", "orders")["access_token"].(string)
	_, sc := jwtParts(t, subject)

	status, body := es.exchange(t, "orders", exchangeForm(subject, "audience", "inventory", "scope", "read"))
	if status != 200 {
		t.Fatalf("exchange: %d %v", status, body)
	}
	if body["issued_token_type"] != oauth.TokenTypeAccessToken || !strings.EqualFold(body["token_type"].(string), "bearer") ||
		body["scope"] != "read" || body["refresh_token"] != nil || body["expires_in"] == nil {
		t.Errorf("response = %v; want issued_token_type access_token, token_type Bearer, scope read, expires_in, no refresh_token", body)
	}
	tok := body["access_token"].(string)
	h, c := jwtParts(t, tok)
	if h["typ"] != "at+jwt" || c["sub"] != "u-alice" || c["client_id"] != "orders" || c["scope"] != "read" ||
		!slices.Equal(strs(c["aud"]), []string{"inventory"}) || !slices.Equal(strs(c["roles"]), []string{"reader", "editor"}) {
		t.Errorf("claims = %v", c)
	}
	if act, _ := c["act"].(map[string]any); len(act) != 1 || act["sub"] != "orders" {
		t.Errorf("act = %v; want {sub: orders}", c["act"])
	}
	// The client's lifetime is an hour; the subject token's 10 minutes win.
	if c["exp"].(float64) != sc["exp"].(float64) {
		t.Errorf("exp = %v; want the subject token's %v", c["exp"], sc["exp"])
	}

	// The new token works where it is meant to, and nowhere else.
	v := must(verifier.New(verifier.Config{Issuer: es.issuer, Audience: "inventory"}))
	claims, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("verifier: %v", err)
	}
	if claims.Subject != "u-alice" || !claims.HasRole("reader") || claims.HasScope("write") || claims.Extra["act"] == nil {
		t.Errorf("verified claims = %+v", claims)
	}
	if _, err := must(verifier.New(verifier.Config{Issuer: es.issuer, Audience: "orders"})).Verify(ctx, tok); err == nil {
		t.Error("the exchanged token verified for the subject token's audience")
	}
	// Introspection sees it as active, with act.
	resp, ib := es.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "orders", es.secrets["orders"])
	if resp.StatusCode != 200 || ib["active"] != true || ib["act"] == nil {
		t.Errorf("introspection: %d %v", resp.StatusCode, ib)
	}

	// A second hop nests the first actor (section 4.1): inventory
	// exchanges the token it was sent, for warehouse. Without a scope
	// parameter the token keeps the subject token's scopes the client
	// may ask for.
	status, body = es.exchange(t, "inventory", exchangeForm(tok))
	if status != 200 {
		t.Fatalf("second exchange: %d %v", status, body)
	}
	_, c2 := jwtParts(t, body["access_token"].(string))
	want := map[string]any{"sub": "inventory", "act": map[string]any{"sub": "orders"}}
	if got, _ := json.Marshal(c2["act"]); string(got) != string(must(json.Marshal(want))) {
		t.Errorf("nested act = %s; want %s", got, must(json.Marshal(want)))
	}
	if c2["sub"] != "u-alice" || c2["scope"] != "read" || !slices.Equal(strs(c2["aud"]), []string{"warehouse"}) || c2["exp"].(float64) > sc["exp"].(float64) {
		t.Errorf("second hop claims = %v", c2)
	}

	// A resource indicator names the audience as well (RFC 8693 2.1);
	// requested_token_type jwt names what is issued.
	status, body = es.exchange(t, "orders", exchangeForm(subject, "resource", "https://billing.example/",
		"requested_token_type", oauth.TokenTypeJWT))
	if status != 200 || body["issued_token_type"] != oauth.TokenTypeJWT {
		t.Fatalf("exchange for a resource: %d %v", status, body)
	}
	if _, c := jwtParts(t, body["access_token"].(string)); !slices.Equal(strs(c["aud"]), []string{"https://billing.example/"}) || c["scope"] != "read write" {
		t.Errorf("claims for a resource: %v", c)
	}

	// Roles are re-read: a role removed since the subject token is
	// dropped, a role added since is not carried.
	es.app.store.UpdateUser(ctx, "u-alice", func(u storage.User) (storage.User, error) {
		u.Roles = []string{"reader", "admin"}
		return u, nil
	})
	status, body = es.exchange(t, "orders", exchangeForm(subject, "audience", "inventory"))
	if status != 200 {
		t.Fatalf("exchange after a role change: %d %v", status, body)
	}
	if _, c := jwtParts(t, body["access_token"].(string)); !slices.Equal(strs(c["roles"]), []string{"reader"}) {
		t.Errorf("roles after the user lost editor and gained admin = %v; want [reader]", c["roles"])
	}

	// The server's clock passes the subject token's expiry: refused, also
	// within the leeway that introspection grants (it would issue a token
	// that expired already) and beyond it.
	for _, d := range []time.Duration{10*time.Minute + 5*time.Second, time.Minute} {
		es.advance(d)
		if status, body := es.exchange(t, "orders", exchangeForm(subject, "audience", "inventory")); status != 400 || body["error"] != "invalid_request" {
			t.Errorf("subject token expired: %d %v; want 400 invalid_request", status, body)
		}
	}
}

// Every way a token exchange can ask for more than the subject token
// holds, or present a token it may not use, is refused with RFC 8693
// section 2.2.2's error, never a token and never a 5xx.
func TestTokenExchangeRefusals(t *testing.T) {
	es := startExchangeServer(t)
	ctx := context.Background()
	login := es.login(t, "read offline_access", "orders")
	subject := login["access_token"].(string)
	ofDisabled := es.login(t, "read", "orders")["access_token"].(string)
	forNoaud := es.login(t, "read", "noaud")["access_token"].(string)
	ofRevoked := es.login(t, "read", "orders")["access_token"].(string)
	if resp, _ := es.post(t, "/oauth2/revoke", url.Values{"token": {ofRevoked}}, "web", es.secrets["web"]); resp.StatusCode != 200 {
		t.Fatal("revoke failed")
	}
	ofFamily := es.login(t, "read offline_access", "orders")
	if resp, _ := es.post(t, "/oauth2/revoke", url.Values{"token": {ofFamily["refresh_token"].(string)}}, "web", es.secrets["web"]); resp.StatusCode != 200 {
		t.Fatal("revoke failed")
	}
	_, ccBody := es.post(t, "/oauth2/token", url.Values{"grant_type": {"client_credentials"}}, "orders", es.secrets["orders"])
	clientToken := ccBody["access_token"].(string)

	// Forgeries: the same claims signed by another key, a changed payload
	// under the real signature, alg none.
	parts := strings.Split(subject, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	other := must(keys.NewEphemeralRing(keys.ES256))
	otherKey := must(other.SignAccessToken(payload))
	widened := strings.Replace(string(payload), `"scope":"read offline_access"`, `"scope":"read write admin"`, 1)
	if widened == string(payload) {
		t.Fatalf("payload %s has no scope to change", payload)
	}
	tampered := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + parts[2]
	header, _ := base64.RawURLEncoding.DecodeString(parts[0])
	noneHeader := strings.Replace(string(header), `"ES256"`, `"none"`, 1)
	algNone := base64.RawURLEncoding.EncodeToString([]byte(noneHeader)) + "." + parts[1] + "."

	es.app.store.UpdateUser(ctx, "u-alice", func(u storage.User) (storage.User, error) { u.Disabled = true; return u, nil })
	disabledStatus, disabledBody := es.exchange(t, "orders", exchangeForm(ofDisabled, "audience", "inventory"))
	es.app.store.UpdateUser(ctx, "u-alice", func(u storage.User) (storage.User, error) { u.Disabled = false; return u, nil })
	if disabledStatus != 400 || disabledBody["error"] != "invalid_request" {
		t.Errorf("disabled user's token: %d %v; want 400 invalid_request", disabledStatus, disabledBody)
	}

	for _, tc := range []struct {
		name, client string
		form         url.Values
		status       int
		err          string
	}{
		{"wider scope than the subject token", "orders", exchangeForm(subject, "audience", "inventory", "scope", "read write"), 400, "invalid_scope"},
		{"scope the client may not ask for", "orders", exchangeForm(subject, "scope", "root"), 400, "invalid_scope"},
		{"audience not registered for the client", "orders", exchangeForm(subject, "audience", "payroll"), 400, "invalid_target"},
		{"one of two audiences not registered", "orders", exchangeForm(subject, "audience", "inventory", "audience", "payroll"), 400, "invalid_target"},
		{"resource not registered", "orders", exchangeForm(subject, "resource", "https://payroll.example/"), 400, "invalid_target"},
		{"the issuer as audience (not registered)", "orders", exchangeForm(subject, "audience", es.issuer), 400, "invalid_target"},
		{"client with no registered audience", "noaud", exchangeForm(forNoaud), 400, "invalid_target"},
		// Its other tokens default to the issuer; an exchange may not.
		{"client with no registered audience, for the issuer", "noaud", exchangeForm(forNoaud, "audience", es.issuer), 400, "invalid_target"},
		{"client without the grant", "cconly", exchangeForm(subject, "audience", "inventory"), 400, "unauthorized_client"},
		{"subject token not issued for the client", "intruder", exchangeForm(subject, "audience", "inventory"), 400, "invalid_request"},
		{"revoked subject token", "orders", exchangeForm(ofRevoked, "audience", "inventory"), 400, "invalid_request"},
		{"subject token of a revoked refresh family", "orders", exchangeForm(ofFamily["access_token"].(string), "audience", "inventory"), 400, "invalid_request"},
		{"signed by another key", "orders", exchangeForm(otherKey, "audience", "inventory"), 400, "invalid_request"},
		{"payload changed", "orders", exchangeForm(tampered, "audience", "inventory"), 400, "invalid_request"},
		{"alg none", "orders", exchangeForm(algNone, "audience", "inventory"), 400, "invalid_request"},
		{"not a JWT", "orders", exchangeForm("opaque", "audience", "inventory"), 400, "invalid_request"},
		{"refresh token as subject", "orders", exchangeForm(login["refresh_token"].(string), "audience", "inventory"), 400, "invalid_request"},
		{"a client's own token: no user", "orders", exchangeForm(clientToken, "audience", "inventory"), 400, "invalid_request"},
		{"missing subject_token", "orders", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token_type": {oauth.TokenTypeAccessToken}}, 400, "invalid_request"},
		{"missing subject_token_type", "orders", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {subject}}, 400, "invalid_request"},
		{"subject_token_type id_token", "orders", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {subject},
			"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"}}, 400, "invalid_request"},
		{"requested_token_type refresh_token", "orders", exchangeForm(subject, "requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token"), 400, "invalid_request"},
		{"actor_token", "orders", exchangeForm(subject, "actor_token", clientToken, "actor_token_type", oauth.TokenTypeAccessToken), 400, "invalid_request"},
		{"actor_token_type alone", "orders", exchangeForm(subject, "actor_token_type", oauth.TokenTypeAccessToken), 400, "invalid_request"},
		{"subject_token over 16 KiB", "orders", exchangeForm(strings.Repeat("a", 17<<10)), 400, "invalid_request"},
		{"no client authentication", "", exchangeForm(subject), 401, "invalid_client"},
	} {
		status, body := es.exchange(t, tc.client, tc.form)
		if status != tc.status || body["error"] != tc.err {
			t.Errorf("%s: %d %v; want %d %s", tc.name, status, body, tc.status, tc.err)
		}
	}

	// The same subject token, asked for within bounds, still works: the
	// refusals above were about the requests, not the token.
	if status, body := es.exchange(t, "orders", exchangeForm(subject, "audience", "inventory")); status != 200 {
		t.Errorf("exchange within bounds after the refusals: %d %v", status, body)
	}
}

// Discovery lists the grant (RFC 8414 section 2).
func TestTokenExchangeDiscovery(t *testing.T) {
	ts := startServer(t, nil)
	_, doc := do(t, mustGet(t, ts.URL+"/.well-known/openid-configuration"))
	if !slices.Contains(strs(doc["grant_types_supported"]), oauth.GrantTypeTokenExchange) {
		t.Errorf("grant_types_supported = %v; want %s", doc["grant_types_supported"], oauth.GrantTypeTokenExchange)
	}
}

// An exchanged token is revoked with what it came from: it carries the
// subject token's refresh family (fid), so revoking the user's refresh
// token denies it at introspection, and disabling the user (as the admin
// rules do, RevokeSubject) denies it by its sub.
func TestTokenExchangeFollowsRevocation(t *testing.T) {
	es := startExchangeServer(t)
	active := func(tok string) bool {
		t.Helper()
		_, ib := es.post(t, "/oauth2/introspect", url.Values{"token": {tok}}, "orders", es.secrets["orders"])
		return ib["active"] == true
	}
	exchanged := func(subject string) string {
		t.Helper()
		status, body := es.exchange(t, "orders", exchangeForm(subject, "audience", "inventory"))
		if status != 200 {
			t.Fatalf("exchange: %d %v", status, body)
		}
		return body["access_token"].(string)
	}

	login := es.login(t, "read offline_access", "orders")
	viaFamily := exchanged(login["access_token"].(string))
	if _, c := jwtParts(t, viaFamily); c["fid"] == nil || !active(viaFamily) {
		t.Fatalf("exchanged token: fid %v, active %v; want the family and active", c["fid"], active(viaFamily))
	}
	if resp, _ := es.post(t, "/oauth2/revoke", url.Values{"token": {login["refresh_token"].(string)}}, "web", es.secrets["web"]); resp.StatusCode != 200 {
		t.Fatal("revoke failed")
	}
	if active(viaFamily) {
		t.Error("the exchanged token stays active after its refresh family was revoked")
	}

	viaUser := exchanged(es.login(t, "read", "orders")["access_token"].(string))
	if _, err := oauth.RevokeSubject(context.Background(), es.app.store, "u-alice", es.now()); err != nil {
		t.Fatal(err)
	}
	if active(viaUser) {
		t.Error("the exchanged token stays active after its user was revoked")
	}
}

// On PostgreSQL, with two instances behind one issuer: a subject token
// revoked at one instance cannot be exchanged at the other, and with the
// database down an exchange is 503 temporarily_unavailable (the deny list
// and the user cannot be read), never a 5xx of another kind, a 400 that
// blames the token, or a token.
func TestTokenExchangePostgres(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	dbURL := cluster.URL(t)
	a := startExchangeServerWith(t, withPostgres(dbURL))
	b := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		c.Issuer = a.issuer
		// The client record comes from the cache during the outage, so
		// the request reaches the exchange's own reads.
		c.ClientCacheTTL = time.Minute
	})
	exchangeAtB := func(subject string) (int, map[string]any) {
		t.Helper()
		resp, body := b.post(t, "/oauth2/token", exchangeForm(subject, "audience", "inventory"), "orders", a.secrets["orders"])
		return resp.StatusCode, body
	}
	subject := a.login(t, "read", "orders")["access_token"].(string)
	if status, body := exchangeAtB(subject); status != 200 {
		t.Fatalf("exchange at the other instance: %d %v", status, body)
	}
	if resp, _ := a.post(t, "/oauth2/revoke", url.Values{"token": {subject}}, "web", a.secrets["web"]); resp.StatusCode != 200 {
		t.Fatal("revoke failed")
	}
	if status, body := exchangeAtB(subject); status != 400 || body["error"] != "invalid_request" {
		t.Errorf("token revoked at A, exchanged at B: %d %v; want 400 invalid_request", status, body)
	}

	live := a.login(t, "read", "orders")["access_token"].(string)
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cluster.Start() })
	start := time.Now()
	status, body := exchangeAtB(live)
	if status != 503 || body["error"] != "temporarily_unavailable" || body["access_token"] != nil {
		t.Errorf("exchange with the database down: %d %v; want 503 temporarily_unavailable", status, body)
	}
	if elapsed := time.Since(start); elapsed > 3*time.Second {
		t.Errorf("exchange with the database down took %v; want under the 2s request timeout plus slack", elapsed)
	}
}
