// Package keystest runs the signing-key manager (package keys) against a
// key store, as several instances sharing it would: every store that
// serves keys.KeyStore runs it with keystest.Run(t, newStore). It checks
// that instances agree on the keys, that rotation happens once however many
// instances ask, that a restart keeps verifying earlier tokens, and that a
// wrong master secret changes nothing. The suite is one file on purpose:
// its cases share its fixtures and clock. SignJWS and SignJWT (jws.go) sign
// what clients and other issuers send, for the tests of other packages.
package keystest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
)

// Clock is a settable clock for tests.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// MustSecrets parses entries or fails the test.
func MustSecrets(t testing.TB, entries ...string) *keys.Secrets {
	t.Helper()
	s, err := keys.ParseSecrets(entries)
	if err != nil {
		t.Fatalf("ParseSecrets: %v", err)
	}
	return s
}

// Secret values used by the suite; 32 bytes and more.
const (
	SecretA = "test-master-secret-A-0123456789abcdef"
	SecretB = "test-master-secret-B-0123456789abcdef"
)

// Options returns the manager options the suite uses.
func Options(clock *Clock, secrets *keys.Secrets) keys.Options {
	return keys.Options{
		Secrets:          secrets,
		Now:              clock.Now,
		RotationPeriod:   time.Hour,
		JWKSMaxAge:       5 * time.Minute,
		RefreshInterval:  10 * time.Second,
		MaxTokenLifetime: 10 * time.Minute,
	}
}

// Run runs the suite; newStore returns an empty store for each subtest
// and arranges for it to be closed.
func Run(t *testing.T, newStore func(t *testing.T) keys.KeyStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s keys.KeyStore)
	}{
		{"FirstStart", testFirstStart},
		{"InstancesAgree", testInstancesAgree},
		{"Restart", testRestart},
		{"ConcurrentRotateOnce", testConcurrentRotate},
		{"ScheduledRotationAgree", testScheduledRotation},
		{"WrongSecretTouchesNothing", testWrongSecret},
		{"Reencrypt", testReencrypt},
		{"Revoke", testRevoke},
		{"IDTokenLine", testIDTokenLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { tt.fn(t, newStore(t)) })
	}
}

func open(t *testing.T, s keys.KeyStore, opts keys.Options) *keys.Manager {
	t.Helper()
	m, err := keys.Open(context.Background(), s, opts)
	if err != nil {
		t.Fatalf("keys.Open: %v", err)
	}
	return m
}

// list returns the keys of the access-token line (the suite's Options
// use ES256): the RS256 line that signs ID tokens goes through the same
// planner and is checked by testIDTokenLine.
func list(t *testing.T, m *keys.Manager) []keys.Info {
	t.Helper()
	return slices.DeleteFunc(listAll(t, m), func(k keys.Info) bool { return k.Algorithm == keys.RS256 })
}

func listAll(t *testing.T, m *keys.Manager) []keys.Info {
	t.Helper()
	l, err := m.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	return l
}

// states returns the keys' states, sorted (keys made at the same instant
// have no defined order).
func states(l []keys.Info) []string {
	var out []string
	for _, k := range l {
		out = append(out, k.State)
	}
	slices.Sort(out)
	return out
}

// byState returns the one key in state.
func byState(t *testing.T, l []keys.Info, state string) keys.Info {
	t.Helper()
	i := slices.IndexFunc(l, func(k keys.Info) bool { return k.State == state })
	if i < 0 {
		t.Fatalf("no %s key among %v", state, states(l))
	}
	return l[i]
}

func sign(t *testing.T, m *keys.Manager, sub string) string {
	t.Helper()
	tok, err := m.Ring().SignAccessToken([]byte(fmt.Sprintf(`{"sub":%q}`, sub)))
	if err != nil {
		t.Fatalf("SignAccessToken: %v", err)
	}
	return tok
}

func activeKID(m *keys.Manager) string {
	if a := m.Ring().Set().Active; a != nil {
		return a.ID
	}
	return ""
}

func testFirstStart(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := open(t, s, Options(clock, MustSecrets(t, SecretA)))
	l := list(t, m)
	if got := states(l); !reflect.DeepEqual(got, []string{"active", "next"}) {
		t.Fatalf("after first start keys are %v; want [active next]", got)
	}
	if a := byState(t, l, "active"); activeKID(m) != a.ID {
		t.Fatalf("ring signs with %q; want the active key %q", activeKID(m), a.ID)
	}
	if want, next := clock.Now().Add(5*time.Minute+10*time.Second+time.Minute), byState(t, l, "next"); !next.ActivateAt.Equal(want) {
		t.Fatalf("next key activates at %v; want %v (max-age + refresh interval + leeway)", next.ActivateAt, want)
	}
	var jwks struct{ Keys []map[string]any }
	if err := json.Unmarshal(m.Ring().JWKS(), &jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 4 {
		t.Fatalf("JWKS has %d keys; want the active and the next of the ES256 and the RS256 lines", len(jwks.Keys))
	}
	for _, k := range jwks.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := k[private]; ok {
				t.Fatalf("JWKS key %v has private member %q", k["kid"], private)
			}
		}
	}
}

func testInstancesAgree(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options(clock, MustSecrets(t, SecretA))
	const n = 4
	ms := make([]*keys.Manager, n)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m, err := keys.Open(context.Background(), s, opts)
			if err != nil {
				t.Errorf("keys.Open: %v", err)
				return
			}
			ms[i] = m
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	if l := list(t, ms[0]); len(l) != 2 {
		t.Fatalf("%d instances starting together made %d keys (%v); want 2", n, len(l), states(l))
	}
	if l := listAll(t, ms[0]); len(l) != 4 {
		t.Fatalf("%d instances starting together made %d keys in all (%v); want 2 per line", n, len(l), states(l))
	}
	for i, m := range ms[1:] {
		if string(m.Ring().JWKS()) != string(ms[0].Ring().JWKS()) {
			t.Fatalf("instance %d JWKS = %s; instance 0 = %s", i+1, m.Ring().JWKS(), ms[0].Ring().JWKS())
		}
		if activeKID(m) != activeKID(ms[0]) {
			t.Fatalf("instance %d signs with %s; instance 0 with %s", i+1, activeKID(m), activeKID(ms[0]))
		}
		if id, id0 := m.Ring().Set().IDToken, ms[0].Ring().Set().IDToken; id == nil || id0 == nil || id.ID != id0.ID {
			t.Fatalf("instance %d signs ID tokens with %v; instance 0 with %v", i+1, id, id0)
		}
		// Each verifies what the other signed.
		if _, err := m.Ring().Verify(sign(t, ms[0], "x")); err != nil {
			t.Fatalf("instance %d Verify(token of instance 0) = %v", i+1, err)
		}
	}
}

func testRestart(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options(clock, MustSecrets(t, SecretA))
	m := open(t, s, opts)
	before := sign(t, m, "before")
	clock.Advance(2 * time.Hour) // past a scheduled rotation
	again := open(t, s, opts)
	v, err := again.Ring().Verify(before)
	if err != nil {
		t.Fatalf("after restart Verify(token signed before) = %v", err)
	}
	if string(v.Payload) != `{"sub":"before"}` {
		t.Fatalf("payload %s", v.Payload)
	}
	if activeKID(again) == activeKID(m) {
		t.Fatalf("restart two hours later still signs with %s; want the rotated key", activeKID(m))
	}
}

func testConcurrentRotate(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options(clock, MustSecrets(t, SecretA))
	const n = 5
	ms := make([]*keys.Manager, n)
	for i := range ms {
		ms[i] = open(t, s, opts)
	}
	first := activeKID(ms[0])
	clock.Advance(10 * time.Minute) // the next key has been published long enough
	var wg sync.WaitGroup
	var retired atomic.Int32
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := m.Rotate(context.Background())
			if err != nil {
				t.Errorf("Rotate: %v", err)
				return
			}
			if r.Retired != "" {
				retired.Add(1)
			}
		}()
	}
	wg.Wait()
	if retired.Load() != 1 {
		t.Fatalf("%d concurrent Rotate calls retired %d keys; want 1", n, retired.Load())
	}
	l := list(t, ms[0])
	if got := states(l); !reflect.DeepEqual(got, []string{"active", "next", "retired"}) {
		t.Fatalf("after concurrent rotation keys are %v; want [active next retired]", got)
	}
	if r := byState(t, l, "retired"); r.ID != first {
		t.Fatalf("retired %s; want the first active key %s", r.ID, first)
	}
	active := byState(t, l, "active").ID
	for i, m := range ms {
		if err := m.Refresh(context.Background()); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		if activeKID(m) != active {
			t.Fatalf("instance %d signs with %s; want %s", i, activeKID(m), active)
		}
	}
}

// Instances refreshing on their own schedule rotate once per period
// between them and always verify each other's tokens.
func testScheduledRotation(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options(clock, MustSecrets(t, SecretA))
	a, b := open(t, s, opts), open(t, s, opts)
	ctx := context.Background()
	seen := map[string]bool{}
	for step := range 6 * 360 { // six hours in 10 s steps
		clock.Advance(10 * time.Second)
		m := a
		if step%2 == 1 {
			m = b
		}
		if err := m.Refresh(ctx); err != nil {
			t.Fatalf("Refresh: %v", err)
		}
		tok := sign(t, m, "s")
		for _, other := range []*keys.Manager{a, b} {
			if _, err := other.Ring().Verify(tok); err != nil {
				t.Fatalf("at %v: Verify = %v", clock.Now(), err)
			}
		}
		seen[activeKID(m)] = true
	}
	if len(seen) < 5 || len(seen) > 7 {
		t.Fatalf("six hours with a one-hour period signed with %d keys; want about 6", len(seen))
	}
	l := list(t, a)
	retired := 0
	for _, k := range l {
		if k.State == "retired" {
			retired++
		}
	}
	// Retention is 10 s + 10 min + 1 min: at most one retired key at a time.
	if retired > 1 || len(l) > 3 {
		t.Fatalf("keys after six hours: %v; want expired keys deleted", states(l))
	}
}

func testWrongSecret(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	m := open(t, s, Options(clock, MustSecrets(t, SecretA)))
	before := list(t, m)
	clock.Advance(3 * time.Hour) // rotation and deletions due
	_, err := keys.Open(context.Background(), s, Options(clock, MustSecrets(t, SecretB)))
	if !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("Open with the wrong secret = %v; want ErrWrongSecret", err)
	}
	wrong, err := keys.NewManager(s, Options(clock, MustSecrets(t, SecretB)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.Rotate(context.Background()); !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("Rotate with the wrong secret = %v; want ErrWrongSecret", err)
	}
	if _, err := wrong.Reencrypt(context.Background()); !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("Reencrypt with the wrong secret = %v; want ErrWrongSecret", err)
	}
	if after := list(t, m); !reflect.DeepEqual(after, before) {
		t.Fatalf("the wrong secret changed the stored keys:\n%+v\nwant\n%+v", after, before)
	}
	if _, err := keys.Open(context.Background(), s, Options(clock, nil)); !errors.Is(err, keys.ErrNoSecrets) {
		t.Fatalf("Open without secrets = %v; want ErrNoSecrets", err)
	}
}

func testReencrypt(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	old := open(t, s, Options(clock, MustSecrets(t, SecretA)))
	tok := sign(t, old, "x")
	// Step 1: the new secret in front, the old one still there.
	both := open(t, s, Options(clock, MustSecrets(t, SecretB, SecretA)))
	n, err := both.Reencrypt(ctx)
	if err != nil || n != 4 {
		t.Fatalf("Reencrypt = %d, %v; want 4 keys (active and next of both lines)", n, err)
	}
	if n, err := both.Reencrypt(ctx); err != nil || n != 0 {
		t.Fatalf("second Reencrypt = %d, %v; want 0", n, err)
	}
	// Step 2: the old secret dropped.
	onlyNew := open(t, s, Options(clock, MustSecrets(t, SecretB)))
	if _, err := onlyNew.Ring().Verify(tok); err != nil {
		t.Fatalf("Verify after re-encryption = %v", err)
	}
	if _, err := keys.Open(ctx, s, Options(clock, MustSecrets(t, SecretA))); !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("Open with the retired secret = %v; want ErrWrongSecret", err)
	}
}

func testRevoke(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opts := Options(clock, MustSecrets(t, SecretA))
	ctx := context.Background()
	a, b := open(t, s, opts), open(t, s, opts)
	clock.Advance(30 * time.Minute)
	compromised := activeKID(a)
	tok := sign(t, a, "x")
	rev, err := a.Revoke(ctx, compromised)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	if rev.Active == "" || rev.Active == compromised || rev.Immature {
		t.Fatalf("Revoke = %+v; want a mature next key taking over", rev)
	}
	// At once on this instance: no longer published, no longer signing.
	if _, err := a.Ring().Verify(tok); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("Verify(token of the revoked key) = %v; want ErrUnknownKey", err)
	}
	if activeKID(a) != rev.Active {
		t.Fatalf("signs with %s; want %s", activeKID(a), rev.Active)
	}
	var jwks struct{ Keys []struct{ Kid string } }
	json.Unmarshal(a.Ring().JWKS(), &jwks)
	for _, k := range jwks.Keys {
		if k.Kid == compromised {
			t.Fatalf("JWKS still publishes the revoked key: %s", a.Ring().JWKS())
		}
	}
	// The other instance at its next refresh.
	if err := b.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ring().Verify(tok); !errors.Is(err, keys.ErrUnknownKey) {
		t.Fatalf("other instance Verify(token of the revoked key) = %v; want ErrUnknownKey", err)
	}
	if _, err := b.Ring().Verify(sign(t, b, "y")); err != nil || activeKID(b) != rev.Active {
		t.Fatalf("other instance signs with %s (%v); want %s", activeKID(b), err, rev.Active)
	}
	l := list(t, a)
	if got := states(l); !reflect.DeepEqual(got, []string{"active", "next", "revoked"}) {
		t.Fatalf("after Revoke keys are %v; want [active next revoked]", got)
	}
	if byState(t, l, "revoked").Published {
		t.Fatal("revoked key listed as published")
	}
	// Revoking again is a no-op; an unknown kid is ErrNotFound.
	if _, err := a.Revoke(ctx, compromised); err != nil {
		t.Fatalf("second Revoke = %v", err)
	}
	if _, err := a.Revoke(ctx, "no-such-kid"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Revoke(unknown) = %v; want ErrNotFound", err)
	}
	// A restart does not need the erased private part.
	open(t, s, opts)
	// Revoking the only mature key right after first start: a key that
	// was never published long takes over, and says so.
	next := rev.Active
	rev, err = a.Revoke(ctx, next)
	if err != nil || !rev.Immature || rev.Active == "" {
		t.Fatalf("Revoke(active, next key young) = %+v, %v; want an immature key taking over", rev, err)
	}
}

// testIDTokenLine checks the RS256 line that signs ID tokens when access
// tokens use another algorithm (OpenID Connect Discovery 1.0 section 3
// requires RS256): it starts with the access-token line, rotates with it,
// signs ID tokens but never access tokens, and a revoked RS256 key is
// replaced without touching the access-token key.
func testIDTokenLine(t *testing.T, s keys.KeyStore) {
	clock := NewClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx := context.Background()
	m := open(t, s, Options(clock, MustSecrets(t, SecretA)))
	rs := slices.DeleteFunc(listAll(t, m), func(k keys.Info) bool { return k.Algorithm != keys.RS256 })
	if got := states(rs); !reflect.DeepEqual(got, []string{"active", "next"}) {
		t.Fatalf("RS256 keys after first start are %v; want [active next]", got)
	}
	set := m.Ring().Set()
	if set.Active == nil || set.Active.Algorithm != keys.ES256 {
		t.Fatalf("access tokens are signed by %v; want the ES256 key", set.Active)
	}
	if set.IDToken == nil || set.IDToken.ID != byState(t, rs, "active").ID {
		t.Fatalf("ID tokens are signed by %v; want the active RS256 key %s", set.IDToken, byState(t, rs, "active").ID)
	}
	if got := m.Ring().Algorithms(); !reflect.DeepEqual(got, []string{keys.ES256}) {
		t.Errorf("access-token algorithms = %v; want [ES256]", got)
	}
	if got := m.Ring().IDTokenAlgorithms(); !reflect.DeepEqual(got, []string{keys.RS256}) {
		t.Errorf("ID-token algorithms = %v; want [RS256]", got)
	}
	id, err := m.Ring().SignIDToken([]byte(`{"sub":"a"}`))
	if err != nil {
		t.Fatalf("SignIDToken: %v", err)
	}
	v, err := m.Ring().Verify(id)
	if err != nil || v.KeyID != set.IDToken.ID || v.Type != keys.IDTokenType {
		t.Fatalf("Verify(ID token) = %+v, %v; want typ JWT signed by %s", v, err, set.IDToken.ID)
	}

	// A rotation on demand, once the next keys are published long enough,
	// replaces both lines' active keys.
	clock.Advance(10 * time.Minute)
	r, err := m.Rotate(ctx)
	if err != nil || r.Pending {
		t.Fatalf("Rotate = %+v, %v; want done", r, err)
	}
	after := m.Ring().Set()
	if after.Active.ID == set.Active.ID || after.IDToken.ID == set.IDToken.ID || r.IDToken != after.IDToken.ID {
		t.Fatalf("after Rotate: access %s (was %s), ID %s (was %s, reported %s); want both replaced",
			after.Active.ID, set.Active.ID, after.IDToken.ID, set.IDToken.ID, r.IDToken)
	}

	// Revoking the ID-token key: the RS256 line's next key signs ID tokens,
	// the access-token key stays.
	rev, err := m.Revoke(ctx, after.IDToken.ID)
	if err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	now := m.Ring().Set()
	if now.Active.ID != after.Active.ID || now.IDToken == nil || now.IDToken.ID == after.IDToken.ID ||
		now.IDToken.Algorithm != keys.RS256 || rev.Active != now.IDToken.ID {
		t.Fatalf("after revoking the ID-token key: access %s (want %s), ID %v, reported %s", now.Active.ID, after.Active.ID, now.IDToken, rev.Active)
	}
}
