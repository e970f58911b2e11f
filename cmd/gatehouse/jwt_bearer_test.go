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
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/discovery/oidctest"
	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// jwtBearer is a federation set-up: a zitadel/oidc provider whose machine
// clients' tokens are for Gatehouse's token endpoint, a Gatehouse that
// trusts it, the client "broker" allowed the JWT bearer grant, and the
// clients and user the provider's subjects map to.
type jwtBearer struct {
	ts        *testServer
	idp       *httptest.Server
	st        *oidctest.Storage
	broker    string // broker's secret
	ccOnly    string // the secret of "cc-only", a client without the grant
	tokenURL  string
	ti        admin.TrustedIssuer
	adminSvc  *admin.Service
	serverCtx context.Context
}

func newJWTBearer(t *testing.T, mutate func(*Config)) *jwtBearer {
	t.Helper()
	st := oidctest.NewStorage(map[string]oidctest.Service{})
	idp := oidctest.Serve(t, st)
	ts := startServer(t, func(c *Config) {
		c.FederationTransport = idp.Client().Transport
		c.Scopes = append(c.Scopes, "deploy")
		if mutate != nil {
			mutate(c)
		}
	})
	j := &jwtBearer{ts: ts, idp: idp, st: st, tokenURL: ts.issuer + "/oauth2/token", adminSvc: ts.app.admin, serverCtx: context.Background()}
	// The provider's subjects: a deployment job (a Gatehouse client) and
	// one that is not known to Gatehouse.
	st.SetService("deployer", oidctest.Service{Secret: "s3cret-1", Audience: []string{j.tokenURL}, Roles: []string{"gh-admin", "gh-audit", "admin"}})
	st.SetService("unmapped", oidctest.Service{Secret: "s3cret-2", Audience: []string{j.tokenURL}, Roles: []string{"gh-admin"}})
	st.SetService("stranger", oidctest.Service{Secret: "s3cret-3", Audience: []string{"https://other.example"}, Roles: []string{"gh-admin"}})
	st.SetService("issuer-aud", oidctest.Service{Secret: "s3cret-4", Audience: []string{ts.issuer}, Roles: nil})
	ts.addClient(t, storage.Client{ID: "deployer", Name: "deployer", GrantTypes: []string{"client_credentials"}, Roles: []string{"service"}})
	ts.addClient(t, storage.Client{ID: "issuer-aud", Name: "issuer-aud", GrantTypes: []string{"client_credentials"}})
	j.broker = ts.addClient(t, storage.Client{ID: "broker", Name: "broker", GrantTypes: []string{oauth.GrantTypeJWTBearer},
		Scopes: []string{"deploy", "read"}, Audiences: []string{"deploy-api"}, Roles: []string{"broker-role"}})
	j.ccOnly = ts.addClient(t, storage.Client{ID: "cc-only", Name: "cc-only", GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}})
	ti, err := ts.app.admin.CreateTrustedIssuer(context.Background(), admin.TrustedIssuerParams{
		ID: "zitadel", Issuer: idp.URL, SubjectType: storage.SubjectClient, RolesClaim: "realm_access.roles",
		RoleMap: map[string]string{"gh-admin": "admin", "gh-audit": "auditor"}, MaxTokenAgeSeconds: 600,
	})
	if err != nil {
		t.Fatal(err)
	}
	j.ti = ti
	return j
}

// assertion is a fresh token of the provider's client id.
func (j *jwtBearer) assertion(t *testing.T, id string, scopes ...string) string {
	t.Helper()
	svc, _ := j.st.Service(id)
	return oidctest.Token(t, j.idp, id, svc.Secret, scopes...)
}

// grant presents assertion with the client's credentials.
func (j *jwtBearer) grant(t *testing.T, assertion, client, secret string, extra ...string) (*http.Response, map[string]any) {
	t.Helper()
	form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {assertion}}
	for i := 0; i+1 < len(extra); i += 2 {
		form.Set(extra[i], extra[i+1])
	}
	return j.ts.post(t, "/oauth2/token", form, client, secret)
}

// TestJWTBearerGrant: a token of zitadel/oidc's provider, a provider
// nobody here wrote, goes through the JWT bearer grant (RFC 7523 section
// 2.1) into a Gatehouse access token with mapped roles, verified as any
// service verifies it; forged, expired, wrong-audience, untrusted-issuer,
// alg-confused and replayed assertions are refused with invalid_grant
// (RFC 7523 section 3.1).
func TestJWTBearerGrant(t *testing.T) {
	j := newJWTBearer(t, nil)
	ts := j.ts

	// Discovery lists the grant (RFC 8414 section 2).
	_, meta := do(t, mustGet(t, ts.URL+"/.well-known/openid-configuration"))
	if !slices.Contains(strs(meta["grant_types_supported"]), oauth.GrantTypeJWTBearer) {
		t.Errorf("grant_types_supported = %v; want it to list %s", meta["grant_types_supported"], oauth.GrantTypeJWTBearer)
	}

	assertion := j.assertion(t, "deployer", "upstream-scope")
	resp, body := j.grant(t, assertion, "broker", j.broker)
	if resp.StatusCode != 200 {
		t.Fatalf("JWT bearer grant = %d %v; want 200", resp.StatusCode, body)
	}
	if _, ok := body["refresh_token"]; ok || body["token_type"] != "bearer" && body["token_type"] != "Bearer" {
		t.Errorf("response = %v; want a bearer access token and no refresh token", body)
	}
	at, _ := body["access_token"].(string)
	v, err := verifier.New(verifier.Config{Issuer: ts.issuer, Audience: "deploy-api", Now: ts.now})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := v.Verify(context.Background(), at)
	if err != nil {
		t.Fatalf("the issued token does not verify: %v", err)
	}
	// sub is the mapped client, client_id the presenter; roles are the
	// subject's own plus the mapped ones (the upstream "admin" is not in
	// the allow-list, so it does not pass as Gatehouse's admin by name);
	// scopes are the presenting client's, never the assertion's; aud is the
	// presenting client's registration, never the assertion's.
	if claims.Subject != "deployer" || claims.ClientID != "broker" ||
		!slices.Equal(claims.Roles, []string{"service", "admin", "auditor"}) ||
		!slices.Equal(claims.Scopes, []string{"deploy", "read"}) || !slices.Equal(claims.Audience, []string{"deploy-api"}) {
		t.Errorf("issued claims = sub %q client_id %q roles %v scopes %v aud %v; want deployer, broker, [service admin auditor], [deploy read], [deploy-api]",
			claims.Subject, claims.ClientID, claims.Roles, claims.Scopes, claims.Audience)
	}
	// And as a relying party built on go-oidc checks a signature.
	if _, err := oidc.NewRemoteKeySet(context.Background(), ts.URL+"/.well-known/jwks.json").VerifySignature(context.Background(), at); err != nil {
		t.Errorf("go-oidc: the issued token's signature does not verify: %v", err)
	}
	if h, _ := jwtParts(t, at); h["typ"] != "at+jwt" {
		t.Errorf("header = %v; want typ at+jwt", h)
	}

	// The same assertion again: a replay (RFC 7523 section 3 item 7).
	resp, body = j.grant(t, assertion, "broker", j.broker)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "already used") {
		t.Errorf("replay = %d %v; want 400 invalid_grant, already used", resp.StatusCode, body)
	}

	// A refused request never burns the assertion's jti: the same fresh
	// assertion is refused for reasons of the request, then accepted.
	fresh := j.assertion(t, "deployer")
	for _, try := range []struct {
		name       string
		client     string
		secret     string
		extra      []string
		wantStatus int
		wantError  string
	}{
		{"client without the grant", "cc-only", j.ccOnly, nil, 400, "unauthorized_client"},
		{"wrong client secret", "broker", "wrong", nil, 401, "invalid_client"},
		{"scope outside the client's", "broker", j.broker, []string{"scope", "admin"}, 400, "invalid_scope"},
		{"audience outside the client's", "broker", j.broker, []string{"audience", "payroll"}, 400, "invalid_target"},
	} {
		resp, body := j.grant(t, fresh, try.client, try.secret, try.extra...)
		if resp.StatusCode != try.wantStatus || body["error"] != try.wantError {
			t.Errorf("%s: %d %v; want %d %s", try.name, resp.StatusCode, body, try.wantStatus, try.wantError)
		}
	}
	if resp, body := j.grant(t, fresh, "broker", j.broker, "scope", "read"); resp.StatusCode != 200 {
		t.Errorf("the assertion after refused requests = %d %v; want 200 (its jti was not burnt)", resp.StatusCode, body)
	}
	// Gatehouse's issuer is an accepted audience too (RFC 7523 section 3
	// item 3).
	if resp, body := j.grant(t, j.assertion(t, "issuer-aud"), "broker", j.broker); resp.StatusCode != 200 {
		t.Errorf("assertion for the issuer = %d %v; want 200", resp.StatusCode, body)
	}

	// The refusals.
	deployer := j.assertion(t, "deployer")
	hsPEM, hsDER, none := oidctest.AlgConfused(t, j.idp, deployer)
	untrusted := oidctest.Serve(t, oidctest.NewStorage(map[string]oidctest.Service{"deployer": {Secret: "s3cret-1", Audience: []string{j.tokenURL}, Roles: []string{"gh-admin"}}}))
	sameKeyOtherIssuer := oidctest.Serve(t, j.st) // the provider's key under another issuer URL
	tests := []struct {
		name, assertion string
	}{
		{"forged: re-signed with another key under the provider's kid", oidctest.Resign(t, deployer)},
		{"wrong audience", j.assertion(t, "stranger")},
		{"untrusted issuer", oidctest.Token(t, untrusted, "deployer", "s3cret-1")},
		{"untrusted issuer with the trusted issuer's key", oidctest.Token(t, sameKeyOtherIssuer, "deployer", "s3cret-1")},
		{"HS256 MACed with the PEM public key", hsPEM},
		{"HS256 MACed with the DER public key", hsDER},
		{"alg none", none},
		{"subject unknown to Gatehouse", j.assertion(t, "unmapped")},
		{"not a JWT", "not-a-jwt"},
		{"a Gatehouse token", at},
	}
	for _, tt := range tests {
		resp, body := j.grant(t, tt.assertion, "broker", j.broker)
		if resp.StatusCode != 400 || body["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v; want 400 invalid_grant", tt.name, resp.StatusCode, body)
		}
		if _, ok := body["access_token"]; ok {
			t.Errorf("%s: a token was issued", tt.name)
		}
	}
	// Expired: the provider's tokens live five minutes; an hour later
	// (by Gatehouse's clock) this one is past exp and past the maximum age.
	ts.advance(time.Hour)
	resp, body = j.grant(t, deployer, "broker", j.broker)
	ts.advance(-time.Hour)
	if resp.StatusCode != 400 || body["error"] != "invalid_grant" || !strings.Contains(body["error_description"].(string), "expired") {
		t.Errorf("expired assertion = %d %v; want 400 invalid_grant, expired", resp.StatusCode, body)
	}
	// And the untouched assertion still works: none of the refusals used it.
	if resp, body := j.grant(t, deployer, "broker", j.broker); resp.StatusCode != 200 {
		t.Errorf("the assertion after the refusals = %d %v; want 200", resp.StatusCode, body)
	}
	// A genuine assertion refused for its subject is not burnt either: once
	// the subject exists, the same assertion is accepted.
	unmapped := j.assertion(t, "unmapped")
	if resp, body := j.grant(t, unmapped, "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("unmapped subject = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	ts.addClient(t, storage.Client{ID: "unmapped", Name: "unmapped", GrantTypes: []string{"client_credentials"}})
	if resp, body := j.grant(t, unmapped, "broker", j.broker); resp.StatusCode != 200 {
		t.Errorf("the same assertion once its subject exists = %d %v; want 200 (a refusal must not burn its jti)", resp.StatusCode, body)
	}

	// A disabled trusted issuer, then a deleted one, is untrusted.
	disabled := true
	if _, err := j.adminSvc.UpdateTrustedIssuer(context.Background(), "zitadel", admin.TrustedIssuerPatch{Disabled: &disabled}); err != nil {
		t.Fatal(err)
	}
	if resp, body := j.grant(t, j.assertion(t, "deployer"), "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("disabled issuer = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
}

// TestJWTBearerRequestErrors: what the request itself gets wrong, before
// any assertion is looked at, and an issuer whose keys cannot be fetched.
func TestJWTBearerRequestErrors(t *testing.T) {
	j := newJWTBearer(t, nil)
	a := j.assertion(t, "deployer")
	form := func(kv ...string) url.Values {
		v := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name         string
		form         url.Values
		user, secret string
		wantStatus   int
		wantError    string
	}{
		{"no client authentication", form("assertion", a), "", "", 401, "invalid_client"},
		{"missing assertion", form(), "broker", j.broker, 400, "invalid_request"},
		{"two assertions", form("assertion", a, "assertion", a), "broker", j.broker, 400, "invalid_request"},
		{"NUL in the assertion", form("assertion", "a\x00b"), "broker", j.broker, 400, "invalid_request"},
		{"over-long assertion", form("assertion", strings.Repeat("a", 17<<10)), "broker", j.broker, 400, "invalid_request"},
	}
	for _, tt := range tests {
		resp, body := j.ts.post(t, "/oauth2/token", tt.form, tt.user, tt.secret)
		if resp.StatusCode != tt.wantStatus || body["error"] != tt.wantError {
			t.Errorf("%s: %d %v; want %d %s", tt.name, resp.StatusCode, body, tt.wantStatus, tt.wantError)
		}
	}
	// The provider goes down before Gatehouse has its keys: 503
	// temporarily_unavailable with Retry-After, not invalid_grant.
	j.idp.Close()
	resp, body := j.grant(t, a, "broker", j.broker)
	if resp.StatusCode != 503 || body["error"] != "temporarily_unavailable" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("issuer down = %d %v (Retry-After %q); want 503 temporarily_unavailable", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
}

// TestJWTBearerUserSubject maps the provider's subject to a Gatehouse
// user by username: sub is the user's id and the user's roles combine
// with the mapped ones; a disabled user is refused.
func TestJWTBearerUserSubject(t *testing.T) {
	j := newJWTBearer(t, nil)
	j.ts.addUser(t, "u-dep", "Deployer", "pw-deployer-1", "user")
	subj := storage.SubjectUser
	if _, err := j.adminSvc.UpdateTrustedIssuer(context.Background(), "zitadel", admin.TrustedIssuerPatch{SubjectType: &subj}); err != nil {
		t.Fatal(err)
	}
	resp, body := j.grant(t, j.assertion(t, "deployer"), "broker", j.broker)
	if resp.StatusCode != 200 {
		t.Fatalf("grant = %d %v", resp.StatusCode, body)
	}
	_, claims := jwtParts(t, body["access_token"].(string))
	if claims["sub"] != "u-dep" || claims["client_id"] != "broker" || !slices.Equal(strs(claims["roles"]), []string{"user", "admin", "auditor"}) {
		t.Errorf("claims = %v; want sub u-dep, roles [user admin auditor]", claims)
	}
	j.ts.app.store.UpdateUser(context.Background(), "u-dep", func(u storage.User) (storage.User, error) { u.Disabled = true; return u, nil })
	if resp, body := j.grant(t, j.assertion(t, "deployer"), "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("disabled user = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
}

// TestJWTBearerReplayRacePostgres presents each assertion from many
// goroutines at once, through the token endpoint on PostgreSQL: exactly
// one of them gets a token (RFC 7523 section 3 item 7).
func TestJWTBearerReplayRacePostgres(t *testing.T) {
	j := newJWTBearer(t, withPostgres(pgtest.URL(t)))
	const assertions, racers = 10, 8
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: racers, DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext}}
	for i := range assertions {
		a := j.assertion(t, "deployer")
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			statuses = map[int]int{}
			start    = make(chan struct{})
		)
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"grant_type": {oauth.GrantTypeJWTBearer}, "assertion": {a}}
				req, _ := http.NewRequest(http.MethodPost, j.ts.URL+"/oauth2/token", strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth("broker", j.broker)
				<-start
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}()
		}
		close(start)
		wg.Wait()
		if statuses[200] != 1 || statuses[400] != racers-1 {
			t.Errorf("assertion %d presented %d times at once: statuses %v; want one 200 and %d 400", i, racers, statuses, racers-1)
		}
	}
}

// TestJWTBearerProvisioning, on PostgreSQL: an unknown user subject is
// refused while the issuer does not provision (the default) and creates
// nothing; once it provisions, concurrent first tokens of one subject
// create exactly one user, with no password and no roles of its own, and
// every token names it with the issuer's mapped roles. A client subject is
// never provisioned.
func TestJWTBearerProvisioning(t *testing.T) {
	j := newJWTBearer(t, withPostgres(pgtest.URL(t)))
	ctx := context.Background()
	j.st.SetService("newcomer", oidctest.Service{Secret: "s3cret-5", Audience: []string{j.tokenURL}, Roles: []string{"gh-audit", "gh-unknown"}})
	subj := storage.SubjectUser
	if _, err := j.adminSvc.UpdateTrustedIssuer(ctx, "zitadel", admin.TrustedIssuerPatch{SubjectType: &subj}); err != nil {
		t.Fatal(err)
	}
	if resp, body := j.grant(t, j.assertion(t, "newcomer"), "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Fatalf("unknown subject without provisioning = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	if _, err := j.ts.app.store.GetUserByUsername(ctx, "newcomer"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("user after a refused grant: %v; want none created", err)
	}

	on := true
	if _, err := j.adminSvc.UpdateTrustedIssuer(ctx, "zitadel", admin.TrustedIssuerPatch{Provision: &on}); err != nil {
		t.Fatal(err)
	}
	const racers = 8
	assertions := make([]string, racers)
	for i := range assertions {
		assertions[i] = j.assertion(t, "newcomer")
	}
	subs := make([]string, racers)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			resp, body := j.grant(t, assertions[i], "broker", j.broker)
			if resp.StatusCode != 200 {
				t.Errorf("first token %d of a provisioned subject = %d %v; want 200", i, resp.StatusCode, body)
				return
			}
			_, claims := jwtParts(t, body["access_token"].(string))
			subs[i], _ = claims["sub"].(string)
			if roles := strs(claims["roles"]); !slices.Equal(roles, []string{"auditor"}) {
				t.Errorf("roles = %v; want [auditor] (mapped; the user has none of its own)", roles)
			}
		})
	}
	close(start)
	wg.Wait()
	u, err := j.ts.app.store.GetUserByUsername(ctx, "newcomer")
	if err != nil {
		t.Fatalf("provisioned user: %v", err)
	}
	for i, s := range subs {
		if s != u.ID {
			t.Errorf("token %d names %q; want the one provisioned user %q", i, s, u.ID)
		}
	}
	if u.PasswordHash != "" || len(u.Roles) != 0 || u.Disabled {
		t.Errorf("provisioned user %+v; want no password, no roles, enabled", u)
	}
	users, err := j.ts.app.store.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(slices.DeleteFunc(users, func(x storage.User) bool { return x.Username != "newcomer" })); n != 1 {
		t.Errorf("%d users named newcomer after %d concurrent first tokens; want 1", n, racers)
	}
	// No password: the password grant does not know the user.
	pw := j.ts.addClient(t, storage.Client{ID: "pw-app", Name: "pw-app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	if resp, body := j.ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {"newcomer"}, "password": {"any-password-1"}}, "pw-app", pw); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("password grant for a provisioned user = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}

	// A subject the username rules refuse (a CI system's structured
	// subject) never becomes a user.
	j.st.SetService("repo:acme/app:ref:main", oidctest.Service{Secret: "s3cret-8", Audience: []string{j.tokenURL}, Roles: nil})
	if resp, body := j.grant(t, j.assertion(t, "repo:acme/app:ref:main"), "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("provisioning a structured subject = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	if users, err := j.ts.app.store.ListUsers(ctx); err != nil || slices.ContainsFunc(users, func(x storage.User) bool { return strings.HasPrefix(x.Username, "repo:") }) {
		t.Errorf("users after a structured subject: %v, %v; want none created", users, err)
	}

	client := storage.SubjectClient
	var fe *admin.FieldError
	if _, err := j.adminSvc.UpdateTrustedIssuer(ctx, "zitadel", admin.TrustedIssuerPatch{SubjectType: &client}); !errors.As(err, &fe) || fe.Field != "provision" {
		t.Errorf("provisioning clients: %v; want a field error on provision", err)
	}
}

// TestTrustedTokenUsedOnce: a trusted issuer's token is accepted once,
// whichever grant it is presented to (RFC 7523 section 3 item 7): the JWT
// bearer grant and token exchange share one record of used tokens.
func TestTrustedTokenUsedOnce(t *testing.T) {
	j := newJWTBearer(t, nil)
	ex := j.ts.addClient(t, storage.Client{ID: "exchanger", Name: "exchanger", GrantTypes: []string{oauth.GrantTypeTokenExchange},
		Scopes: []string{"read"}, Audiences: []string{"deploy-api"}})
	exchange := func(token string) (*http.Response, map[string]any) {
		return j.ts.post(t, "/oauth2/token", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {token},
			"subject_token_type": {oauth.TokenTypeJWT}, "audience": {"deploy-api"}}, "exchanger", ex)
	}

	first := j.assertion(t, "deployer")
	if resp, body := j.grant(t, first, "broker", j.broker); resp.StatusCode != 200 {
		t.Fatalf("JWT bearer grant = %d %v; want 200", resp.StatusCode, body)
	}
	if resp, body := exchange(first); resp.StatusCode != 400 || body["error"] != "invalid_request" || body["access_token"] != nil {
		t.Errorf("exchange of a token the JWT bearer grant used = %d %v; want 400 invalid_request (RFC 8693 section 2.2.2)", resp.StatusCode, body)
	}

	second := j.assertion(t, "deployer")
	if resp, body := exchange(second); resp.StatusCode != 200 {
		t.Fatalf("exchange = %d %v; want 200", resp.StatusCode, body)
	}
	if resp, body := j.grant(t, second, "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["access_token"] != nil {
		t.Errorf("JWT bearer grant of a token exchange used = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
}

// TestTrustedTokenAudience: a trusted issuer may accept a service's
// audience (for token exchange), but a JWT bearer assertion must name
// Gatehouse (RFC 7523 section 3 item 3), and an exchanged token must have
// been meant for the exchanging service or for Gatehouse: a token that
// reached another service is refused (RFC 8693 section 2.2.2).
func TestTrustedTokenAudience(t *testing.T) {
	j := newJWTBearer(t, nil)
	ctx := context.Background()
	auds := []string{j.tokenURL, "orders-api"}
	if _, err := j.adminSvc.UpdateTrustedIssuer(ctx, "zitadel", admin.TrustedIssuerPatch{Audiences: &auds}); err != nil {
		t.Fatal(err)
	}
	j.st.SetService("svc-orders", oidctest.Service{Secret: "s3cret-6", Audience: []string{"orders-api"}, Roles: []string{"gh-audit"}})
	j.ts.addClient(t, storage.Client{ID: "svc-orders", Name: "svc-orders", GrantTypes: []string{"client_credentials"}})
	secrets := map[string]string{}
	for _, id := range []string{"orders-api", "billing-api"} {
		secrets[id] = j.ts.addClient(t, storage.Client{ID: id, Name: id, GrantTypes: []string{oauth.GrantTypeTokenExchange},
			Scopes: []string{"read"}, Audiences: []string{"inventory"}})
	}
	exchange := func(token, client string) (*http.Response, map[string]any) {
		return j.ts.post(t, "/oauth2/token", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {token},
			"subject_token_type": {oauth.TokenTypeJWT}, "audience": {"inventory"}}, client, secrets[client])
	}

	forOrders := j.assertion(t, "svc-orders")
	if resp, body := j.grant(t, forOrders, "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("JWT bearer grant of a token for orders-api = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	if resp, body := exchange(forOrders, "billing-api"); resp.StatusCode != 400 || body["error"] != "invalid_request" {
		t.Errorf("billing-api exchanging a token meant for orders-api = %d %v; want 400 invalid_request", resp.StatusCode, body)
	}
	if resp, body := exchange(forOrders, "orders-api"); resp.StatusCode != 200 {
		t.Errorf("orders-api exchanging its own token = %d %v; want 200", resp.StatusCode, body)
	}
	// A token for Gatehouse may be exchanged by any client with the grant.
	if resp, body := exchange(j.assertion(t, "deployer"), "billing-api"); resp.StatusCode != 200 {
		t.Errorf("exchange of a token for Gatehouse = %d %v; want 200", resp.StatusCode, body)
	}

	// A refused token provisions nobody: the audience is checked before
	// the subject is mapped.
	user, on := storage.SubjectUser, true
	if _, err := j.adminSvc.UpdateTrustedIssuer(ctx, "zitadel", admin.TrustedIssuerPatch{SubjectType: &user, Provision: &on}); err != nil {
		t.Fatal(err)
	}
	j.st.SetService("newbie", oidctest.Service{Secret: "s3cret-9", Audience: []string{"orders-api"}})
	newbie := j.assertion(t, "newbie")
	if resp, body := j.grant(t, newbie, "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" {
		t.Errorf("JWT bearer grant of a token for orders-api = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
	if resp, body := exchange(newbie, "billing-api"); resp.StatusCode != 400 || body["error"] != "invalid_request" {
		t.Errorf("billing-api exchanging a token meant for orders-api = %d %v; want 400 invalid_request", resp.StatusCode, body)
	}
	// Its scp is empty: a request for a scope is refused (RFC 8693 section
	// 2.2.2, invalid_scope) before anyone is provisioned.
	if resp, body := j.ts.post(t, "/oauth2/token", url.Values{"grant_type": {oauth.GrantTypeTokenExchange}, "subject_token": {newbie},
		"subject_token_type": {oauth.TokenTypeJWT}, "audience": {"inventory"}, "scope": {"read"}}, "orders-api", secrets["orders-api"]); resp.StatusCode != 400 || body["error"] != "invalid_scope" {
		t.Errorf("exchange asking a scope the token lacks = %d %v; want 400 invalid_scope", resp.StatusCode, body)
	}
	if _, err := j.ts.app.store.GetUserByUsername(ctx, "newbie"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("user after refused tokens: %v; want none provisioned", err)
	}
	if resp, body := exchange(newbie, "orders-api"); resp.StatusCode != 200 {
		t.Errorf("orders-api exchanging its own token = %d %v; want 200", resp.StatusCode, body)
	}
	if _, err := j.ts.app.store.GetUserByUsername(ctx, "newbie"); err != nil {
		t.Errorf("user after an accepted token: %v; want provisioned", err)
	}
}

// TestTrustedTokenNeverAnAdmin: subjects are matched by name, so a trusted
// issuer's subject that equals an administrator's client id (or username)
// is refused, whatever the issuer says.
func TestTrustedTokenNeverAnAdmin(t *testing.T) {
	j := newJWTBearer(t, nil)
	if err := j.ts.app.store.CreateClient(context.Background(), storage.Client{ID: "root-admin", Name: "root-admin",
		GrantTypes: []string{"client_credentials"}, Roles: []string{"gatehouse-admin"}}); err != nil {
		t.Fatal(err)
	}
	j.st.SetService("root-admin", oidctest.Service{Secret: "s3cret-7", Audience: []string{j.tokenURL}, Roles: nil})
	if resp, body := j.grant(t, j.assertion(t, "root-admin"), "broker", j.broker); resp.StatusCode != 400 || body["error"] != "invalid_grant" || body["access_token"] != nil {
		t.Errorf("assertion for an admin client = %d %v; want 400 invalid_grant", resp.StatusCode, body)
	}
}
