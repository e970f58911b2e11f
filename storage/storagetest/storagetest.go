// Package storagetest is the conformance suite every Gatehouse store runs:
// storagetest.Run(t, newStore). It checks the storage contract of package
// storage, including fosite's sentinel errors, refresh-token rotation with a
// single winner under concurrency, and commit and rollback through the
// context.
package storagetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// Run runs the suite. newStore returns an empty store for each subtest;
// the store is closed by the suite.
func Run(t *testing.T, newStore func(t *testing.T) storage.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"Clients", testClients},
		{"ClientUpdateAtomic", testClientUpdateAtomic},
		{"Users", testUsers},
		{"RefreshRotation", testRefreshRotation},
		{"RefreshConcurrentRotation", testRefreshConcurrentRotation},
		{"RefreshRevokeFamily", testRefreshRevokeFamily},
		{"RefreshRevokeSubject", testRefreshRevokeSubject},
		{"RefreshExpiry", testRefreshExpiry},
		{"DenyList", testDenyList},
		{"TransactionCommit", testTxCommit},
		{"TransactionRollback", testTxRollback},
	}
	for _, kt := range keyStoreTests() {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, s storage.Store)
		}{"SigningKeys/" + kt.name, func(t *testing.T, s storage.Store) { kt.fn(t, s) }})
	}
	for _, at := range attemptTests() {
		tests = append(tests, struct {
			name string
			fn   func(t *testing.T, s storage.Store)
		}{"LoginAttempts/" + at.name, at.fn})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newStore(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

// now is truncated to microseconds, the precision PostgreSQL keeps.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

func sampleClient(id string) storage.Client {
	t := now()
	return storage.Client{
		ID:            id,
		Name:          "name-" + id,
		SecretHash:    []byte("0123456789abcdef0123456789abcdef"),
		GrantTypes:    []string{"client_credentials", "refresh_token"},
		Scopes:        []string{"read", "write"},
		Audiences:     []string{"api"},
		Roles:         []string{"service"},
		Claims:        map[string]any{"tenant": "acme", "tier": float64(2)},
		TokenLifetime: 5 * time.Minute,
		CreatedAt:     t,
		UpdatedAt:     t,
	}
}

var successors atomic.Int64

// successor is a fresh token of the family to rotate to.
func successor(family string) storage.RefreshToken {
	return sampleRefresh(fmt.Sprintf("successor-%d", successors.Add(1)), family, "user-1")
}

func sampleUser(id, name string) storage.User {
	t := now()
	return storage.User{
		ID:           id,
		Username:     name,
		PasswordHash: "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
		Roles:        []string{"user", "editor"},
		CreatedAt:    t,
		UpdatedAt:    t,
	}
}

func sampleRefresh(sig, family, subject string) storage.RefreshToken {
	t := now()
	return storage.RefreshToken{
		Signature:       sig,
		FamilyID:        family,
		ClientID:        "client-1",
		Subject:         subject,
		Active:          true,
		RequestedAt:     t,
		ExpiresAt:       t.Add(time.Hour),
		FamilyCreatedAt: t,
		Request:         []byte(`{"scopes":["offline_access"]}`),
	}
}

func mustNil(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s = %v; want %v", what, err, want)
	}
}

func equalClient(a, b storage.Client) bool {
	return a.ID == b.ID && a.Name == b.Name && string(a.SecretHash) == string(b.SecretHash) &&
		string(a.PreviousSecretHash) == string(b.PreviousSecretHash) &&
		a.PreviousSecretExpiresAt.Equal(b.PreviousSecretExpiresAt) &&
		slices.Equal(a.GrantTypes, b.GrantTypes) && slices.Equal(a.Scopes, b.Scopes) &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Roles, b.Roles) &&
		fmt.Sprint(a.Claims) == fmt.Sprint(b.Claims) && a.TokenLifetime == b.TokenLifetime &&
		a.Disabled == b.Disabled && a.CreatedAt.Equal(b.CreatedAt)
}

func testClients(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleClient("client-1")
	mustNil(t, "CreateClient", s.CreateClient(ctx, c))
	wantErr(t, "CreateClient(same id)", s.CreateClient(ctx, c), storage.ErrAlreadyExists)
	dupName := sampleClient("client-2")
	dupName.Name = c.Name
	wantErr(t, "CreateClient(same name)", s.CreateClient(ctx, dupName), storage.ErrAlreadyExists)

	got, err := s.GetClient(ctx, "client-1")
	mustNil(t, "GetClient", err)
	if !equalClient(got, c) {
		t.Fatalf("GetClient = %+v; want %+v", got, c)
	}
	// The returned value is a copy: changing it changes nothing stored.
	got.Roles[0] = "mutated"
	again, _ := s.GetClient(ctx, "client-1")
	if again.Roles[0] != "service" {
		t.Fatalf("GetClient returned shared memory: roles = %v", again.Roles)
	}

	_, err = s.GetClient(ctx, "nope")
	wantErr(t, "GetClient(unknown)", err, storage.ErrNotFound)

	mustNil(t, "UpdateClient", s.UpdateClient(ctx, "client-1", func(c storage.Client) (storage.Client, error) {
		c.Roles = []string{"service", "admin"}
		c.Disabled = true
		return c, nil
	}))
	got, _ = s.GetClient(ctx, "client-1")
	if !got.Disabled || !slices.Equal(got.Roles, []string{"service", "admin"}) {
		t.Fatalf("after UpdateClient: %+v", got)
	}
	boom := errors.New("boom")
	wantErr(t, "UpdateClient(fn fails)", s.UpdateClient(ctx, "client-1", func(c storage.Client) (storage.Client, error) {
		c.Roles = nil
		return c, boom
	}), boom)
	got, _ = s.GetClient(ctx, "client-1")
	if len(got.Roles) != 2 {
		t.Fatalf("failed UpdateClient changed roles to %v", got.Roles)
	}
	wantErr(t, "UpdateClient(unknown)", s.UpdateClient(ctx, "nope", func(c storage.Client) (storage.Client, error) { return c, nil }), storage.ErrNotFound)

	mustNil(t, "CreateClient(2)", s.CreateClient(ctx, sampleClient("client-2")))
	list, err := s.ListClients(ctx)
	mustNil(t, "ListClients", err)
	if len(list) != 2 || list[0].ID != "client-1" || list[1].ID != "client-2" {
		t.Fatalf("ListClients = %v clients; want client-1, client-2", len(list))
	}
	mustNil(t, "DeleteClient", s.DeleteClient(ctx, "client-1"))
	_, err = s.GetClient(ctx, "client-1")
	wantErr(t, "GetClient(deleted)", err, storage.ErrNotFound)
	wantErr(t, "DeleteClient(again)", s.DeleteClient(ctx, "client-1"), storage.ErrNotFound)
}

func testClientUpdateAtomic(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleClient("client-1")
	c.Roles = nil
	mustNil(t, "CreateClient", s.CreateClient(ctx, c))
	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateClient(ctx, "client-1", func(c storage.Client) (storage.Client, error) {
				c.Roles = append(c.Roles, fmt.Sprintf("r%d", i))
				return c, nil
			})
			if err != nil {
				t.Errorf("UpdateClient: %v", err)
			}
		}()
	}
	wg.Wait()
	got, _ := s.GetClient(ctx, "client-1")
	if len(got.Roles) != n {
		t.Fatalf("after %d concurrent appends roles has %d entries: updates were lost", n, len(got.Roles))
	}
}

func testUsers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	u := sampleUser("user-1", "alice")
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	wantErr(t, "CreateUser(same id)", s.CreateUser(ctx, sampleUser("user-1", "bob")), storage.ErrAlreadyExists)
	wantErr(t, "CreateUser(same name)", s.CreateUser(ctx, sampleUser("user-2", "alice")), storage.ErrAlreadyExists)

	got, err := s.GetUserByUsername(ctx, "alice")
	mustNil(t, "GetUserByUsername", err)
	if got.ID != "user-1" || got.PasswordHash != u.PasswordHash || !slices.Equal(got.Roles, u.Roles) || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("GetUserByUsername = %+v; want %+v", got, u)
	}
	_, err = s.GetUserByUsername(ctx, "mallory")
	wantErr(t, "GetUserByUsername(unknown)", err, storage.ErrNotFound)
	_, err = s.GetUser(ctx, "user-9")
	wantErr(t, "GetUser(unknown)", err, storage.ErrNotFound)

	mustNil(t, "CreateUser(bob)", s.CreateUser(ctx, sampleUser("user-2", "bob")))
	wantErr(t, "UpdateUser(rename to taken)", s.UpdateUser(ctx, "user-2", func(u storage.User) (storage.User, error) {
		u.Username = "alice"
		return u, nil
	}), storage.ErrAlreadyExists)
	mustNil(t, "UpdateUser", s.UpdateUser(ctx, "user-2", func(u storage.User) (storage.User, error) {
		u.Username = "robert"
		u.Roles = []string{"user"}
		u.Disabled = true
		return u, nil
	}))
	got, err = s.GetUserByUsername(ctx, "robert")
	mustNil(t, "GetUserByUsername(renamed)", err)
	if got.ID != "user-2" || !got.Disabled || !slices.Equal(got.Roles, []string{"user"}) {
		t.Fatalf("after UpdateUser: %+v", got)
	}
	_, err = s.GetUserByUsername(ctx, "bob")
	wantErr(t, "GetUserByUsername(old name)", err, storage.ErrNotFound)

	list, err := s.ListUsers(ctx)
	mustNil(t, "ListUsers", err)
	if len(list) != 2 || list[0].Username != "alice" || list[1].Username != "robert" {
		t.Fatalf("ListUsers = %d users; want alice, robert", len(list))
	}
	mustNil(t, "DeleteUser", s.DeleteUser(ctx, "user-1"))
	_, err = s.GetUser(ctx, "user-1")
	wantErr(t, "GetUser(deleted)", err, storage.ErrNotFound)
	_, err = s.GetUserByUsername(ctx, "alice")
	wantErr(t, "GetUserByUsername(deleted)", err, storage.ErrNotFound)
	wantErr(t, "DeleteUser(again)", s.DeleteUser(ctx, "user-1"), storage.ErrNotFound)
	// The name is free again.
	mustNil(t, "CreateUser(reuse name)", s.CreateUser(ctx, sampleUser("user-3", "alice")))
}

func testRefreshRotation(t *testing.T, s storage.Store) {
	ctx := context.Background()
	rt := sampleRefresh("sig-1", "fam-1", "user-1")
	mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	wantErr(t, "CreateRefreshToken(same sig)", s.CreateRefreshToken(ctx, rt), storage.ErrAlreadyExists)

	got, err := s.GetRefreshToken(ctx, "sig-1")
	mustNil(t, "GetRefreshToken", err)
	if got.FamilyID != "fam-1" || got.ClientID != "client-1" || got.Subject != "user-1" || !got.Active ||
		!got.ExpiresAt.Equal(rt.ExpiresAt) || !got.FamilyCreatedAt.Equal(rt.FamilyCreatedAt) || string(got.Request) != string(rt.Request) {
		t.Fatalf("GetRefreshToken = %+v; want %+v", got, rt)
	}
	_, err = s.GetRefreshToken(ctx, "nope")
	wantErr(t, "GetRefreshToken(unknown)", err, storage.ErrNotFound)
	_, _, err = s.GetRefreshTokenAndUser(ctx, "nope")
	wantErr(t, "GetRefreshTokenAndUser(unknown)", err, storage.ErrNotFound)

	// The subject's user comes along when it exists.
	if got, u, err := s.GetRefreshTokenAndUser(ctx, "sig-1"); err != nil || u != nil || got.FamilyID != "fam-1" {
		t.Fatalf("GetRefreshTokenAndUser before the user exists = %+v, %+v, %v; want the token and no user", got, u, err)
	}
	user := sampleUser("user-1", "alice")
	user.Disabled = true
	mustNil(t, "CreateUser", s.CreateUser(ctx, user))
	got2, u, err := s.GetRefreshTokenAndUser(ctx, "sig-1")
	mustNil(t, "GetRefreshTokenAndUser", err)
	if got2.Signature != "sig-1" || string(got2.Request) != string(rt.Request) || !got2.ExpiresAt.Equal(rt.ExpiresAt) ||
		u == nil || u.ID != "user-1" || u.Username != "alice" || !u.Disabled || !slices.Equal(u.Roles, user.Roles) ||
		u.PasswordHash != user.PasswordHash || !u.CreatedAt.Equal(user.CreatedAt) {
		t.Fatalf("GetRefreshTokenAndUser = %+v, %+v; want the token and user-1", got2, u)
	}

	wantErr(t, "RotateRefreshToken(wrong family)", s.RotateRefreshToken(ctx, "fam-2", "sig-1", successor("fam-2")), storage.ErrNotFound)
	mustNil(t, "CreateRefreshToken(other)", s.CreateRefreshToken(ctx, sampleRefresh("sig-other", "fam-9", "user-9")))
	wantErr(t, "RotateRefreshToken(successor signature taken)", s.RotateRefreshToken(ctx, "fam-1", "sig-1", sampleRefresh("sig-other", "fam-1", "user-1")), storage.ErrAlreadyExists)
	if got, _ := s.GetRefreshToken(ctx, "sig-1"); !got.Active {
		t.Fatal("a failed rotation retired the old token")
	}
	mustNil(t, "RotateRefreshToken", s.RotateRefreshToken(ctx, "fam-1", "sig-1", sampleRefresh("sig-2", "fam-1", "user-1")))
	if got, err := s.GetRefreshToken(ctx, "sig-2"); err != nil || !got.Active || got.FamilyID != "fam-1" {
		t.Fatalf("successor after rotation = %+v, %v; want active, fam-1", got, err)
	}
	wantErr(t, "RotateRefreshToken(again)", s.RotateRefreshToken(ctx, "fam-1", "sig-1", successor("fam-1")), storage.ErrNotFound)

	// A rotated token is kept, inactive, so that its reuse can be detected.
	got, err = s.GetRefreshToken(ctx, "sig-1")
	mustNil(t, "GetRefreshToken(rotated)", err)
	if got.Active {
		t.Fatal("rotated token is still active")
	}
}

func testRefreshConcurrentRotation(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("sig-1", "fam-1", "user-1")))
	const n = 50
	var wins, notFound atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			next := sampleRefresh(fmt.Sprintf("sig-new-%d", i), "fam-1", "user-1")
			err := s.RotateRefreshToken(ctx, "fam-1", "sig-1", next)
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, storage.ErrNotFound):
				notFound.Add(1)
				if _, err := s.GetRefreshToken(ctx, next.Signature); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("a losing rotation stored its successor: %v", err)
				}
			default:
				t.Errorf("RotateRefreshToken: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || notFound.Load() != n-1 {
		t.Fatalf("%d concurrent rotations: %d won, %d ErrNotFound; want 1 and %d", n, wins.Load(), notFound.Load(), n-1)
	}
}

func testRefreshRevokeFamily(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, rt := range []storage.RefreshToken{
		sampleRefresh("a1", "fam-a", "user-1"),
		sampleRefresh("a2", "fam-a", "user-1"),
		sampleRefresh("b1", "fam-b", "user-1"),
	} {
		mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	mustNil(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "fam-a"))
	for sig, want := range map[string]bool{"a1": false, "a2": false, "b1": true} {
		got, err := s.GetRefreshToken(ctx, sig)
		mustNil(t, "GetRefreshToken", err)
		if got.Active != want {
			t.Errorf("token %s active = %v; want %v", sig, got.Active, want)
		}
	}
	wantErr(t, "RevokeRefreshFamily(unknown)", s.RevokeRefreshFamily(ctx, "fam-z"), storage.ErrNotFound)
	wantErr(t, "RotateRefreshToken(revoked)", s.RotateRefreshToken(ctx, "fam-a", "a2", successor("fam-a")), storage.ErrNotFound)
}

func testRefreshRevokeSubject(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for _, rt := range []storage.RefreshToken{
		sampleRefresh("a1", "fam-a", "user-1"),
		sampleRefresh("b1", "fam-b", "user-1"),
		sampleRefresh("c1", "fam-c", "user-2"),
	} {
		mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	fams, err := s.RevokeSubjectRefreshFamilies(ctx, "user-1")
	mustNil(t, "RevokeSubjectRefreshFamilies", err)
	slices.Sort(fams)
	if !slices.Equal(fams, []string{"fam-a", "fam-b"}) {
		t.Fatalf("RevokeSubjectRefreshFamilies = %v; want [fam-a fam-b]", fams)
	}
	for sig, want := range map[string]bool{"a1": false, "b1": false, "c1": true} {
		got, _ := s.GetRefreshToken(ctx, sig)
		if got.Active != want {
			t.Errorf("token %s active = %v; want %v", sig, got.Active, want)
		}
	}
}

func testRefreshExpiry(t *testing.T, s storage.Store) {
	ctx := context.Background()
	base := now()
	for i := range 5 {
		rt := sampleRefresh(fmt.Sprintf("old-%d", i), "fam-old", "user-1")
		rt.ExpiresAt = base.Add(-time.Minute)
		mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, rt))
	}
	mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("live", "fam-live", "user-1")))
	n, err := s.DeleteExpiredRefreshTokens(ctx, base, 3)
	mustNil(t, "DeleteExpiredRefreshTokens", err)
	if n != 3 {
		t.Fatalf("DeleteExpiredRefreshTokens(limit 3) = %d; want 3", n)
	}
	n, err = s.DeleteExpiredRefreshTokens(ctx, base, 100)
	mustNil(t, "DeleteExpiredRefreshTokens", err)
	if n != 2 {
		t.Fatalf("second DeleteExpiredRefreshTokens = %d; want 2", n)
	}
	if _, err := s.GetRefreshToken(ctx, "live"); err != nil {
		t.Fatalf("live token deleted: %v", err)
	}
}

func testDenyList(t *testing.T, s storage.Store) {
	ctx := context.Background()
	base := now()
	mustNil(t, "Deny", s.Deny(ctx, "jti-1", base.Add(time.Minute)))
	mustNil(t, "Deny(again, earlier)", s.Deny(ctx, "jti-1", base.Add(time.Second)))
	for _, tc := range []struct {
		at   time.Time
		ids  []string
		want bool
	}{
		{base, []string{"jti-1"}, true},
		{base, []string{"other", "jti-1"}, true},
		{base, []string{"other"}, false},
		{base, nil, false},
		{base.Add(30 * time.Second), []string{"jti-1"}, true}, // the later time was kept
		{base.Add(2 * time.Minute), []string{"jti-1"}, false},
	} {
		got, err := s.Denied(ctx, tc.at, tc.ids...)
		mustNil(t, "Denied", err)
		if got != tc.want {
			t.Errorf("Denied(%v, %v) = %v; want %v", tc.at.Sub(base), tc.ids, got, tc.want)
		}
	}
	got, err := s.DeniedUntil(ctx, "jti-1", "other")
	mustNil(t, "DeniedUntil", err)
	if len(got) != 1 || !got["jti-1"].Equal(base.Add(time.Minute)) {
		t.Fatalf("DeniedUntil(jti-1, other) = %v; want only jti-1 until %v", got, base.Add(time.Minute))
	}
	if got, err := s.DeniedUntil(ctx); err != nil || len(got) != 0 {
		t.Fatalf("DeniedUntil() = %v, %v; want empty", got, err)
	}
	mustNil(t, "Deny(old)", s.Deny(ctx, "old", base.Add(-time.Minute)))
	n, err := s.DeleteExpiredDenials(ctx, base, 10)
	mustNil(t, "DeleteExpiredDenials", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredDenials = %d; want 1", n)
	}
	if got, _ := s.Denied(ctx, base, "jti-1"); !got {
		t.Fatal("live denial was deleted")
	}
}

func testTxCommit(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("sig-1", "fam-1", "user-1")))
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "RotateRefreshToken", s.RotateRefreshToken(txCtx, "fam-1", "sig-1", sampleRefresh("sig-2", "fam-1", "user-1")))
	mustNil(t, "Deny", s.Deny(txCtx, "jti-1", now().Add(time.Minute)))
	mustNil(t, "Commit", s.Commit(txCtx))

	old, err := s.GetRefreshToken(ctx, "sig-1")
	mustNil(t, "GetRefreshToken(old)", err)
	if old.Active {
		t.Fatal("committed rotation was lost")
	}
	if _, err := s.GetRefreshToken(ctx, "sig-2"); err != nil {
		t.Fatalf("committed token missing: %v", err)
	}
	if d, _ := s.Denied(ctx, now(), "jti-1"); !d {
		t.Fatal("committed denial missing")
	}
}

func testTxRollback(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustNil(t, "CreateRefreshToken", s.CreateRefreshToken(ctx, sampleRefresh("sig-1", "fam-1", "user-1")))
	mustNil(t, "CreateUser", s.CreateUser(ctx, sampleUser("user-1", "alice")))
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "RotateRefreshToken", s.RotateRefreshToken(txCtx, "fam-1", "sig-1", sampleRefresh("sig-2", "fam-1", "user-1")))
	mustNil(t, "Deny", s.Deny(txCtx, "jti-1", now().Add(time.Minute)))
	mustNil(t, "UpdateUser", s.UpdateUser(txCtx, "user-1", func(u storage.User) (storage.User, error) {
		u.Disabled = true
		return u, nil
	}))
	mustNil(t, "Rollback", s.Rollback(txCtx))

	old, err := s.GetRefreshToken(ctx, "sig-1")
	mustNil(t, "GetRefreshToken(old)", err)
	if !old.Active {
		t.Fatal("rolled-back rotation stuck: the old token is inactive")
	}
	_, err = s.GetRefreshToken(ctx, "sig-2")
	wantErr(t, "GetRefreshToken(rolled back)", err, storage.ErrNotFound)
	if d, _ := s.Denied(ctx, now(), "jti-1"); d {
		t.Fatal("rolled-back denial persisted")
	}
	u, _ := s.GetUser(ctx, "user-1")
	if u.Disabled {
		t.Fatal("rolled-back user update persisted")
	}
	// The store still works after a rollback, and a cancelled context's
	// transaction cannot commit work that was rolled back.
	mustNil(t, "RotateRefreshToken(after rollback)", s.RotateRefreshToken(ctx, "fam-1", "sig-1", successor("fam-1")))
}
