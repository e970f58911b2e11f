package admin

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func TestServiceErrorsMatchSentinels(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New(), time.Now, &syncBuffer{})
	if _, err := svc.CreateUser(ctx, UserParams{Username: "Eve", Password: "pw-eve-1234"}); err != nil {
		t.Fatal(err)
	}
	_, err := svc.CreateUser(ctx, UserParams{Username: "EVE"})
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Field != "username" || !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("CreateUser(EVE) = %v; want a *ConflictError on username matching storage.ErrAlreadyExists", err)
	}
	_, err = svc.GetClient(ctx, "nope")
	var nf *NotFoundError
	if !errors.As(err, &nf) || !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetClient(nope) = %v; want a *NotFoundError matching storage.ErrNotFound", err)
	}
	_, err = svc.CreateClient(ctx, ClientParams{Name: "x", GrantTypes: []string{"client_credentials"}, Claims: map[string]any{"aud": "x"}})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "claims.aud" {
		t.Errorf("CreateClient(reserved claim) = %v; want a *FieldError on claims.aud", err)
	}
	// FindUser takes ids and usernames in any case.
	u, err := svc.FindUser(ctx, "eVe")
	if err != nil || u.Username != "eve" {
		t.Fatalf("FindUser(eVe) = %v, %v", u, err)
	}
	if byID, err := svc.FindUser(ctx, u.ID); err != nil || byID.ID != u.ID {
		t.Errorf("FindUser(id) = %v, %v", byID, err)
	}
	if _, err := svc.FindUser(ctx, "no/such"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindUser(no/such) = %v; want not found", err)
	}
	// The stored hash is argon2id and checks against the password.
	h, _ := oauth.NewPasswordHasher(oauth.PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1})
	stored, _ := svc.store.GetUser(ctx, u.ID)
	if ok, _, err := h.Verify(ctx, stored.PasswordHash, "pw-eve-1234"); !ok || err != nil {
		t.Errorf("stored hash %q does not verify: %v", stored.PasswordHash[:10], err)
	}
}

// TestAuditEvents checks each change's audit event carries actor, action,
// object type and id, and the service clock's time, and nothing secret.
func TestAuditEvents(t *testing.T) {
	ctx := WithActor(context.Background(), "cli:root")
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	out := &syncBuffer{}
	svc := newService(t, memory.New(), func() time.Time { return at }, out)
	c, err := svc.CreateClient(ctx, ClientParams{Name: "svc", GrantTypes: []string{"client_credentials"}})
	if err != nil {
		t.Fatal(err)
	}
	u, err := svc.CreateUser(ctx, UserParams{Username: "ann"})
	if err != nil {
		t.Fatal(err)
	}
	rot, err := svc.RotateClientSecret(ctx, c.ID, RotateParams{GraceSeconds: 60})
	if err != nil {
		t.Fatal(err)
	}
	var events []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out.String()))
	for sc.Scan() {
		var e map[string]any
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		events = append(events, e)
	}
	want := []struct{ action, typ, id string }{
		{"client.create", "client", c.ID}, {"user.create", "user", u.ID}, {"client.rotate_secret", "client", c.ID},
	}
	if len(events) != len(want) {
		t.Fatalf("audit events = %d; want %d:\n%s", len(events), len(want), out)
	}
	for i, w := range want {
		e := events[i]
		if e["msg"] != "audit" || e["actor"] != "cli:root" || e["action"] != w.action || e["object_type"] != w.typ ||
			e["object_id"] != w.id || e["time"] != "2030-01-02T03:04:05Z" {
			t.Errorf("event %d = %v; want audit %s %s %s by cli:root at %v", i, e, w.action, w.typ, w.id, at)
		}
	}
	for _, secret := range []string{c.ClientSecret, rot.ClientSecret, u.Password, "argon2"} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("audit log contains secret material %q", secret)
		}
	}
}

// TestRevocationDeniesFamilies checks disabling and deleting revoke the
// subject's refresh families and deny their ids for longer than any access
// token lives.
func TestRevocationDeniesFamilies(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	store := memory.New()
	svc := newService(t, store, func() time.Time { return now }, &syncBuffer{})
	u, err := svc.CreateUser(ctx, UserParams{Username: "fay", Password: "pw-fay-1234"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.CreateClient(ctx, ClientParams{Name: "app", GrantTypes: []string{"password", "refresh_token"}})
	if err != nil {
		t.Fatal(err)
	}
	addFamily := func(family, subject string) {
		t.Helper()
		err := store.CreateRefreshFamily(ctx, storage.RefreshFamily{ID: family, ClientID: c.ID, Subject: subject,
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour), Generation: 1})
		if err != nil {
			t.Fatal(err)
		}
	}
	denied := func(id string, at time.Time) bool {
		t.Helper()
		d, err := store.Denied(ctx, at, id)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	addFamily("fam-1", u.ID)
	addFamily("fam-2", u.ID)
	addFamily("fam-other", "u-someone-else")

	if _, err := svc.DisableUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"fam-1", "fam-2"} {
		if !denied(f, now) || !denied(f, now.Add(MaxTokenLifetime)) {
			t.Errorf("family %s not denied for the longest token lifetime after disabling its user", f)
		}
		if rf, _, _ := store.GetRefreshFamily(ctx, f); rf.RevokedAt.IsZero() || rf.RevokedReason != storage.RevokedSubject {
			t.Errorf("family %s after disabling its user: revoked at %v for %q; want revoked for %q", f, rf.RevokedAt, rf.RevokedReason, storage.RevokedSubject)
		}
	}
	if denied("fam-other", now) {
		t.Error("another user's family was denied")
	}
	// Deleting the client revokes what remains of its families.
	if err := svc.DeleteClient(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	if !denied("fam-other", now) {
		t.Error("family of a deleted client not denied")
	}
}

// failingStore is unavailable for reads of clients.
type failingStore struct{ *memory.Store }

func (failingStore) ListClients(context.Context) ([]storage.Client, error) {
	return nil, fmt.Errorf("list clients: %w", storage.ErrUnavailable)
}

func TestAPIUnavailable(t *testing.T) {
	h, err := oauth.NewPasswordHasher(oauth.PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(Config{Store: failingStore{memory.New()}, Hasher: h})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	open := func(next http.Handler) http.Handler { return next }
	NewHandler(svc, open).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathPrefix+"/clients", nil))
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || !strings.Contains(rec.Body.String(), "temporarily_unavailable") {
		t.Errorf("GET /clients with the store down = %d %q; want 503 temporarily_unavailable with Retry-After", rec.Code, rec.Body)
	}
}

func TestNewServiceValidates(t *testing.T) {
	if _, err := NewService(Config{}); err == nil || !strings.Contains(err.Error(), "store") || !strings.Contains(err.Error(), "hasher") {
		t.Errorf("NewService(empty) = %v; want errors naming the store and the hasher", err)
	}
}

func parseKV(t *testing.T, s string) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(s), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("line %q is not key=value", line)
		}
		m[k] = v
	}
	return m
}

func TestBootstrap(t *testing.T) {
	g := startGatehouse(t)
	ctx := context.Background()
	// A client without the role holds the name: bootstrap takes another.
	g.client(t, ClientParams{Name: BootstrapClientName, GrantTypes: []string{"client_credentials"}})
	var out bytes.Buffer
	created, err := Bootstrap(ctx, g.svc, &out)
	if err != nil || !created {
		t.Fatalf("Bootstrap = %v, %v; want a new client", created, err)
	}
	kv := parseKV(t, out.String())
	if kv["admin_client_id"] == "" || kv["admin_client_secret"] == "" {
		t.Fatalf("Bootstrap printed %q; want admin_client_id and admin_client_secret", out.String())
	}
	// Its token opens the admin API.
	tok := g.token(t, kv["admin_client_id"], kv["admin_client_secret"])
	if resp, body := g.call(t, tok, http.MethodGet, PathPrefix+"/clients", nil); resp.StatusCode != 200 {
		t.Fatalf("bootstrap client's token: %d %s; want 200", resp.StatusCode, body)
	}
	// A second run does nothing and prints nothing.
	out.Reset()
	if created, err := Bootstrap(ctx, g.svc, &out); err != nil || created || out.Len() != 0 {
		t.Errorf("second Bootstrap = %v, %v, %q; want nothing done", created, err, out.String())
	}
}

func TestBootstrapConcurrent(t *testing.T) {
	store := memory.New()
	svc := newService(t, store, time.Now, &syncBuffer{})
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			c, err := Bootstrap(context.Background(), svc, &out)
			if err != nil {
				t.Errorf("Bootstrap: %v", err)
			}
			if c {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	all, _ := store.ListClients(context.Background())
	if created != 1 || len(all) != 1 {
		t.Errorf("8 concurrent bootstraps created %d clients (%d stored); want 1", created, len(all))
	}
}
