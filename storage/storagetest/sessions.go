package storagetest

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// sessionRacers is how many goroutines rotate one login session at once.
const sessionRacers = 16

// sampleSession is a live login session of user, with an 8-hour life.
func sampleSession(id, user string) storage.LoginSession {
	t := now()
	return storage.LoginSession{
		ID:        id,
		Digest:    digest("cookie-" + id),
		UserID:    user,
		AuthTime:  t,
		AMR:       []string{"pwd"},
		CreatedAt: t,
		ExpiresAt: t.Add(8 * time.Hour),
	}
}

func equalSession(a, b storage.LoginSession) bool {
	return a.ID == b.ID && bytes.Equal(a.Digest, b.Digest) && a.UserID == b.UserID && a.AuthTime.Equal(b.AuthTime) &&
		slices.Equal(a.AMR, b.AMR) && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func testLoginSession(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ls := sampleSession("sid-1", "user-1")
	mustNil(t, "CreateLoginSession", s.CreateLoginSession(ctx, ls))
	sameID := sampleSession("sid-1", "user-2")
	sameID.Digest = digest("another cookie")
	wantErr(t, "CreateLoginSession(same id)", s.CreateLoginSession(ctx, sameID), storage.ErrAlreadyExists)
	sameDigest := sampleSession("sid-2", "user-2")
	sameDigest.Digest = ls.Digest
	wantErr(t, "CreateLoginSession(same digest)", s.CreateLoginSession(ctx, sameDigest), storage.ErrAlreadyExists)

	got, err := s.GetLoginSession(ctx, ls.Digest, now())
	mustNil(t, "GetLoginSession", err)
	if !equalSession(got, ls) {
		t.Fatalf("GetLoginSession = %+v; want %+v", got, ls)
	}
	got.AMR[0] = "mutated"
	if again, _ := s.GetLoginSession(ctx, ls.Digest, now()); again.AMR[0] != "pwd" {
		t.Fatalf("GetLoginSession returned shared memory: amr %v", again.AMR)
	}
	_, err = s.GetLoginSession(ctx, digest("unknown"), now())
	wantErr(t, "GetLoginSession(unknown)", err, storage.ErrNotFound)
	// A session is not returned from the moment it expires.
	_, err = s.GetLoginSession(ctx, ls.Digest, ls.ExpiresAt)
	wantErr(t, "GetLoginSession(at expiry)", err, storage.ErrNotFound)
	if _, err := s.GetLoginSession(ctx, ls.Digest, ls.ExpiresAt.Add(-time.Microsecond)); err != nil {
		t.Fatalf("GetLoginSession(just before expiry) = %v; want the session", err)
	}
}

// testLoginSessionRotation: after a rotation the old cookie id finds
// nothing and cannot be rotated again, the new one finds the same session
// (same id) with the new auth time, methods and expiry.
func testLoginSessionRotation(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ls := sampleSession("sid-1", "user-1")
	mustNil(t, "CreateLoginSession", s.CreateLoginSession(ctx, ls))
	other := sampleSession("sid-2", "user-2")
	mustNil(t, "CreateLoginSession(other)", s.CreateLoginSession(ctx, other))

	later := now().Add(time.Minute)
	r := storage.LoginSessionRotation{Digest: ls.Digest, NextDigest: digest("cookie-rotated"), AuthTime: later,
		AMR: []string{"pwd", "otp"}, ExpiresAt: later.Add(8 * time.Hour), Now: later}

	taken := r
	taken.NextDigest = other.Digest
	wantErr(t, "RotateLoginSession(to a digest in use)", s.RotateLoginSession(ctx, taken), storage.ErrAlreadyExists)
	if got, err := s.GetLoginSession(ctx, ls.Digest, now()); err != nil || !equalSession(got, ls) {
		t.Fatalf("failed rotation changed the session: %+v, %v", got, err)
	}
	expired := r
	expired.Now = ls.ExpiresAt
	wantErr(t, "RotateLoginSession(expired)", s.RotateLoginSession(ctx, expired), storage.ErrNotFound)
	unknown := r
	unknown.Digest = digest("unknown")
	wantErr(t, "RotateLoginSession(unknown)", s.RotateLoginSession(ctx, unknown), storage.ErrNotFound)

	mustNil(t, "RotateLoginSession", s.RotateLoginSession(ctx, r))
	_, err := s.GetLoginSession(ctx, ls.Digest, later)
	wantErr(t, "GetLoginSession(old digest)", err, storage.ErrNotFound)
	wantErr(t, "RotateLoginSession(old digest again)", s.RotateLoginSession(ctx, r), storage.ErrNotFound)
	wantErr(t, "DeleteLoginSession(old digest)", s.DeleteLoginSession(ctx, ls.Digest), storage.ErrNotFound)
	got, err := s.GetLoginSession(ctx, r.NextDigest, later)
	mustNil(t, "GetLoginSession(new digest)", err)
	want := storage.LoginSession{ID: ls.ID, Digest: r.NextDigest, UserID: ls.UserID, AuthTime: r.AuthTime, AMR: r.AMR,
		CreatedAt: ls.CreatedAt, ExpiresAt: r.ExpiresAt}
	if !equalSession(got, want) {
		t.Fatalf("GetLoginSession(new digest) = %+v; want %+v", got, want)
	}
	// The old digest is free again: nothing refers to it.
	reuse := sampleSession("sid-3", "user-3")
	reuse.Digest = ls.Digest
	mustNil(t, "CreateLoginSession(old digest)", s.CreateLoginSession(ctx, reuse))
}

// testLoginSessionRace rotates one session from sessionRacers goroutines
// at once, each to its own new digest: exactly one rotation may win, or
// two browsers would hold one session.
func testLoginSessionRace(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ls := sampleSession("sid-1", "user-1")
	mustNil(t, "CreateLoginSession", s.CreateLoginSession(ctx, ls))
	var winner atomic.Int32
	wins := race(t, "RotateLoginSession", 1, sessionRacers, storage.ErrNotFound, func(_, r int) error {
		at := now()
		err := s.RotateLoginSession(ctx, storage.LoginSessionRotation{Digest: ls.Digest,
			NextDigest: digest(fmt.Sprint("next-", r)), AuthTime: at, AMR: []string{"pwd"},
			ExpiresAt: at.Add(time.Hour), Now: at})
		if err == nil {
			winner.Store(int32(r))
		}
		return err
	})
	if wins[0] != 1 {
		t.Fatalf("%d of %d concurrent rotations of one session succeeded; want exactly 1", wins[0], sessionRacers)
	}
	for i := range sessionRacers {
		_, err := s.GetLoginSession(ctx, digest(fmt.Sprint("next-", i)), now())
		if live := err == nil; live != (int32(i) == winner.Load()) {
			t.Errorf("digest of racer %d: GetLoginSession = %v; want only the winner's to work", i, err)
		}
	}
}

// testRefreshRevokeLoginSession: logout with the option to end the
// session's grants revokes the families the session's codes began, and no
// other (another session's, the password grant's, which have none).
func testRefreshRevokeLoginSession(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for id, sid := range map[string]string{"fam-1": "sid-1", "fam-2": "sid-1", "fam-3": "sid-2", "fam-pw": ""} {
		f := sampleFamily(id, "user-1")
		f.LoginSessionID = sid
		mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, f))
	}
	mustNil(t, "RevokeRefreshFamily(fam-2)", s.RevokeRefreshFamily(ctx, "fam-2", storage.RevokedReuse, now()))
	at := now()
	ids, err := s.RevokeLoginSessionRefreshFamilies(ctx, "sid-1", at)
	mustNil(t, "RevokeLoginSessionRefreshFamilies", err)
	if !slices.Equal(ids, []string{"fam-1"}) {
		t.Fatalf("RevokeLoginSessionRefreshFamilies(sid-1) = %v; want [fam-1] (fam-2 was revoked already)", ids)
	}
	for id, want := range map[string]string{"fam-1": storage.RevokedLogout, "fam-2": storage.RevokedReuse, "fam-3": "", "fam-pw": ""} {
		f, _, err := s.GetRefreshFamily(ctx, id)
		mustNil(t, "GetRefreshFamily", err)
		if f.RevokedReason != want || f.RevokedAt.IsZero() != (want == "") {
			t.Errorf("family %s: revoked %q at %v; want %q", id, f.RevokedReason, f.RevokedAt, want)
		}
	}
	if ids, err := s.RevokeLoginSessionRefreshFamilies(ctx, "", at); err != nil || len(ids) != 0 {
		t.Fatalf("RevokeLoginSessionRefreshFamilies(\"\") = %v, %v; want nothing revoked", ids, err)
	}
	if f, _, _ := s.GetRefreshFamily(ctx, "fam-pw"); !f.RevokedAt.IsZero() {
		t.Fatal("an empty session id revoked a password-grant family")
	}
}

// testLoginSessionDelete covers logout, the end of every session of a user
// (disable, delete, password reset) and expiry.
func testLoginSessionDelete(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i, user := range []string{"user-1", "user-1", "user-1", "user-2"} {
		mustNil(t, "CreateLoginSession", s.CreateLoginSession(ctx, sampleSession(fmt.Sprint("sid-", i), user)))
	}
	mustNil(t, "DeleteLoginSession", s.DeleteLoginSession(ctx, sampleSession("sid-0", "").Digest))
	_, err := s.GetLoginSession(ctx, sampleSession("sid-0", "").Digest, now())
	wantErr(t, "GetLoginSession(logged out)", err, storage.ErrNotFound)
	wantErr(t, "DeleteLoginSession(again)", s.DeleteLoginSession(ctx, sampleSession("sid-0", "").Digest), storage.ErrNotFound)

	n, err := s.DeleteUserLoginSessions(ctx, "user-1")
	mustNil(t, "DeleteUserLoginSessions", err)
	if n != 2 {
		t.Fatalf("DeleteUserLoginSessions(user-1) = %d; want 2", n)
	}
	for i := 1; i <= 2; i++ {
		_, err := s.GetLoginSession(ctx, sampleSession(fmt.Sprint("sid-", i), "").Digest, now())
		wantErr(t, fmt.Sprintf("GetLoginSession(sid-%d of user-1)", i), err, storage.ErrNotFound)
	}
	if _, err := s.GetLoginSession(ctx, sampleSession("sid-3", "").Digest, now()); err != nil {
		t.Fatalf("another user's session was ended: %v", err)
	}
	if n, err := s.DeleteUserLoginSessions(ctx, "user-1"); n != 0 || err != nil {
		t.Fatalf("DeleteUserLoginSessions(again) = %d, %v; want 0, nil", n, err)
	}

	// Ended in a transaction that rolls back, the sessions live on.
	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	if n, err := s.DeleteUserLoginSessions(txCtx, "user-2"); n != 1 || err != nil {
		t.Fatalf("DeleteUserLoginSessions(tx) = %d, %v; want 1, nil", n, err)
	}
	mustNil(t, "Rollback", s.Rollback(txCtx))
	if _, err := s.GetLoginSession(ctx, sampleSession("sid-3", "").Digest, now()); err != nil {
		t.Fatalf("session ended in a rolled-back transaction: %v", err)
	}

	base := now()
	for i, d := range []time.Duration{-time.Hour, -time.Second, time.Hour} {
		ls := sampleSession(fmt.Sprint("exp-", i), "user-9")
		ls.ExpiresAt = base.Add(d)
		mustNil(t, "CreateLoginSession", s.CreateLoginSession(ctx, ls))
	}
	n, err = s.DeleteExpiredLoginSessions(ctx, base, 1)
	mustNil(t, "DeleteExpiredLoginSessions", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredLoginSessions(limit 1) = %d; want 1", n)
	}
	n, err = s.DeleteExpiredLoginSessions(ctx, base, 10)
	mustNil(t, "DeleteExpiredLoginSessions", err)
	if n != 1 {
		t.Fatalf("DeleteExpiredLoginSessions(rest) = %d; want 1", n)
	}
	if n, _ := s.DeleteUserLoginSessions(ctx, "user-9"); n != 1 {
		t.Fatalf("after expiry deletion user-9 has %d sessions; want the live one only", n)
	}
}
