package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// testScopes are the scopes the test server knows.
var testScopes = []string{"read", "write", "offline_access", DefaultAdminScope}

// clock is a test clock that only moves when told.
type clock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// gatehouse is a small Gatehouse on httptest: the oauth token and
// introspection endpoints, discovery and JWKS, and the admin API guarded by
// real access tokens.
type gatehouse struct {
	*httptest.Server
	issuer string
	store  *memory.Store
	svc    *Service
	clock  *clock
	audit  *syncBuffer
	router *mux.Router
}

func newService(t testing.TB, store *memory.Store, now func() time.Time, logOut io.Writer) *Service {
	t.Helper()
	h, err := oauth.NewPasswordHasher(oauth.PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(Config{
		Store: store, Hasher: h, Now: now, Scopes: testScopes, Secrets: keys.RandomSecrets(),
		Logger: slog.New(slog.NewJSONHandler(logOut, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func startGatehouse(t testing.TB) *gatehouse {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	g := &gatehouse{Server: hs, issuer: "http://" + hs.Listener.Addr().String(), store: memory.New(), clock: &clock{}, audit: &syncBuffer{}}
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	o, err := oauth.New(oauth.Config{
		Issuer:   g.issuer,
		Password: oauth.PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1},
		Now:      g.clock.now,
	}, g.store, ring)
	if err != nil {
		t.Fatal(err)
	}
	g.svc = newService(t, g.store, g.clock.now, g.audit)
	auth, err := NewAuth(AuthConfig{Issuer: g.issuer, Revoked: o.Revoked, Now: g.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	d := discovery.Config{Issuer: g.issuer, GrantTypes: oauth.GrantTypes(), AuthMethods: oauth.AuthMethods(),
		Scopes: testScopes, Algorithms: ring.Algorithms, IDTokenAlgorithms: ring.IDTokenAlgorithms, MaxAge: time.Minute}
	r := mux.NewRouter()
	meta := discovery.MetadataHandler(d)
	r.Handle(discovery.OpenIDConfigurationPath, meta)
	r.Handle(discovery.OAuthMetadataPath, meta)
	r.Handle(discovery.JWKSPath, discovery.JWKSHandler(ring.JWKS, d.MaxAge))
	r.HandleFunc(discovery.TokenPath, o.Token)
	r.HandleFunc(discovery.IntrospectionPath, o.Introspect)
	r.PathPrefix(PathPrefix).Handler(NewHandler(g.svc, auth))
	g.router = r
	hs.Config.Handler = r
	hs.Start()
	t.Cleanup(hs.Close)
	return g
}

// client registers a client through the service and returns its secret.
func (g *gatehouse) client(t testing.TB, p ClientParams) (string, string) {
	t.Helper()
	c, err := g.svc.CreateClient(context.Background(), p)
	if err != nil {
		t.Fatalf("CreateClient(%+v): %v", p, err)
	}
	return c.ID, c.ClientSecret
}

// form posts a form with Basic credentials and returns status and JSON.
func (g *gatehouse) form(t testing.TB, path string, v url.Values, id, secret string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, g.URL+path, strings.NewReader(v.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, body := send(t, req)
	m := map[string]any{}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("POST %s: body %q: %v", path, body, err)
		}
	}
	return resp.StatusCode, m
}

// token returns a client_credentials access token.
func (g *gatehouse) token(t testing.TB, id, secret string) string {
	t.Helper()
	code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"client_credentials"}}, id, secret)
	if code != http.StatusOK {
		t.Fatalf("client_credentials for %s: %d %v", id, code, body)
	}
	return body["access_token"].(string)
}

// adminToken registers an admin client and returns a token of it.
func (g *gatehouse) adminToken(t testing.TB) string {
	t.Helper()
	id, secret := g.client(t, ClientParams{Name: "admin-" + newID("")[:8], GrantTypes: []string{"client_credentials"}, Roles: []string{DefaultAdminRole}})
	return g.token(t, id, secret)
}

func send(t testing.TB, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

// call sends an admin API request; body is JSON-encoded unless it is a
// string, which is sent as is.
func (g *gatehouse) call(t testing.TB, token, method, path string, body any) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, _ := http.NewRequest(method, g.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(t, req)
}

// callJSON is call that decodes the JSON answer into a map.
func (g *gatehouse) callJSON(t testing.TB, token, method, path string, body any) (int, map[string]any) {
	t.Helper()
	resp, b := g.call(t, token, method, path, body)
	m := map[string]any{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, b, err)
		}
	}
	return resp.StatusCode, m
}
