package main

import (
	"context"
	"encoding/base64"
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

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// testServer is a Gatehouse server on httptest with a controllable clock.
type testServer struct {
	*httptest.Server
	app    *app
	issuer string

	mu     sync.Mutex
	offset time.Duration
}

// advance moves the server's clock forward.
func (s *testServer) advance(d time.Duration) {
	s.mu.Lock()
	s.offset += d
	s.mu.Unlock()
}

func (s *testServer) now() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Now().Add(s.offset)
}

// testConfig is the dev-mode configuration with cheap password hashing.
func testConfig(t testing.TB) *Config {
	t.Helper()
	cfg, err := parseConfig(func(string) string { return "" }, []string{"--argon2-memory-kib", "8192", "--argon2-iterations", "1"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// Tests change clients in the store directly and expect the next
	// request to see it; TestClientCache covers the cache.
	cfg.ClientCacheTTL = 0
	return cfg
}

func startServer(t testing.TB, mutate func(*Config)) *testServer {
	t.Helper()
	hs := httptest.NewUnstartedServer(nil)
	ts := &testServer{Server: hs}
	cfg := testConfig(t)
	cfg.Addr = hs.Listener.Addr().String()
	cfg.Issuer = "http://" + cfg.Addr
	cfg.Now = ts.now
	if mutate != nil {
		mutate(cfg)
	}
	a, err := newApp(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("newApp: %v", err)
	}
	ts.app, ts.issuer = a, cfg.Issuer
	hs.Config.Handler = a.handler
	hs.Start()
	stop := a.start(context.Background())
	t.Cleanup(func() {
		hs.Close()
		stop()
		a.Close()
	})
	return ts
}

// addClient registers a client and returns its secret.
func (s *testServer) addClient(t testing.TB, c storage.Client) string {
	t.Helper()
	secret, digest, err := oauth.NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	c.SecretHash = digest
	c.CreatedAt, c.UpdatedAt = time.Now(), time.Now()
	if err := s.app.store.CreateClient(context.Background(), c); err != nil {
		t.Fatalf("CreateClient: %v", err)
	}
	return secret
}

func (s *testServer) addUser(t testing.TB, id, username, password string, roles ...string) {
	t.Helper()
	h, err := s.app.oauth.PasswordHasher().Hash(context.Background(), password)
	if err != nil {
		t.Fatal(err)
	}
	u := storage.User{ID: id, Username: oauth.NormalizeUsername(username), PasswordHash: h, Roles: roles, CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := s.app.store.CreateUser(context.Background(), u); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
}

// post sends a form to path with optional Basic credentials.
func (s *testServer) post(t testing.TB, path string, form url.Values, user, pass string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	return do(t, req)
}

func do(t testing.TB, req *http.Request) (*http.Response, map[string]any) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := map[string]any{}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", req.Method, req.URL, b, err)
		}
	}
	return resp, body
}

// jwtParts decodes a compact JWS's header and claims without verifying.
func jwtParts(t testing.TB, tok string) (header, claims map[string]any) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", tok)
	}
	dec := func(s string) map[string]any {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("decode %q: %v", s, err)
		}
		m := map[string]any{}
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("unmarshal %q: %v", b, err)
		}
		return m
	}
	return dec(parts[0]), dec(parts[1])
}

func strs(v any) []string {
	arr, _ := v.([]any)
	out := make([]string, 0, len(arr))
	for _, x := range arr {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
