package oauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func TestRefreshTokenFormat(t *testing.T) {
	fs, _ := randomSecret()
	ts, _ := randomSecret()
	tok := refreshToken{family: "0f8fad5b-d9cb-469f-a165-70867728950e", generation: 7, familySecret: fs, secret: ts}
	got, ok := parseRefreshToken(tok.String())
	if !ok || got.family != tok.family || got.generation != 7 || string(got.familySecret) != string(fs) || string(got.secret) != string(ts) {
		t.Fatalf("parseRefreshToken(%q) = %+v, %v; want %+v", tok.String(), got, ok, tok)
	}
	sig, ok := parseRefreshSignature(tok.signature())
	if !ok || sig.family != tok.family || sig.generation != 7 || strings.Contains(tok.signature(), b64.EncodeToString(ts)) ||
		strings.Contains(tok.signature(), b64.EncodeToString(fs)) {
		t.Fatalf("signature %q = %+v, %v; want the family, generation and digests only", tok.signature(), sig, ok)
	}
	good := tok.String()
	a, b := b64.EncodeToString(fs), b64.EncodeToString(ts)
	for _, bad := range []string{
		"", "ory_rt_abc.def", "ghr1.", good[:len(good)-1], good + "A", good + ".x",
		"ghr1.fam.0." + a + "." + b, "ghr1.fam.-1." + a + "." + b, "ghr1.fam.01." + a + "." + b,
		"ghr1.fam.99999999999999999999." + a + "." + b, "ghr1.fa\x00m.1." + a + "." + b,
		"ghr1.fa m.1." + a + "." + b, "ghr1.." + "1." + a + "." + b, "ghr1.fam.1." + a + "." + b[:42],
		"ghr1." + strings.Repeat("f", maxFamilyIDLen+1) + ".1." + a + "." + b, "GHR1.fam.1." + a + "." + b,
	} {
		if _, ok := parseRefreshToken(bad); ok {
			t.Errorf("parseRefreshToken(%q) accepted", bad)
		}
	}
}

// faultStore fails or blocks the rotation's compare-and-swap.
type faultStore struct {
	*memory.Store
	rotate func(ctx context.Context) error
	calls  atomic.Int32
}

func (f *faultStore) RotateRefreshFamily(ctx context.Context, r storage.RefreshRotation) error {
	f.calls.Add(1)
	if f.rotate != nil {
		if err := f.rotate(ctx); err != nil {
			return err
		}
	}
	return f.Store.RotateRefreshFamily(ctx, r)
}

func refreshServer(t *testing.T, store storage.Store) *Server { return refreshServerF(t, store) }

// refreshServerF is refreshServer for tests and fuzz targets.
func refreshServerF(t testing.TB, store storage.Store) *Server {
	t.Helper()
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Issuer: "https://issuer.example", Password: PasswordParams{MemoryKiB: 64, Iterations: 1}}, store, ring)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	if err := store.CreateClient(ctx, storage.Client{ID: "c", Name: "c", SecretHash: HashClientSecret("s"),
		GrantTypes: []string{"password", "refresh_token"}, Scopes: []string{"read", "offline_access"}, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	hash, _ := s.hasher.Hash(ctx, "pw")
	if err := store.CreateUser(ctx, storage.User{ID: "u-1", Username: "alice", PasswordHash: hash, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	return s
}

func tokenRequest(ctx context.Context, s *Server, form url.Values) (int, map[string]any) {
	return serve(ctx, s.Token, form)
}

// serve sends form to h as client c.
func serve(ctx context.Context, h http.HandlerFunc, form url.Values) (int, map[string]any) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("c", "s")
	w := httptest.NewRecorder()
	h(w, req)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

// A refresh that fails at its last step, the rotation's write, hands out
// no token and consumes nothing: the same refresh token works afterwards.
// The write fails by the request's context being cancelled while it waits
// and by the store being unavailable; both go through Server.Token, the
// path the server takes.
func TestRefreshFailingHalfwayConsumesNothing(t *testing.T) {
	for _, tc := range []struct {
		name     string
		rotate   func(ctx context.Context) error
		cancel   bool
		wantCode int
	}{
		{"context cancelled", func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }, true, 0},
		{"store unavailable", func(context.Context) error { return storage.ErrUnavailable }, false, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := &faultStore{Store: memory.New()}
			s := refreshServer(t, store)
			code, body := tokenRequest(context.Background(), s, url.Values{"grant_type": {"password"}, "username": {"alice"},
				"password": {"pw"}, "scope": {"read offline_access"}})
			rt, _ := body["refresh_token"].(string)
			if code != 200 || rt == "" {
				t.Fatalf("password grant: %d %v", code, body)
			}
			refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}

			store.rotate = tc.rotate
			ctx, cancel := context.WithCancel(context.Background())
			if tc.cancel {
				time.AfterFunc(50*time.Millisecond, cancel)
			}
			code, body = tokenRequest(ctx, s, refresh)
			cancel()
			if code == 200 || body["access_token"] != nil || body["refresh_token"] != nil {
				t.Fatalf("refresh whose rotation failed: %d %v; want no token", code, body)
			}
			if tc.wantCode != 0 && code != tc.wantCode {
				t.Errorf("refresh whose rotation failed: %d %v; want %d", code, body, tc.wantCode)
			}
			if store.calls.Load() != 1 {
				t.Fatalf("rotation attempted %d times; want 1", store.calls.Load())
			}

			store.rotate = nil
			if code, body := tokenRequest(context.Background(), s, refresh); code != 200 || body["refresh_token"] == nil {
				t.Fatalf("the same refresh token after the failure: %d %v; want 200 with a new token", code, body)
			}
		})
	}
}

// A refresh refused before its rotation (a wider scope) writes nothing.
func TestRefreshRefusedBeforeRotationWritesNothing(t *testing.T) {
	store := &faultStore{Store: memory.New()}
	s := refreshServer(t, store)
	_, body := tokenRequest(context.Background(), s, url.Values{"grant_type": {"password"}, "username": {"alice"},
		"password": {"pw"}, "scope": {"offline_access"}})
	rt := body["refresh_token"].(string)
	code, body := tokenRequest(context.Background(), s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}, "scope": {"read"}})
	if code != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("refresh asking for a scope never granted: %d %v; want 400 invalid_scope", code, body)
	}
	if n := store.calls.Load(); n != 0 {
		t.Fatalf("a refused refresh attempted %d rotations; want 0", n)
	}
	if code, _ := tokenRequest(context.Background(), s, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}); code != 200 {
		t.Fatalf("the same refresh token after a refused request: %d; want 200", code)
	}
}

// The unit of work applies nothing before Commit and nothing after
// Rollback.
func TestUnitOfWork(t *testing.T) {
	store := memory.New()
	s := refreshServer(t, store)
	ctx := context.Background()
	now := time.Now()
	if err := store.CreateRefreshFamily(ctx, storage.RefreshFamily{ID: "fam", ClientID: "c", Subject: "u-1",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour), Generation: 1}); err != nil {
		t.Fatal(err)
	}
	revoked := func() bool {
		f, _, _ := store.GetRefreshFamily(ctx, "fam")
		return !f.RevokedAt.IsZero()
	}
	tx, err := s.adapter.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.adapter.BeginTX(tx); err == nil {
		t.Error("BeginTX inside a unit of work succeeded; want an error")
	}
	if err := s.adapter.RevokeRefreshToken(tx, "fam"); err != nil {
		t.Fatal(err)
	}
	if revoked() {
		t.Fatal("a revocation inside a unit of work was applied before Commit")
	}
	if err := s.adapter.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if err := s.adapter.Commit(tx); err != nil || revoked() {
		t.Fatalf("Commit after Rollback = %v, revoked %v; want nil and nothing applied", err, revoked())
	}
	tx, _ = s.adapter.BeginTX(ctx)
	s.adapter.RevokeRefreshToken(tx, "fam")
	if err := s.adapter.Commit(tx); err != nil || !revoked() {
		t.Fatalf("Commit = %v, revoked %v; want the revocation applied", err, revoked())
	}
	if err := s.adapter.RotateRefreshToken(ctx, "fam", "fam.1.x.y"); err == nil {
		t.Error("RotateRefreshToken outside a unit of work succeeded; want an error")
	}
	if err := s.adapter.Commit(ctx); err == nil || errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Commit without a unit of work = %v; want an error", err)
	}
}
