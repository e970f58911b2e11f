package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/directory/ldaptest"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// corpPeople: alice (admins, developers), bob (developers), carol (no
// group; a local carol exists in some tests), dave (developers, for the
// concurrent first login).
const corpPeople = `dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: alice-dir-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Bob
userPassword: bob-dir-pw

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
userPassword: carol-dir-pw

dn: uid=dave,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: dave
cn: Dave
sn: Dave
userPassword: dave-dir-pw

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: cn=nobody,dc=example,dc=org
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: cn=nobody,dc=example,dc=org
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org
member: uid=dave,ou=people,dc=example,dc=org
`

var ldapClient = storage.Client{ID: "app", Name: "app", GrantTypes: []string{"password", "refresh_token", "authorization_code"},
	Scopes: []string{"read", "offline_access", "openid", "profile"}, Audiences: []string{"api"},
	RedirectURIs: []string{"http://127.0.0.1/callback"}}

// addLDAPConnector stores an LDAP connector for dir with its bind
// password sealed as the admin API seals it.
func addLDAPConnector(t *testing.T, ts *testServer, dir *ldaptest.Server, c storage.Connector) storage.Connector {
	t.Helper()
	secrets, err := keys.LoadSecrets(func(name string) string {
		if name == keys.EnvSecrets {
			return testSecrets
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.SecretEnc, err = secrets.SealData("connector", c.ID, []byte(ldaptest.ServicePassword)); err != nil {
		t.Fatal(err)
	}
	c.Kind, c.CreatedAt, c.UpdatedAt = storage.ConnectorLDAP, time.Now(), time.Now()
	if c.Name == "" {
		c.Name = c.ID
	}
	if c.LDAP == nil {
		c.LDAP = &storage.LDAPSettings{URL: dir.URL, BindDN: ldaptest.ServiceDN,
			UserBaseDN: ldaptest.UserBase, UserFilter: "(&(objectClass=inetOrgPerson)(uid={username}))",
			GroupBaseDN: ldaptest.GroupBase, GroupFilter: "(&(objectClass=groupOfNames)(member={dn}))"}
	}
	if err := ts.app.store.CreateConnector(context.Background(), c); err != nil {
		t.Fatalf("CreateConnector: %v", err)
	}
	return c
}

func passwordConf(ts *testServer, secret string) *oauth2.Config {
	return &oauth2.Config{ClientID: "app", ClientSecret: secret, Scopes: []string{"read", "offline_access"},
		Endpoint: oauth2.Endpoint{TokenURL: ts.URL + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}}
}

func rolesOf(t *testing.T, accessToken string) (string, []string) {
	t.Helper()
	_, claims := jwtParts(t, accessToken)
	sub, _ := claims["sub"].(string)
	return sub, strs(claims["roles"])
}

// refresh presents rt and returns the response.
func refreshToken(t *testing.T, ts *testServer, secret, rt string) (int, map[string]any) {
	t.Helper()
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
	return resp.StatusCode, body
}

// TestLDAPPasswordGrant: a directory user logs in with x/oauth2's password
// grant, is provisioned once, gets roles from its groups through the role
// map, and keeps them in step at every refresh; removed from the
// directory, it cannot refresh, and its family is revoked.
func TestLDAPPasswordGrant(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true,
		RoleMap: map[string]string{"admins": "admin", "developers": "dev"}})
	conf, ctx := passwordConf(ts, secret), context.Background()

	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-dir-pw")
	if err != nil {
		t.Fatalf("password grant for directory user alice: %v", err)
	}
	sub, roles := rolesOf(t, tok.AccessToken)
	if !slices.Equal(roles, []string{"admin", "dev"}) || tok.RefreshToken == "" {
		t.Errorf("alice's token: roles %v, refresh token %v; want [admin dev] and a refresh token", roles, tok.RefreshToken != "")
	}
	u, err := ts.app.store.GetUser(ctx, sub)
	if err != nil || u.Username != "corp/alice" || u.PasswordHash != "" || u.Email != "alice@example.org" || u.EmailVerified {
		t.Errorf("provisioned user %+v, %v; want corp/alice, no password, unverified directory email", u, err)
	}
	// A second login finds the same user; the prefixed name addresses
	// the connector directly.
	for _, name := range []string{"Alice", "corp/alice"} {
		tok2, err := conf.PasswordCredentialsToken(ctx, name, "alice-dir-pw")
		if err != nil {
			t.Fatalf("second login as %q: %v", name, err)
		}
		if sub2, _ := rolesOf(t, tok2.AccessToken); sub2 != sub {
			t.Errorf("second login as %q: sub %q; want %q", name, sub2, sub)
		}
	}

	// Wrong passwords and filter injections are invalid_grant and match
	// nobody: "al*" would find exactly alice and bind with her password.
	for _, c := range []struct{ username, password string }{
		{"alice", "wrong"}, {"al*", "alice-dir-pw"}, {"*", "alice-dir-pw"},
		{"admin)(uid=*", "alice-dir-pw"}, {"alice)(|(uid=*", "alice-dir-pw"}, {"*)(uid=alice", "alice-dir-pw"},
		{"nobody", "alice-dir-pw"}, {"other/alice", "alice-dir-pw"},
	} {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {c.username},
			"password": {c.password}}, "app", secret)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Errorf("password grant %q/%q: %d %v; want 400 invalid_grant", c.username, c.password, resp.StatusCode, body)
		}
	}

	// Roles follow the directory at every refresh.
	dir.Modify(t, "cn=admins,ou=groups,dc=example,dc=org", ldap.DeleteAttribute, "member", "uid=alice,ou=people,dc=example,dc=org")
	status, body := refreshToken(t, ts, secret, tok.RefreshToken)
	if status != 200 {
		t.Fatalf("refresh after leaving admins: %d %v", status, body)
	}
	if _, roles := rolesOf(t, body["access_token"].(string)); !slices.Equal(roles, []string{"dev"}) {
		t.Errorf("roles after leaving admins: %v; want [dev]", roles)
	}
	at := body["access_token"].(string)
	rt := body["refresh_token"].(string)

	// Removed from the directory: the refresh is refused and the family
	// revoked, with its access tokens.
	dir.Delete(t, "uid=alice,ou=people,dc=example,dc=org")
	if status, body := refreshToken(t, ts, secret, rt); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("refresh after removal from the directory: %d %v; want 400 invalid_grant", status, body)
	}
	f, _, err := ts.app.store.GetRefreshFamily(ctx, strings.Split(rt, ".")[1])
	if err != nil || f.RevokedAt.IsZero() || f.RevokedReason != storage.RevokedSubject {
		t.Errorf("family after removal: revoked at %v for %q, %v; want revoked for %q (the user, not a replay)",
			f.RevokedAt, f.RevokedReason, err, storage.RevokedSubject)
	}
	if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {at}}, "app", secret); ib["active"] != false {
		t.Errorf("access token of the revoked family: %v; want inactive", ib)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-dir-pw"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("login after removal: %v; want invalid_grant", err)
	}
}

// TestLDAPRefusalsCostAHash: with a directory configured, every refused
// login spends one argon2id hash, as a local user's wrong password does,
// so the time of the answer tells a local username neither from a
// directory user's nor from nobody's.
func TestLDAPRefusalsCostAHash(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	adminURL, _ := adminAPI(t, ts)
	secret := ts.addClient(t, ldapClient)
	ts.addUser(t, "u-frank", "frank", "pw-frank-123", "user")
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true})
	const hashes = `gatehouse_password_hash_wait_seconds_count{outcome="ok"}`
	for _, c := range []struct{ name, username string }{
		{"local user", "frank"}, {"directory user", "alice"}, {"nobody", "nobody"},
	} {
		before := scrape(t, adminURL)[hashes]
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {c.username},
			"password": {"wrong-password"}}, "app", secret)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Fatalf("%s, wrong password: %d %v; want 400 invalid_grant", c.name, resp.StatusCode, body)
		}
		if got := scrape(t, adminURL)[hashes] - before; got != 1 {
			t.Errorf("%s, wrong password: %v argon2id hashes; want 1, as for every refusal", c.name, got)
		}
	}
}

// TestLDAPProvisioningAndPrecedence: without provisioning an unlinked
// directory user cannot sign in; a local user with a password keeps its
// username (the directory's carol cannot take it over) and the directory
// user signs in as corp/carol; a connector that requires a mapped group
// refuses users in none, at login and at refresh.
func TestLDAPProvisioningAndPrecedence(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, ldapClient)
	c := addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", RoleMap: map[string]string{"developers": "dev"}})
	ts.addUser(t, "u-local-carol", "carol", "carol-local-pw", "local")
	conf, ctx := passwordConf(ts, secret), context.Background()

	if _, err := conf.PasswordCredentialsToken(ctx, "bob", "bob-dir-pw"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("unlinked directory user without provisioning: %v; want invalid_grant", err)
	}
	if users, _ := ts.app.store.ListUsers(ctx); len(users) != 1 {
		t.Errorf("users after a refused first login: %d; want only the local one", len(users))
	}
	err := ts.app.store.UpdateConnector(ctx, "corp", func(c storage.Connector) (storage.Connector, error) {
		c.Provision = true
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "bob", "bob-dir-pw"); err != nil {
		t.Errorf("directory user with provisioning on: %v", err)
	}

	// The local carol wins her username; the directory's carol is
	// corp/carol.
	if _, err := conf.PasswordCredentialsToken(ctx, "carol", "carol-dir-pw"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("carol with the directory password: %v; want invalid_grant (the local user wins)", err)
	}
	tok, err := conf.PasswordCredentialsToken(ctx, "carol", "carol-local-pw")
	if sub, roles := rolesOf(t, tok.AccessToken); err != nil || sub != "u-local-carol" || !slices.Equal(roles, []string{"local"}) {
		t.Errorf("local carol: %v, sub %q roles %v", err, sub, roles)
	}
	tok, err = conf.PasswordCredentialsToken(ctx, "corp/carol", "carol-dir-pw")
	if err != nil {
		t.Fatalf("corp/carol: %v", err)
	}
	if sub, roles := rolesOf(t, tok.AccessToken); sub == "u-local-carol" || len(roles) != 0 {
		t.Errorf("corp/carol: sub %q roles %v; want a user of its own, no roles", sub, roles)
	}

	// A connector that requires a mapped group refuses carol (in none),
	// and refuses bob's refresh once he leaves developers.
	bobTok, err := conf.PasswordCredentialsToken(ctx, "bob", "bob-dir-pw")
	if err != nil {
		t.Fatal(err)
	}
	err = ts.app.store.UpdateConnector(ctx, c.ID, func(c storage.Connector) (storage.Connector, error) {
		c.LDAP.RequireGroup = true
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "corp/carol", "carol-dir-pw"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("carol, in no mapped group, with require_group: %v; want invalid_grant", err)
	}
	dir.Modify(t, "cn=developers,ou=groups,dc=example,dc=org", ldap.DeleteAttribute, "member", "uid=bob,ou=people,dc=example,dc=org")
	if status, body := refreshToken(t, ts, secret, bobTok.RefreshToken); status != 400 || body["error"] != "invalid_grant" {
		t.Errorf("bob's refresh after leaving every mapped group: %d %v; want invalid_grant", status, body)
	}

	// Wrong directory passwords count against the throttle as local ones
	// do: the 11th attempt on one username from one address is 429.
	for i := range 11 {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"dave"},
			"password": {"guess"}}, "app", secret)
		want := 400
		if i == 10 {
			want = 429
		}
		if resp.StatusCode != want {
			t.Fatalf("wrong directory password %d: %d %v; want %d", i+1, resp.StatusCode, body, want)
		}
	}

	// A disabled connector is not asked.
	err = ts.app.store.UpdateConnector(ctx, c.ID, func(c storage.Connector) (storage.Connector, error) {
		c.Disabled = true
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-dir-pw"); !isOAuthError(err, "invalid_grant") {
		t.Errorf("login through a disabled connector: %v; want invalid_grant", err)
	}
}

// TestLDAPDirectoryDown: a stopped directory, or one that never answers,
// is 503 temporarily_unavailable with Retry-After for logins and for
// refreshes of its users, within the connector's timeout; local users are
// unaffected, nothing is counted against the throttle, and the family
// survives the outage.
func TestLDAPDirectoryDown(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true, Timeout: time.Second})
	ts.addUser(t, "u-frank", "frank", "pw-frank-123", "user")
	conf, ctx := passwordConf(ts, secret), context.Background()
	tok, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-dir-pw")
	if err != nil {
		t.Fatal(err)
	}

	if err := dir.Stop(); err != nil {
		t.Fatal(err)
	}
	// More attempts than the per-user-and-address limit (10): an outage
	// is not a guess.
	for i := range 12 {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
			"password": {"alice-dir-pw"}}, "app", secret)
		if resp.StatusCode != 503 || body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("login %d with the directory down: %d %v (Retry-After %q); want 503 temporarily_unavailable",
				i, resp.StatusCode, body, resp.Header.Get("Retry-After"))
		}
	}
	if status, body := refreshToken(t, ts, secret, tok.RefreshToken); status != 503 || body["error"] != "temporarily_unavailable" {
		t.Errorf("refresh with the directory down: %d %v; want 503", status, body)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "frank", "pw-frank-123"); err != nil {
		t.Errorf("local user with the directory down: %v", err)
	}

	// A directory that accepts connections and never answers is cut off
	// at the connector's timeout.
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	var held sync.WaitGroup
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			held.Add(1)
			go func() {
				defer held.Done()
				buf := make([]byte, 1024)
				for {
					if _, err := conn.Read(buf); err != nil {
						return
					}
				}
			}()
		}
	}()
	err = ts.app.store.UpdateConnector(ctx, "corp", func(c storage.Connector) (storage.Connector, error) {
		c.LDAP.URL = "ldap://" + silent.Addr().String()
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-dir-pw"}}, "app", secret)
	if el := time.Since(start); resp.StatusCode != 503 || el > 1900*time.Millisecond {
		t.Errorf("login against a silent directory: %d %v after %v; want 503 within the 1s timeout", resp.StatusCode, body, el)
	}

	err = ts.app.store.UpdateConnector(ctx, "corp", func(c storage.Connector) (storage.Connector, error) {
		c.LDAP.URL = dir.URL
		return c, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := dir.Start(); err != nil {
		t.Fatal(err)
	}
	if status, body := refreshToken(t, ts, secret, tok.RefreshToken); status != 200 {
		t.Errorf("refresh after the directory came back: %d %v; want 200", status, body)
	}
	if _, err := conf.PasswordCredentialsToken(ctx, "alice", "alice-dir-pw"); err != nil {
		t.Errorf("login after the directory came back: %v", err)
	}
}

// TestLDAPLoginForm: the hosted login page checks a directory user's
// password and the code carries the directory's roles.
func TestLDAPLoginForm(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true,
		RoleMap: map[string]string{"admins": "admin", "developers": "dev"}})
	rp := newRP(t, ts, "app", secret)
	b := newBrowser(t)

	authURL, _, _, verifier := rp.start()
	resp, page := b.get(authURL)
	form := formFields(page)
	form.Set("username", "al*")
	form.Set("password", "alice-dir-pw")
	if resp, page = b.post(b.base(authURL), form); resp.StatusCode != 200 || !strings.Contains(page, "wrong") {
		t.Errorf("login form with an injected username: %d; want the form again with an error", resp.StatusCode)
	}
	loc := loginPage(t, b, authURL, "alice", "alice-dir-pw")
	tok, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	if _, roles := rolesOf(t, tok.AccessToken); !slices.Equal(roles, []string{"admin", "dev"}) {
		t.Errorf("roles from the login form: %v; want [admin dev]", roles)
	}

	if err := dir.Stop(); err != nil {
		t.Fatal(err)
	}
	b2 := newBrowser(t)
	authURL, _, _, _ = rp.start()
	_, page = b2.get(authURL)
	form = formFields(page)
	form.Set("username", "bob")
	form.Set("password", "bob-dir-pw")
	if resp, page = b2.post(b2.base(authURL), form); resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("login form with the directory down: %d; want 503 with Retry-After", resp.StatusCode)
	}
	_ = page
}

// TestLDAPConcurrentFirstLogins: concurrent first logins of one directory
// user on PostgreSQL provision exactly one Gatehouse user, for each of
// four users (the throttle is raised so that all requests get through).
func TestLDAPConcurrentFirstLogins(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	ts := startServer(t, func(c *Config) {
		withPostgres(pgtest.URL(t))(c)
		c.ThrottlePerUserAddress, c.ThrottlePerUser, c.ThrottlePerAddress = 1000, 1000, 1000
	})
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true})
	conf, ctx := passwordConf(ts, secret), context.Background()

	const n = 24
	for _, who := range []string{"alice", "bob", "carol", "dave"} {
		subs := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				tok, err := conf.PasswordCredentialsToken(ctx, who, who+"-dir-pw")
				if errs[i] = err; err == nil {
					subs[i], _ = rolesOf(t, tok.AccessToken)
				}
			}()
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("concurrent first logins of %s: %v", who, err)
		}
		if distinct := slices.Compact(slices.Sorted(slices.Values(subs))); len(distinct) != 1 {
			t.Errorf("concurrent first logins of %s got subjects %v; want one", who, distinct)
		}
	}
	users, err := ts.app.store.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	slices.Sort(names)
	want := []string{oauth.NormalizeUsername("corp/alice"), "corp/bob", "corp/carol", "corp/dave"}
	if !slices.Equal(names, want) {
		t.Errorf("users after concurrent first logins of 4 directory users: %v; want %v", names, want)
	}
}

// TestLDAPConnectorCLI follows the README: the connector is created with
// the CLI (bind password on standard input), and a password grant signs a
// directory user in with the roles its groups map to.
func TestLDAPConnectorCLI(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	dbURL := adminDB(t)
	base := adminEnv(dbURL)
	env := func(k string) string {
		if k == keys.EnvSecrets {
			return testSecrets
		}
		return base(k)
	}
	r := cliOK(t, env, ldaptest.ServicePassword+"\n", "connectors", "create", "--id", "corp", "--kind", "ldap", "--name", "Corp",
		"--url", dir.URL, "--bind-dn", ldaptest.ServiceDN, "--secret-stdin",
		"--user-base-dn", ldaptest.UserBase, "--user-filter", "(&(objectClass=inetOrgPerson)(uid={username}))",
		"--group-base-dn", ldaptest.GroupBase, "--group-filter", "(&(objectClass=groupOfNames)(member={dn}))",
		"--role-map", "admins=admin,developers=dev", "--provision", "--timeout", "5s", "--json")
	if strings.Contains(r.stdout, ldaptest.ServicePassword) {
		t.Fatalf("connectors create printed the bind password: %s", r.stdout)
	}
	cliFails(t, env, "clear", "connectors", "update", "corp", "--url", "ldap://localhost:389")
	r = cliOK(t, env, "", "connectors", "update", "corp", "--require-group", "--json")
	var shown struct {
		LDAP storage.LDAPSettings `json:"ldap"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil || !shown.LDAP.RequireGroup {
		t.Errorf("connectors update --require-group --json: %s (%v); want require_group true", r.stdout, err)
	}

	ts := startServer(t, withPostgres(dbURL))
	secret := ts.addClient(t, ldapClient)
	resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-dir-pw"}, "scope": {"read"}}, "app", secret)
	if resp.StatusCode != 200 {
		t.Fatalf("password grant after the CLI created the connector: %d %v", resp.StatusCode, body)
	}
	if _, roles := rolesOf(t, body["access_token"].(string)); !slices.Equal(roles, []string{"admin", "dev"}) {
		t.Errorf("roles: %v; want [admin dev]", roles)
	}
	// Over LDAPS: the directory's certificate is verified with the CA
	// the connector names; without it, the system's roots refuse it: 503.
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, []byte(dir.CAPEM), 0o600); err != nil {
		t.Fatal(err)
	}
	cliOK(t, env, "", "connectors", "update", "corp", "--url", dir.LDAPSURL)
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-dir-pw"}}, "app", secret); resp.StatusCode != 503 {
		t.Errorf("LDAPS with an unknown CA: %d %v; want 503", resp.StatusCode, body)
	}
	cliOK(t, env, "", "connectors", "update", "corp", "--ca-cert-file", caFile)
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"alice-dir-pw"}}, "app", secret); resp.StatusCode != 200 {
		t.Errorf("LDAPS with the directory's CA: %d %v; want 200", resp.StatusCode, body)
	}

	// carol is in no mapped group, and the connector now requires one.
	if resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"carol"},
		"password": {"carol-dir-pw"}}, "app", secret); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("carol with --require-group: %d %v; want invalid_grant", resp.StatusCode, body)
	}
}

// TestLDAPConnectorCLIFlagsOff: --start-tls and --insecure-no-tls can be
// turned off again by an update (--start-tls=false, --no-start-tls), and a
// flag not given keeps the stored value.
func TestLDAPConnectorCLIFlagsOff(t *testing.T) {
	dbURL := adminDB(t)
	base := adminEnv(dbURL)
	env := func(k string) string {
		if k == keys.EnvSecrets {
			return testSecrets
		}
		return base(k)
	}
	ldapOf := func(r cliResult) storage.LDAPSettings {
		t.Helper()
		var shown struct {
			LDAP storage.LDAPSettings `json:"ldap"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &shown); err != nil {
			t.Fatalf("connector JSON %s: %v", r.stdout, err)
		}
		return shown.LDAP
	}
	r := cliOK(t, env, "", "connectors", "create", "--id", "corp", "--kind", "ldap", "--name", "Corp",
		"--url", "ldap://127.0.0.1:1389", "--start-tls", "--insecure-no-tls",
		"--user-base-dn", ldaptest.UserBase, "--user-filter", "(uid={username})", "--json")
	if l := ldapOf(r); !l.StartTLS || !l.InsecureNoTLS {
		t.Fatalf("created with --start-tls --insecure-no-tls: %+v", l)
	}
	r = cliOK(t, env, "", "connectors", "update", "corp", "--start-tls=false", "--json")
	if l := ldapOf(r); l.StartTLS || !l.InsecureNoTLS {
		t.Errorf("after --start-tls=false: start_tls %v, insecure_no_tls %v; want false, true (kept)", l.StartTLS, l.InsecureNoTLS)
	}
	r = cliOK(t, env, "", "connectors", "update", "corp", "--insecure-no-tls=false", "--json")
	if l := ldapOf(r); l.StartTLS || l.InsecureNoTLS {
		t.Errorf("after --insecure-no-tls=false: start_tls %v, insecure_no_tls %v; want both false", l.StartTLS, l.InsecureNoTLS)
	}
	r = cliOK(t, env, "", "connectors", "update", "corp", "--start-tls", "--json")
	if l := ldapOf(r); !l.StartTLS {
		t.Errorf("after --start-tls: %+v; want start_tls", l)
	}
	r = cliOK(t, env, "", "connectors", "update", "corp", "--no-start-tls", "--json")
	if l := ldapOf(r); l.StartTLS {
		t.Errorf("after --no-start-tls: %+v; want start_tls false", l)
	}
}

// TestLDAPThrottleSpellings: the directory finds one entry for many
// spellings of a username (RFC 4518: case and insignificant spaces are
// ignored), so wrong passwords under all of them share the entry's
// per-user budget; the typed name's counter alone would give each spelling
// its own.
func TestLDAPThrottleSpellings(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople)
	dbURL := pgtest.URL(t)
	ts := startServer(t, func(c *Config) {
		withPostgres(dbURL)(c)
		// A slow lane of one guess a minute: it stays spent for the
		// whole test, however slowly the machine runs it.
		withLimits(10, 3, 100, time.Minute)(c)
	})
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true})

	// Spellings reach alice's entry, and successes take their attempts
	// back on the entry's counter too.
	for i, name := range []string{"alice ", "  ALICE", "alice"} {
		if code, _ := login(t, ts, clientFrom(fmt.Sprintf("127.0.2.%d", i+1)), secret, name, "alice-dir-pw"); code != 200 {
			t.Fatalf("login as %q with alice's password: %d; want 200", name, code)
		}
	}
	spellings := []string{"alice", "alice ", " alice", "  alice", "alice  ", " alice ", "   alice   ", "Alice ", "ALICE    "}
	evaluated := 0
	for i, name := range spellings {
		// Each from its own address: only the per-user limit applies.
		code, _ := login(t, ts, clientFrom(fmt.Sprintf("127.0.3.%d", i+1)), secret, name, "wrong")
		switch code {
		case 400:
			evaluated++
		case 429:
		default:
			t.Errorf("wrong password as %q: %d; want 400 or 429", name, code)
		}
	}
	// PerUser (3), plus at most one slow-lane guess in this interval.
	if evaluated > 4 {
		t.Errorf("wrong passwords evaluated under %d spellings of alice: %d; want at most 3 + 1", len(spellings), evaluated)
	}
	// Another entry keeps its own budget.
	if code, _ := login(t, ts, clientFrom("127.0.4.1"), secret, "bob ", "bob-dir-pw"); code != 200 {
		t.Errorf("bob during the attack on alice: %d; want 200", code)
	}

	// The operator finds alice's entry blocked by its connector and DN (in
	// any case) and clears it; she signs in again at once.
	if code, _ := login(t, ts, clientFrom("127.0.4.2"), secret, "alice", "alice-dir-pw"); code != 429 {
		t.Fatalf("alice's right password while her entry is blocked: %d; want 429", code)
	}
	cli := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		environ := []string{"GATEHOUSE_DATABASE_URL=" + dbURL, "GATEHOUSE_LOG_FORMAT=json"}
		if err := run(t.Context(), args, environ, strings.NewReader(""), &out, &errOut); err != nil {
			t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	const dn = "UID=Alice,ou=people,dc=example,dc=org"
	shown := decodeCLIJSON[[]admin.ThrottleCounter](t, cli("throttle", "show", "--connector", "corp", "--dn", dn, "--json"))
	blocked := slices.IndexFunc(shown, func(c admin.ThrottleCounter) bool { return c.Kind == "user" && c.Blocked })
	if blocked < 0 {
		t.Fatalf("throttle show --connector corp --dn %s = %+v; want the entry's blocked user counter", dn, shown)
	}
	if byName := decodeCLIJSON[[]admin.ThrottleCounter](t, cli("throttle", "show", "--username", "alice", "--json")); slices.ContainsFunc(byName, func(c admin.ThrottleCounter) bool { return c.Key == shown[blocked].Key }) {
		t.Errorf("throttle show --username alice lists the entry's counter %s; the entry is named by its DN", shown[blocked].Key)
	}
	if out := cli("throttle", "clear", "--connector", "corp", "--dn", dn); !strings.Contains(out, "cleared=") || strings.Contains(out, "cleared=0") {
		t.Fatalf("throttle clear --connector corp --dn: %q; want counters cleared", out)
	}
	if code, _ := login(t, ts, clientFrom("127.0.4.3"), secret, "alice", "alice-dir-pw"); code != 200 {
		t.Errorf("alice after the operator cleared her entry: %d; want 200", code)
	}
	for _, args := range [][]string{
		{"throttle", "show", "--connector", "corp"},
		{"throttle", "show", "--connector", "corp", "--dn", dn, "--username", "alice"},
	} {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, []string{"GATEHOUSE_DATABASE_URL=" + dbURL}, strings.NewReader(""), &out, &errOut)
		if err == nil {
			t.Errorf("gatehouse %s succeeded; want an error naming what to give", strings.Join(args, " "))
		}
	}
}

// TestLDAPPosixGroups: groups found by memberUid={username} (an exact
// match) are the same whatever case is typed at login, and at every
// refresh, which has no typed username: {username} is the entry's uid.
func TestLDAPPosixGroups(t *testing.T) {
	dir := ldaptest.Start(t, corpPeople+`
dn: cn=ops,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: ops
gidNumber: 1001
memberUid: alice
`)
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, ldapClient)
	addLDAPConnector(t, ts, dir, storage.Connector{ID: "corp", Provision: true, RoleMap: map[string]string{"ops": "ops"},
		LDAP: &storage.LDAPSettings{URL: dir.URL, BindDN: ldaptest.ServiceDN, UserBaseDN: ldaptest.UserBase,
			UserFilter: "(&(objectClass=inetOrgPerson)(uid={username}))", GroupBaseDN: ldaptest.GroupBase,
			GroupFilter: "(&(objectClass=posixGroup)(memberUid={username}))"}})
	conf, ctx := passwordConf(ts, secret), context.Background()
	for _, name := range []string{"alice", "ALICE"} {
		tok, err := conf.PasswordCredentialsToken(ctx, name, "alice-dir-pw")
		if err != nil {
			t.Fatalf("login as %q: %v", name, err)
		}
		if _, roles := rolesOf(t, tok.AccessToken); !slices.Equal(roles, []string{"ops"}) {
			t.Errorf("login as %q: roles %v; want [ops]", name, roles)
		}
		status, body := refreshToken(t, ts, secret, tok.RefreshToken)
		if status != 200 {
			t.Fatalf("refresh after login as %q: %d %v", name, status, body)
		}
		if _, roles := rolesOf(t, body["access_token"].(string)); !slices.Equal(roles, []string{"ops"}) {
			t.Errorf("refresh after login as %q: roles %v; want [ops] as at login", name, roles)
		}
	}
}
