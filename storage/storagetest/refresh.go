package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// refreshRaces is how many families each race test runs; each family races
// a rotation loop against one revocation.
const refreshRaces = 200

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// sampleFamily is a live family of client-1 and subject at generation 1.
func sampleFamily(id, subject string) storage.RefreshFamily {
	t := now()
	return storage.RefreshFamily{
		ID:             id,
		ClientID:       "client-1",
		Subject:        subject,
		Scopes:         []string{"read", "offline_access"},
		Audiences:      []string{"api"},
		CreatedAt:      t,
		ExpiresAt:      t.Add(24 * time.Hour),
		IdleExpiresAt:  t.Add(time.Hour),
		FamilyDigest:   digest("family-secret-" + id),
		TokenDigest:    digest("token-1-" + id),
		Generation:     1,
		Session:        []byte(`{"username":"alice"}`),
		LoginSessionID: "sid-" + id,
	}
}

// rotation rotates f's current token to next.
func rotation(f storage.RefreshFamily, next []byte) storage.RefreshRotation {
	t := now()
	return storage.RefreshRotation{FamilyID: f.ID, Generation: f.Generation, TokenDigest: f.TokenDigest,
		NextDigest: next, IdleExpiresAt: t.Add(time.Hour), Now: t}
}

// liveFamily creates client-1 (if missing), a user and a family of it.
func liveFamily(t *testing.T, s storage.Store, family, user string) storage.RefreshFamily {
	t.Helper()
	ctx := context.Background()
	if err := s.CreateClient(ctx, sampleClient("client-1")); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateClient: %v", err)
	}
	if err := s.CreateUser(ctx, sampleUser(user, "name-"+user)); err != nil && !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("CreateUser: %v", err)
	}
	f := sampleFamily(family, user)
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, f))
	return f
}

func testRefreshFamily(t *testing.T, s storage.Store) {
	ctx := context.Background()
	f := sampleFamily("fam-1", "user-1")
	f.IdleExpiresAt = f.ExpiresAt.Add(time.Hour) // stores cap it
	mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, f))
	wantErr(t, "CreateRefreshFamily(same id)", s.CreateRefreshFamily(ctx, f), storage.ErrAlreadyExists)
	_, _, err := s.GetRefreshFamily(ctx, "nope")
	wantErr(t, "GetRefreshFamily(unknown)", err, storage.ErrNotFound)

	got, u, err := s.GetRefreshFamily(ctx, "fam-1")
	mustNil(t, "GetRefreshFamily", err)
	if u != nil {
		t.Fatalf("GetRefreshFamily before the user exists: user %+v; want nil", u)
	}
	if got.ID != f.ID || got.ClientID != f.ClientID || got.Subject != f.Subject || got.SubjectVersion != 0 ||
		!slices.Equal(got.Scopes, f.Scopes) || !slices.Equal(got.Audiences, f.Audiences) ||
		!got.CreatedAt.Equal(f.CreatedAt) || !got.ExpiresAt.Equal(f.ExpiresAt) || !got.IdleExpiresAt.Equal(f.ExpiresAt) ||
		!bytes.Equal(got.FamilyDigest, f.FamilyDigest) || !bytes.Equal(got.TokenDigest, f.TokenDigest) ||
		got.Generation != 1 || !got.RevokedAt.IsZero() || got.RevokedReason != "" || !bytes.Equal(got.Session, f.Session) ||
		got.LoginSessionID != f.LoginSessionID {
		t.Fatalf("GetRefreshFamily = %+v; want %+v with idle expiry capped at the absolute one", got, f)
	}

	user := sampleUser("user-1", "alice")
	user.CredentialsVersion = 7
	user.Disabled = true
	mustNil(t, "CreateUser", s.CreateUser(ctx, user))
	_, u, err = s.GetRefreshFamily(ctx, "fam-1")
	mustNil(t, "GetRefreshFamily", err)
	if u == nil || u.ID != "user-1" || u.Username != "alice" || !u.Disabled || u.CredentialsVersion != 7 ||
		!slices.Equal(u.Roles, user.Roles) || u.PasswordHash != user.PasswordHash || !u.CreatedAt.Equal(user.CreatedAt) ||
		u.Email != user.Email || u.EmailVerified != user.EmailVerified || u.Name != user.Name {
		t.Fatalf("GetRefreshFamily's user = %+v; want %+v", u, user)
	}
}

func testRefreshRotationConditions(t *testing.T, s storage.Store) {
	ctx := context.Background()
	f := liveFamily(t, s, "fam-1", "user-1")
	base := now()

	for _, tc := range []struct {
		name   string
		mutate func(r *storage.RefreshRotation)
	}{
		{"wrong generation", func(r *storage.RefreshRotation) { r.Generation = 2 }},
		{"older generation", func(r *storage.RefreshRotation) { r.Generation = 0 }},
		{"wrong digest", func(r *storage.RefreshRotation) { r.TokenDigest = digest("forged") }},
		{"unknown family", func(r *storage.RefreshRotation) { r.FamilyID = "fam-9" }},
		{"idle expired", func(r *storage.RefreshRotation) { r.Now = base.Add(2 * time.Hour) }},
		{"absolutely expired", func(r *storage.RefreshRotation) { r.Now = base.Add(25 * time.Hour) }},
	} {
		r := rotation(f, digest("next"))
		tc.mutate(&r)
		wantErr(t, "RotateRefreshFamily("+tc.name+")", s.RotateRefreshFamily(ctx, r), storage.ErrNotFound)
	}
	if got, _, _ := s.GetRefreshFamily(ctx, "fam-1"); got.Generation != 1 || !bytes.Equal(got.TokenDigest, f.TokenDigest) {
		t.Fatalf("failed rotations changed the family: %+v", got)
	}

	r := rotation(f, digest("token-2"))
	r.IdleExpiresAt = f.ExpiresAt.Add(time.Hour)
	mustNil(t, "RotateRefreshFamily", s.RotateRefreshFamily(ctx, r))
	got, _, err := s.GetRefreshFamily(ctx, "fam-1")
	mustNil(t, "GetRefreshFamily", err)
	if got.Generation != 2 || !bytes.Equal(got.TokenDigest, digest("token-2")) || !got.IdleExpiresAt.Equal(f.ExpiresAt) ||
		!bytes.Equal(got.FamilyDigest, f.FamilyDigest) {
		t.Fatalf("after rotation: %+v; want generation 2, the new digest, idle expiry capped", got)
	}
	wantErr(t, "RotateRefreshFamily(the old token again)", s.RotateRefreshFamily(ctx, rotation(f, digest("x"))), storage.ErrNotFound)

	// The subject's and the client's state decide too.
	for _, tc := range []struct {
		name   string
		change func(id string) error
	}{
		{"user disabled", func(id string) error {
			return s.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) { u.Disabled = true; return u, nil })
		}},
		{"password changed", func(id string) error {
			return s.UpdateUser(ctx, id, func(u storage.User) (storage.User, error) { u.CredentialsVersion++; return u, nil })
		}},
		{"user deleted", func(id string) error { return s.DeleteUser(ctx, id) }},
	} {
		id := "user-" + tc.name
		f := liveFamily(t, s, "fam-"+tc.name, id)
		mustNil(t, tc.name, tc.change(id))
		wantErr(t, "RotateRefreshFamily("+tc.name+")", s.RotateRefreshFamily(ctx, rotation(f, digest("n"))), storage.ErrNotFound)
	}
	f3 := liveFamily(t, s, "fam-3", "user-3")
	mustNil(t, "UpdateClient", s.UpdateClient(ctx, "client-1", func(c storage.Client) (storage.Client, error) {
		c.Disabled = true
		return c, nil
	}))
	wantErr(t, "RotateRefreshFamily(client disabled)", s.RotateRefreshFamily(ctx, rotation(f3, digest("n"))), storage.ErrNotFound)
}

func testRefreshConcurrentRotation(t *testing.T, s storage.Store) {
	ctx := context.Background()
	f := liveFamily(t, s, "fam-1", "user-1")
	const n = 50
	var winner atomic.Value
	wins := race(t, "RotateRefreshFamily", 1, n, storage.ErrNotFound, func(_, r int) error {
		next := digest(fmt.Sprintf("next-%d", r))
		err := s.RotateRefreshFamily(ctx, rotation(f, next))
		if err == nil {
			winner.Store(next)
		}
		return err
	})
	if wins[0] != 1 {
		t.Fatalf("%d concurrent rotations: %d won; want 1, the others ErrNotFound", n, wins[0])
	}
	got, _, _ := s.GetRefreshFamily(ctx, "fam-1")
	if got.Generation != 2 || !bytes.Equal(got.TokenDigest, winner.Load().([]byte)) {
		t.Fatalf("after the race: generation %d; want 2 with the winner's digest", got.Generation)
	}
}

func testRefreshRevoke(t *testing.T, s storage.Store) {
	ctx := context.Background()
	f := liveFamily(t, s, "fam-1", "user-1")
	liveFamily(t, s, "fam-2", "user-1")
	first := now()
	mustNil(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "fam-1", storage.RevokedReuse, first))
	mustNil(t, "RevokeRefreshFamily(again)", s.RevokeRefreshFamily(ctx, "fam-1", storage.RevokedByClient, first.Add(time.Minute)))
	got, _, _ := s.GetRefreshFamily(ctx, "fam-1")
	if !got.RevokedAt.Equal(first) || got.RevokedReason != storage.RevokedReuse {
		t.Fatalf("revoked twice: at %v for %q; want the first, %v for %q", got.RevokedAt, got.RevokedReason, first, storage.RevokedReuse)
	}
	if other, _, _ := s.GetRefreshFamily(ctx, "fam-2"); !other.RevokedAt.IsZero() {
		t.Fatal("revoking one family revoked another")
	}
	wantErr(t, "RevokeRefreshFamily(unknown)", s.RevokeRefreshFamily(ctx, "fam-z", storage.RevokedReuse, first), storage.ErrNotFound)
	wantErr(t, "RotateRefreshFamily(revoked)", s.RotateRefreshFamily(ctx, rotation(f, digest("n"))), storage.ErrNotFound)
}

func testRefreshRevokeSubject(t *testing.T, s storage.Store) {
	ctx := context.Background()
	liveFamily(t, s, "fam-a", "user-1")
	liveFamily(t, s, "fam-b", "user-1")
	liveFamily(t, s, "fam-c", "user-2")
	at := now()
	mustNil(t, "RevokeRefreshFamily", s.RevokeRefreshFamily(ctx, "fam-b", storage.RevokedReuse, at))
	ids, err := s.RevokeSubjectRefreshFamilies(ctx, "user-1", at)
	mustNil(t, "RevokeSubjectRefreshFamilies", err)
	if !slices.Equal(ids, []string{"fam-a"}) {
		t.Fatalf("RevokeSubjectRefreshFamilies(user-1) = %v; want the live family [fam-a]", ids)
	}
	for id, want := range map[string]string{"fam-a": storage.RevokedSubject, "fam-b": storage.RevokedReuse, "fam-c": ""} {
		if got, _, _ := s.GetRefreshFamily(ctx, id); got.RevokedReason != want {
			t.Errorf("%s revoked for %q; want %q", id, got.RevokedReason, want)
		}
	}
	// A client's revocation reaches every family it holds.
	ids, err = s.RevokeSubjectRefreshFamilies(ctx, "client-1", at)
	mustNil(t, "RevokeSubjectRefreshFamilies(client)", err)
	if !slices.Equal(ids, []string{"fam-c"}) {
		t.Fatalf("RevokeSubjectRefreshFamilies(client-1) = %v; want [fam-c]", ids)
	}
}

func testRefreshDeadFamilies(t *testing.T, s storage.Store) {
	ctx := context.Background()
	base := now()
	const retention = time.Hour
	families := map[string]func(f *storage.RefreshFamily){
		"live":      func(f *storage.RefreshFamily) {},
		"expired-1": func(f *storage.RefreshFamily) { f.ExpiresAt = base.Add(-time.Minute) },
		"expired-2": func(f *storage.RefreshFamily) { f.ExpiresAt = base.Add(-time.Minute) },
		"idle":      func(f *storage.RefreshFamily) { f.IdleExpiresAt = base.Add(-time.Minute) },
		"revoked-long": func(f *storage.RefreshFamily) {
			f.RevokedAt, f.RevokedReason = base.Add(-2*retention), storage.RevokedReuse
		},
		"revoked-recent": func(f *storage.RefreshFamily) {
			f.RevokedAt, f.RevokedReason = base.Add(-time.Minute), storage.RevokedReuse
		},
	}
	for id, mutate := range families {
		f := sampleFamily(id, "user-1")
		mutate(&f)
		mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, f))
	}
	n, err := s.DeleteDeadRefreshFamilies(ctx, base, base.Add(-retention), 2)
	mustNil(t, "DeleteDeadRefreshFamilies", err)
	if n != 2 {
		t.Fatalf("DeleteDeadRefreshFamilies(limit 2) = %d; want 2", n)
	}
	n, err = s.DeleteDeadRefreshFamilies(ctx, base, base.Add(-retention), 100)
	mustNil(t, "DeleteDeadRefreshFamilies", err)
	if n != 2 {
		t.Fatalf("second DeleteDeadRefreshFamilies = %d; want 2", n)
	}
	for _, id := range []string{"live", "revoked-recent"} {
		if _, _, err := s.GetRefreshFamily(ctx, id); err != nil {
			t.Errorf("family %s was deleted: %v", id, err)
		}
	}
}

// raceRotation runs refreshRaces races, eight at a time. In each, a client
// rotates a family (whose first token revoke gets) in a loop, as the token endpoint does (read the family,
// then compare-and-swap), while revoke revokes it once. After revoke has
// returned, no rotation may succeed, and the family must be revoked or its
// subject unable to rotate.
func raceRotation(t *testing.T, s storage.Store, revoke func(ctx context.Context, f storage.RefreshFamily) error) {
	ctx := context.Background()
	var late, survivors atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range refreshRaces {
		f := liveFamily(t, s, fmt.Sprintf("fam-%d", i), fmt.Sprintf("user-%d", i))
		// One rotation first, so that f's token is an old one.
		mustNil(t, "RotateRefreshFamily", s.RotateRefreshFamily(ctx, rotation(f, digest(f.ID+"-first"))))
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var revoked atomic.Bool
			done := make(chan struct{})
			go func() {
				defer close(done)
				for gen := 0; gen < 1000; gen++ {
					after := revoked.Load()
					cur, _, err := s.GetRefreshFamily(ctx, f.ID)
					if err != nil {
						t.Errorf("GetRefreshFamily: %v", err)
						return
					}
					if err := s.RotateRefreshFamily(ctx, rotation(cur, digest(fmt.Sprintf("%s-%d", f.ID, gen)))); err != nil {
						if !errors.Is(err, storage.ErrNotFound) {
							t.Errorf("RotateRefreshFamily: %v", err)
						}
						return
					}
					if after {
						late.Add(1)
					}
				}
			}()
			if err := revoke(ctx, f); err != nil {
				t.Errorf("revoke: %v", err)
			}
			revoked.Store(true)
			<-done
			cur, _, err := s.GetRefreshFamily(ctx, f.ID)
			if err != nil {
				t.Errorf("GetRefreshFamily: %v", err)
				return
			}
			if s.RotateRefreshFamily(ctx, rotation(cur, digest("after"))) == nil {
				survivors.Add(1)
			}
		}()
	}
	wg.Wait()
	if late.Load() != 0 || survivors.Load() != 0 {
		t.Fatalf("%d rotations succeeded after the revocation returned, %d of %d families could still rotate; want 0 and 0",
			late.Load(), survivors.Load(), refreshRaces)
	}
}

func testRefreshRaceRevokeFamily(t *testing.T, s storage.Store) {
	raceRotation(t, s, func(ctx context.Context, f storage.RefreshFamily) error {
		return s.RevokeRefreshFamily(ctx, f.ID, storage.RevokedByClient, now())
	})
}

// testRefreshRaceRevokeSubject revokes as a password reset does: the
// user's credentials version moves and the user's families are revoked, in
// one transaction.
func testRefreshRaceRevokeSubject(t *testing.T, s storage.Store) {
	raceRotation(t, s, func(ctx context.Context, f storage.RefreshFamily) error {
		tx, err := s.BeginTX(ctx)
		if err != nil {
			return err
		}
		err = s.UpdateUser(tx, f.Subject, func(u storage.User) (storage.User, error) {
			u.CredentialsVersion++
			return u, nil
		})
		if err == nil {
			_, err = s.RevokeSubjectRefreshFamilies(tx, f.Subject, now())
		}
		if err != nil {
			s.Rollback(tx)
			return err
		}
		return s.Commit(tx)
	})
}

// testRefreshRaceReuse presents the family's first token while the client
// rotates: the reader finds it is not current and revokes the family, as
// the token endpoint does on reuse.
func testRefreshRaceReuse(t *testing.T, s storage.Store) {
	raceRotation(t, s, func(ctx context.Context, f storage.RefreshFamily) error {
		cur, _, err := s.GetRefreshFamily(ctx, f.ID)
		if err != nil {
			return err
		}
		if cur.Generation == f.Generation {
			return errors.New("the first token is still current")
		}
		return s.RevokeRefreshFamily(ctx, f.ID, storage.RevokedReuse, now())
	})
}
