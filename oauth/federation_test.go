package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

const fedGatehouse = "https://gatehouse.example"

// fedIssuer is an external issuer on a loopback httptest server: OIDC
// discovery and a JWKS with one ES256 key.
type fedIssuer struct {
	srv  *httptest.Server
	URL  string
	key  *ecdsa.PrivateKey
	kid  string
	hits atomic.Int64
	// jwksURI overrides the jwks_uri of the discovery document.
	jwksURI string
}

func newFedIssuer(t *testing.T) *fedIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	f := &fedIssuer{key: key, kid: "k1"}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			jwks := f.jwksURI
			if jwks == "" {
				jwks = f.URL + "/jwks"
			}
			json.NewEncoder(w).Encode(map[string]any{"issuer": f.URL, "jwks_uri": jwks})
		case "/jwks":
			json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: f.kid, Algorithm: "ES256", Use: "sig"}}})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	return f
}

// claims are a workload token for gatehouse's token endpoint, issued now.
func (f *fedIssuer) claims(sub string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": f.URL, "sub": sub, "aud": fedGatehouse + "/oauth2/token", "iat": now, "nbf": now,
		"exp": now + 300, "jti": rand.Text(), "realm_access": map[string]any{"roles": []string{"deployer", "viewer", "admin"}},
		"scope": "deploy read"}
}

// sign signs claims with the issuer's key, typ "JWT".
func (f *fedIssuer) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	return signWith(t, f.key, f.kid, claims)
}

func signWith(t *testing.T, key *ecdsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	return keystest.SignJWT(t, jose.ES256, key, claims, "kid", kid, "typ", "JWT")
}

func b64JSON(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

// fedServer is a token server over a memory store with user alice, client
// ci-bot, and the trusted issuers given.
func fedServer(t *testing.T, timeout time.Duration, issuers ...storage.TrustedIssuer) (*Server, *memory.Store) {
	t.Helper()
	store := memory.New()
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Issuer: fedGatehouse, FederationTimeout: timeout,
		Password: PasswordParams{MemoryKiB: 64, Iterations: 1}}, store, ring)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(store.CreateUser(ctx, storage.User{ID: "u-alice", Username: "alice", PasswordHash: "x", Roles: []string{"user"}, CreatedAt: now}))
	must(store.CreateUser(ctx, storage.User{ID: "u-bob", Username: "bob", PasswordHash: "x", Disabled: true, CreatedAt: now}))
	must(store.CreateClient(ctx, storage.Client{ID: "ci-bot", Name: "ci-bot", Roles: []string{"service"}, CreatedAt: now}))
	for _, ti := range issuers {
		must(store.CreateTrustedIssuer(ctx, ti))
	}
	return s, store
}

func trusted(id, iss string) storage.TrustedIssuer {
	return storage.TrustedIssuer{ID: id, Issuer: iss, SubjectType: storage.SubjectUser, RolesClaim: "realm_access.roles",
		RoleMap: map[string]string{"deployer": "deploy", "viewer": "reader"}, CreatedAt: time.Now(), UpdatedAt: time.Now()}
}

// wantRFC checks that err is the RFC 6749 error code with the status.
func wantRFC(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	rfc := fosite.ErrorToRFC6749Error(err)
	if err == nil || rfc.ErrorField != code || rfc.CodeField != status {
		t.Errorf("%s: verifyTrusted = %v (%s %d); want %s %d", what, err, rfc.ErrorField, rfc.CodeField, code, status)
	}
}

func TestVerifyTrusted(t *testing.T) {
	idp := newFedIssuer(t)
	ciIdp := newFedIssuer(t)
	ci := trusted("ti-ci", ciIdp.URL)
	ci.SubjectType, ci.SubjectClaim = storage.SubjectClient, "client_name"
	ci.RoleMap = nil // no roles from this one
	s, _ := fedServer(t, time.Second, trusted("ti-idp", idp.URL), ci)
	ctx := t.Context()

	id, err := s.verifyTrusted(ctx, idp.sign(t, idp.claims("Alice")))
	if err != nil {
		t.Fatalf("verifyTrusted(alice) = %v", err)
	}
	// Usernames compare after case folding; "admin" upstream is not in
	// the allow-list, so it is dropped.
	if id.UserID != "u-alice" || id.ClientID != "" || id.Subject != "Alice" || id.Issuer.ID != "ti-idp" ||
		!slices.Equal(id.Roles, []string{"deploy", "reader"}) || !slices.Equal(id.Scopes, []string{"deploy", "read"}) || id.JTI == "" {
		t.Errorf("verifyTrusted(alice) = %+v; want user u-alice, roles [deploy reader], scopes [deploy read]", id)
	}

	claims := ciIdp.claims("repo:acme/app")
	claims["client_name"] = "ci-bot"
	id, err = s.verifyTrusted(ctx, ciIdp.sign(t, claims))
	if err != nil || id.ClientID != "ci-bot" || id.UserID != "" || len(id.Roles) != 0 {
		t.Errorf("verifyTrusted(ci) = %+v, %v; want client ci-bot, no roles", id, err)
	}

	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	stranger := newFedIssuer(t)
	edit := func(fn func(map[string]any)) string {
		c := idp.claims("alice")
		fn(c)
		return idp.sign(t, c)
	}
	hs256 := func() string {
		der, _ := x509.MarshalPKIXPublicKey(&idp.key.PublicKey)
		in := b64JSON(map[string]any{"alg": "HS256", "typ": "JWT", "kid": idp.kid}) + "." + b64JSON(idp.claims("alice"))
		m := hmac.New(sha256.New, der)
		m.Write([]byte(in))
		return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	tests := []struct {
		name, token string
	}{
		{"not a JWT", "garbage"},
		{"untrusted issuer", stranger.sign(t, stranger.claims("alice"))},
		{"iss with a NUL byte", edit(func(c map[string]any) { c["iss"] = "https://x\x00" })},
		{"iss not a string", edit(func(c map[string]any) { c["iss"] = 7 })},
		{"forged: another key under the issuer's kid", signWith(t, otherKey, idp.kid, idp.claims("alice"))},
		{"alg none", b64JSON(map[string]any{"alg": "none", "typ": "JWT"}) + "." + b64JSON(idp.claims("alice")) + "."},
		{"HS256 with the public key", hs256()},
		{"expired", edit(func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() })},
		{"not yet valid", edit(func(c map[string]any) { c["nbf"] = time.Now().Add(time.Hour).Unix() })},
		{"wrong audience", edit(func(c map[string]any) { c["aud"] = "https://other.example" })},
		{"Gatehouse's issuer is an accepted audience, a prefix of it is not", edit(func(c map[string]any) { c["aud"] = fedGatehouse + "/oauth2" })},
		{"no iat", edit(func(c map[string]any) { delete(c, "iat") })},
		{"too old", edit(func(c map[string]any) { c["iat"] = time.Now().Add(-2 * time.Hour).Unix() })},
		{"no jti", edit(func(c map[string]any) { delete(c, "jti") })},
		{"no exp", edit(func(c map[string]any) { delete(c, "exp") })},
		{"unknown user", edit(func(c map[string]any) { c["sub"] = "mallory" })},
		{"disabled user", edit(func(c map[string]any) { c["sub"] = "bob" })},
		{"subject with a NUL byte", edit(func(c map[string]any) { c["sub"] = "alice\x00" })},
		{"roles claim of the wrong type", edit(func(c map[string]any) { c["realm_access"] = "admin" })},
	}
	for _, tt := range tests {
		_, err := s.verifyTrusted(ctx, tt.token)
		wantRFC(t, tt.name, err, "invalid_grant", 400)
	}
	// The issuer's own accepted audience is the issuer too.
	if _, err := s.verifyTrusted(ctx, edit(func(c map[string]any) { c["aud"] = []string{"x", fedGatehouse} })); err != nil {
		t.Errorf("verifyTrusted(aud = Gatehouse's issuer) = %v; want nil", err)
	}
}

// TestVerifyTrustedRecordChanges: the verifier follows the record: a
// disabled issuer is refused, a changed role map applies at once.
func TestVerifyTrustedRecordChanges(t *testing.T) {
	idp := newFedIssuer(t)
	s, store := fedServer(t, time.Second, trusted("ti-idp", idp.URL))
	ctx := t.Context()
	update := func(fn func(*storage.TrustedIssuer)) {
		t.Helper()
		if err := store.UpdateTrustedIssuer(ctx, "ti-idp", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) {
			fn(&ti)
			return ti, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	update(func(ti *storage.TrustedIssuer) { ti.RoleMap = map[string]string{"admin": "ops"} })
	id, err := s.verifyTrusted(ctx, idp.sign(t, idp.claims("alice")))
	if err != nil || !slices.Equal(id.Roles, []string{"ops"}) {
		t.Errorf("after a role-map change: roles %v, %v; want [ops]", id.Roles, err)
	}
	update(func(ti *storage.TrustedIssuer) { ti.Audiences = []string{"https://only.example"} })
	_, err = s.verifyTrusted(ctx, idp.sign(t, idp.claims("alice")))
	wantRFC(t, "after an audience change", err, "invalid_grant", 400)
	update(func(ti *storage.TrustedIssuer) { ti.Audiences = nil; ti.Disabled = true })
	_, err = s.verifyTrusted(ctx, idp.sign(t, idp.claims("alice")))
	wantRFC(t, "disabled issuer", err, "invalid_grant", 400)
}

// TestVerifyTrustedNoNewWayIn: only the configured issuer's hosts are
// fetched; an issuer whose discovery points elsewhere, or redirects
// elsewhere, gets 503 and the other host sees no request.
func TestVerifyTrustedNoNewWayIn(t *testing.T) {
	var elsewhere atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		http.NotFound(w, r)
	}))
	defer other.Close()

	pointsAway := newFedIssuer(t)
	pointsAway.jwksURI = other.URL + "/jwks"
	redirects := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusFound)
	}))
	defer redirects.Close()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)

	s, _ := fedServer(t, time.Second, trusted("ti-away", pointsAway.URL), trusted("ti-redirect", redirects.URL))
	ctx := t.Context()
	_, err := s.verifyTrusted(ctx, pointsAway.sign(t, pointsAway.claims("alice")))
	wantRFC(t, "jwks_uri on another host", err, "temporarily_unavailable", 503)
	claims := pointsAway.claims("alice")
	claims["iss"] = redirects.URL
	_, err = s.verifyTrusted(ctx, signWith(t, key, "k1", claims))
	wantRFC(t, "redirect to another host", err, "temporarily_unavailable", 503)
	if n := elsewhere.Load(); n != 0 {
		t.Errorf("the other host got %d requests; want 0", n)
	}

	for raw, want := range map[string]bool{
		"https://idp.example": true, "http://127.0.0.1:8080": true, "http://[::1]:1": true, "http://localhost": true,
		"http://idp.example": false, "http://10.0.0.1": false, "ftp://idp.example": false, "https://user@idp.example": false,
		"file:///etc/passwd": false,
	} {
		u, _ := url.Parse(raw)
		if got := FetchableURL(u); got != want {
			t.Errorf("FetchableURL(%q) = %v; want %v", raw, got, want)
		}
	}
}

// TestVerifyTrustedSlowIssuer: an issuer that accepts connections and
// never answers costs its own requests the federation timeout and then
// 503; meanwhile another issuer's tokens verify at once.
func TestVerifyTrustedSlowIssuer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hung := make(chan struct{})
	defer close(hung)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { <-hung; c.Close() }()
		}
	}()
	defer ln.Close()
	slowURL := "http://" + ln.Addr().String()
	good := newFedIssuer(t)
	const timeout = 400 * time.Millisecond
	s, _ := fedServer(t, timeout, trusted("ti-slow", slowURL), trusted("ti-good", good.URL))
	ctx := t.Context()

	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	claims := good.claims("alice")
	claims["iss"] = slowURL
	slowToken := signWith(t, key, "k1", claims)
	type result struct {
		err     error
		elapsed time.Duration
	}
	slow := make(chan result, 4)
	for range 4 {
		go func() {
			start := time.Now()
			_, err := s.verifyTrusted(ctx, slowToken)
			slow <- result{err, time.Since(start)}
		}()
	}
	time.Sleep(50 * time.Millisecond) // the slow requests are waiting now
	start := time.Now()
	if _, err := s.verifyTrusted(ctx, good.sign(t, good.claims("alice"))); err != nil {
		t.Fatalf("good issuer while another hangs: %v", err)
	}
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("good issuer took %v while another hung; want well under %v", d, timeout)
	}
	for range 4 {
		r := <-slow
		wantRFC(t, "hung issuer", r.err, "temporarily_unavailable", 503)
		if r.elapsed > timeout+time.Second {
			t.Errorf("hung issuer answered after %v; want about %v", r.elapsed, timeout)
		}
	}
	// Once the fetch in flight has given up (discovery tries two paths,
	// each bounded by the timeout), the next request within the refetch
	// interval fails fast.
	time.Sleep(timeout + 100*time.Millisecond)
	start = time.Now()
	_, err = s.verifyTrusted(ctx, slowToken)
	wantRFC(t, "hung issuer, again", err, "temporarily_unavailable", 503)
	if d := time.Since(start); d > timeout/2 {
		t.Errorf("second request to the hung issuer took %v; want a fast refusal", d)
	}
}

// TestVerifyTrustedStoreDown: a store failure is the store's error
// (storage.ErrUnavailable), which the token endpoint answers 503.
func TestVerifyTrustedStoreDown(t *testing.T) {
	idp := newFedIssuer(t)
	s, _ := fedServer(t, time.Second, trusted("ti-idp", idp.URL))
	s.store = downStore{s.store}
	_, err := s.verifyTrusted(t.Context(), idp.sign(t, idp.claims("alice")))
	if !errors.Is(err, storage.ErrUnavailable) {
		t.Errorf("verifyTrusted with the store down = %v; want storage.ErrUnavailable", err)
	}
}

type downStore struct{ storage.Store }

func (downStore) GetTrustedIssuerByIssuer(context.Context, string) (storage.TrustedIssuer, error) {
	return storage.TrustedIssuer{}, storage.ErrUnavailable
}
