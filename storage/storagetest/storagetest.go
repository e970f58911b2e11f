// Package storagetest is the conformance suite every Gatehouse store runs:
// storagetest.Run(t, newStore). It checks the storage contract of package
// storage, including fosite's sentinel errors, refresh-family rotation with
// a single winner under concurrency, rotation racing every kind of
// revocation, and commit and rollback through the context.
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
		{"RefreshFamily", testRefreshFamily},
		{"RefreshRotationConditions", testRefreshRotationConditions},
		{"RefreshConcurrentRotation", testRefreshConcurrentRotation},
		{"RefreshRevoke", testRefreshRevoke},
		{"RefreshRevokeSubject", testRefreshRevokeSubject},
		{"RefreshDeadFamilies", testRefreshDeadFamilies},
		{"RefreshRaceRevokeFamily", testRefreshRaceRevokeFamily},
		{"RefreshRaceRevokeSubject", testRefreshRaceRevokeSubject},
		{"RefreshRaceReuse", testRefreshRaceReuse},
		{"DenyList", testDenyList},
		{"TransactionCommit", testTxCommit},
		{"TransactionRollback", testTxRollback},
		{"ValidText", testValidText},
		{"ClientDefaults", testClientDefaults},
		{"AuthorizationCode", testAuthorizationCode},
		{"AuthorizationCodeTransaction", testAuthorizationCodeTx},
		{"AuthorizationCodeExpiry", testAuthorizationCodeExpiry},
		{"AuthorizationCodeRaceInvalidate", testAuthorizationCodeRace},
		{"LoginSession", testLoginSession},
		{"LoginSessionRotation", testLoginSessionRotation},
		{"LoginSessionRaceRotate", testLoginSessionRace},
		{"LoginSessionDelete", testLoginSessionDelete},
		{"RefreshRevokeLoginSession", testRefreshRevokeLoginSession},
		{"Assertions", testAssertions},
		{"AssertionRace", testAssertionRace},
		{"TrustedIssuers", testTrustedIssuers},
		{"TrustedIssuerUpdateAtomic", testTrustedIssuerUpdateAtomic},
		{"Connectors", testConnectors},
		{"IdentityLinks", testIdentityLinks},
		{"IdentityLinkRace", testIdentityLinkRace},
		{"IdentityLinkOnePerUser", testIdentityLinkOnePerUser},
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
		ID:                     id,
		Name:                   "name-" + id,
		SecretHash:             []byte("0123456789abcdef0123456789abcdef"),
		GrantTypes:             []string{"client_credentials", "refresh_token"},
		Scopes:                 []string{"read", "write"},
		Audiences:              []string{"api"},
		Roles:                  []string{"service"},
		Claims:                 map[string]any{"tenant": "acme", "tier": float64(2)},
		TokenLifetime:          5 * time.Minute,
		RedirectURIs:           []string{"https://app.example/cb", "http://127.0.0.1/callback", "com.example.app:/cb"},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"},
		WebOrigins:             []string{"https://app.example"},
		Public:                 true,
		ThirdParty:             true,
		CreatedAt:              t,
		UpdatedAt:              t,
	}
}

func sampleUser(id, name string) storage.User {
	t := now()
	return storage.User{
		ID:            id,
		Username:      name,
		PasswordHash:  "$argon2id$v=19$m=65536,t=1,p=2$c2FsdA$aGFzaA",
		Roles:         []string{"user", "editor"},
		Email:         name + "@example.com",
		EmailVerified: true,
		Name:          "Name of " + name,
		CreatedAt:     t,
		UpdatedAt:     t,
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
		a.Disabled == b.Disabled && a.CreatedAt.Equal(b.CreatedAt) &&
		slices.Equal(a.RedirectURIs, b.RedirectURIs) && slices.Equal(a.PostLogoutRedirectURIs, b.PostLogoutRedirectURIs) &&
		slices.Equal(a.WebOrigins, b.WebOrigins) && a.Public == b.Public && a.ThirdParty == b.ThirdParty &&
		a.AuthMethod == b.AuthMethod && string(a.JWKS) == string(b.JWKS) && a.JWKSURI == b.JWKSURI &&
		slices.Equal(a.AuthSigningAlgs, b.AuthSigningAlgs)
}

func equalUser(a, b storage.User) bool {
	return a.ID == b.ID && a.Username == b.Username && a.PasswordHash == b.PasswordHash &&
		a.CredentialsVersion == b.CredentialsVersion && slices.Equal(a.Roles, b.Roles) && a.Email == b.Email &&
		a.EmailVerified == b.EmailVerified && a.Name == b.Name && a.Disabled == b.Disabled &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
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

	// A private_key_jwt client: no secret, a JWK Set or a JWKS URI, and
	// its algorithms, read back byte for byte.
	kc := sampleClient("client-3")
	kc.SecretHash, kc.Public = nil, false
	kc.AuthMethod = storage.AuthMethodPrivateKeyJWT
	kc.JWKS = []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","kid":"k1"}]}`)
	kc.AuthSigningAlgs = []string{"ES256", "PS256"}
	mustNil(t, "CreateClient(private_key_jwt)", s.CreateClient(ctx, kc))
	got, err = s.GetClient(ctx, "client-3")
	mustNil(t, "GetClient(private_key_jwt)", err)
	if !equalClient(got, kc) {
		t.Fatalf("GetClient = %+v; want %+v", got, kc)
	}
	mustNil(t, "UpdateClient(jwks_uri)", s.UpdateClient(ctx, "client-3", func(c storage.Client) (storage.Client, error) {
		c.JWKS, c.JWKSURI, c.AuthSigningAlgs = nil, "https://keys.example/jwks.json", []string{"RS256"}
		return c, nil
	}))
	got, _ = s.GetClient(ctx, "client-3")
	if got.JWKS != nil || got.JWKSURI != "https://keys.example/jwks.json" || !slices.Equal(got.AuthSigningAlgs, []string{"RS256"}) ||
		got.AuthMethod != storage.AuthMethodPrivateKeyJWT || got.SecretHash != nil {
		t.Fatalf("after UpdateClient(jwks_uri): %+v", got)
	}
	mustNil(t, "DeleteClient(3)", s.DeleteClient(ctx, "client-3"))

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
	if !equalUser(got, u) {
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
		u.Email, u.EmailVerified, u.Name = "robert@example.org", false, ""
		return u, nil
	}))
	got, err = s.GetUserByUsername(ctx, "robert")
	mustNil(t, "GetUserByUsername(renamed)", err)
	if got.ID != "user-2" || !got.Disabled || !slices.Equal(got.Roles, []string{"user"}) ||
		got.Email != "robert@example.org" || got.EmailVerified || got.Name != "" {
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
	mustNil(t, "CreateUser", s.CreateUser(ctx, sampleUser("user-1", "alice")))
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(txCtx, sampleFamily("fam-1", "user-1")))
	mustNil(t, "Deny", s.Deny(txCtx, "jti-1", now().Add(time.Minute)))
	mustNil(t, "UpdateUser", s.UpdateUser(txCtx, "user-1", func(u storage.User) (storage.User, error) {
		u.CredentialsVersion++
		return u, nil
	}))
	mustNil(t, "Commit", s.Commit(txCtx))

	if _, _, err := s.GetRefreshFamily(ctx, "fam-1"); err != nil {
		t.Fatalf("committed family missing: %v", err)
	}
	if d, _ := s.Denied(ctx, now(), "jti-1"); !d {
		t.Fatal("committed denial missing")
	}
	if u, _ := s.GetUser(ctx, "user-1"); u.CredentialsVersion != 1 {
		t.Fatalf("committed user update lost: credentials version %d; want 1", u.CredentialsVersion)
	}
}

func testTxRollback(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustNil(t, "CreateClient", s.CreateClient(ctx, sampleClient("client-1")))
	mustNil(t, "CreateUser", s.CreateUser(ctx, sampleUser("user-1", "alice")))
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, sampleFamily("fam-1", "user-1")))
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(txCtx, "fam-1", storage.RevokedByClient, now()))
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(txCtx, sampleFamily("fam-2", "user-1")))
	mustNil(t, "Deny", s.Deny(txCtx, "jti-1", now().Add(time.Minute)))
	mustNil(t, "UpdateUser", s.UpdateUser(txCtx, "user-1", func(u storage.User) (storage.User, error) {
		u.Disabled = true
		return u, nil
	}))
	mustNil(t, "Rollback", s.Rollback(txCtx))

	f, _, err := s.GetRefreshFamily(ctx, "fam-1")
	mustNil(t, "GetRefreshFamily", err)
	if !f.RevokedAt.IsZero() {
		t.Fatal("rolled-back revocation stuck")
	}
	_, _, err = s.GetRefreshFamily(ctx, "fam-2")
	wantErr(t, "GetRefreshFamily(rolled back)", err, storage.ErrNotFound)
	if d, _ := s.Denied(ctx, now(), "jti-1"); d {
		t.Fatal("rolled-back denial persisted")
	}
	u, _ := s.GetUser(ctx, "user-1")
	if u.Disabled {
		t.Fatal("rolled-back user update persisted")
	}
	// The store still works after a rollback.
	mustNil(t, "RotateRefreshFamily(after rollback)", s.RotateRefreshFamily(ctx, rotation(f, digest("next"))))
}

// race calls call(i, r) from racers goroutines (r) for each of items
// values of i, all released at once, and returns how many calls for each i
// succeeded. A loser must fail with lost; any other error fails the test.
func race(t *testing.T, what string, items, racers int, lost error, call func(i, r int) error) []int32 {
	t.Helper()
	var (
		wins   = make([]atomic.Int32, items)
		start  = make(chan struct{})
		wg     sync.WaitGroup
		errMu  sync.Mutex
		others []error
	)
	for i := range items {
		for r := range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := call(i, r)
				switch {
				case err == nil:
					wins[i].Add(1)
				case !errors.Is(err, lost):
					errMu.Lock()
					others = append(others, err)
					errMu.Unlock()
				}
			}()
		}
	}
	close(start)
	wg.Wait()
	if len(others) > 0 {
		t.Fatalf("%s failed other than with %v: %v", what, lost, others[0])
	}
	out := make([]int32, items)
	for i := range wins {
		out[i] = wins[i].Load()
	}
	return out
}
