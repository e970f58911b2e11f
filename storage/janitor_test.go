package storage_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

var base = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// fill stores expired and live refresh families and denials relative to base.
func fill(t *testing.T, s *memory.Store, expired, live int) {
	t.Helper()
	ctx := t.Context()
	add := func(name string, exp time.Time) {
		f := storage.RefreshFamily{ID: name, Subject: "u", ExpiresAt: exp, IdleExpiresAt: exp}
		if err := s.CreateRefreshFamily(ctx, f); err != nil {
			t.Fatal(err)
		}
		if err := s.Deny(ctx, name, exp); err != nil {
			t.Fatal(err)
		}
	}
	for i := range expired {
		add(fmt.Sprintf("expired-%d", i), base.Add(-time.Duration(i+1)*time.Minute))
	}
	for i := range live {
		add(fmt.Sprintf("live-%d", i), base.Add(time.Duration(i+1)*time.Minute))
	}
}

func TestJanitorSweep(t *testing.T) {
	s := memory.New()
	fill(t, s, 7, 3)
	j := &storage.Janitor{Store: s, Batch: 2, Now: func() time.Time { return base }}
	refresh, denials, err := j.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if refresh != 7 || denials != 7 {
		t.Fatalf("Sweep = %d refresh families, %d denials; want 7, 7 (batches of 2 repeat while full)", refresh, denials)
	}
	for i := range 7 {
		if _, _, err := s.GetRefreshFamily(t.Context(), fmt.Sprintf("expired-%d", i)); !errors.Is(err, storage.ErrNotFound) {
			t.Errorf("expired family %d: GetRefreshFamily = %v; want ErrNotFound", i, err)
		}
	}
	for i := range 3 {
		name := fmt.Sprintf("live-%d", i)
		if _, _, err := s.GetRefreshFamily(t.Context(), name); err != nil {
			t.Errorf("live family %s deleted: %v", name, err)
		}
		if d, _ := s.Denied(t.Context(), base, name); !d {
			t.Errorf("live denial %s deleted", name)
		}
	}
}

// counting counts the delete calls a sweep makes.
type counting struct {
	storage.ExpiryDeleter
	calls atomic.Int32
}

func (c *counting) DeleteDeadRefreshFamilies(ctx context.Context, expiredBefore, revokedBefore time.Time, limit int) (int, error) {
	c.calls.Add(1)
	return c.ExpiryDeleter.DeleteDeadRefreshFamilies(ctx, expiredBefore, revokedBefore, limit)
}

func TestJanitorSweepIsBounded(t *testing.T) {
	s := memory.New()
	fill(t, s, 10, 0)
	c := &counting{ExpiryDeleter: s}
	j := &storage.Janitor{Store: c, Batch: 2, MaxBatches: 3, Now: func() time.Time { return base }}
	refresh, _, err := j.Sweep(t.Context())
	if err != nil {
		t.Fatalf("Sweep: %v", err)
	}
	if refresh != 6 || c.calls.Load() != 3 {
		t.Fatalf("Sweep(batch 2, max 3 batches) deleted %d in %d calls; want 6 in 3", refresh, c.calls.Load())
	}
}

func TestJanitorRunSweepsUntilCancelled(t *testing.T) {
	s := memory.New()
	fill(t, s, 2, 2)
	var now atomic.Int64
	now.Store(base.UnixNano())
	c := &counting{ExpiryDeleter: s}
	j := &storage.Janitor{Store: c, Interval: time.Millisecond, Now: func() time.Time { return time.Unix(0, now.Load()) }}

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- j.Run(ctx) }()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	gone := func(name string) func() bool {
		return func() bool {
			_, _, err := s.GetRefreshFamily(t.Context(), name)
			return errors.Is(err, storage.ErrNotFound)
		}
	}
	waitFor("the expired tokens to go", func() bool { return gone("expired-0")() && gone("expired-1")() })
	calls := c.calls.Load()
	waitFor("more sweeps", func() bool { return c.calls.Load() > calls+2 })
	if _, _, err := s.GetRefreshFamily(t.Context(), "live-0"); err != nil {
		t.Fatalf("live token deleted: %v", err)
	}
	// Time passes: the first live token expires and goes at a later sweep.
	now.Store(base.Add(90 * time.Second).UnixNano())
	waitFor("live-0 to expire and go", gone("live-0"))
	if _, _, err := s.GetRefreshFamily(t.Context(), "live-1"); err != nil {
		t.Fatalf("token that is still live deleted: %v", err)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run after cancel = %v; want nil", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Run did not return within 1s of cancel")
	}
}

// failing fails every delete.
type failing struct{}

func (failing) DeleteDeadRefreshFamilies(context.Context, time.Time, time.Time, int) (int, error) {
	return 0, storage.ErrUnavailable
}

func (failing) DeleteExpiredDenials(context.Context, time.Time, int) (int, error) {
	return 0, storage.ErrUnavailable
}

func (failing) DeleteExpiredAuthorizationCodes(context.Context, time.Time, int) (int, error) {
	return 0, storage.ErrUnavailable
}

func (failing) DeleteExpiredLoginSessions(context.Context, time.Time, int) (int, error) {
	return 0, storage.ErrUnavailable
}

func (failing) DeleteExpiredAssertions(context.Context, time.Time, int) (int, error) {
	return 0, storage.ErrUnavailable
}

func TestJanitorRunSurvivesFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	j := &storage.Janitor{Store: failing{}, Interval: time.Millisecond}
	if err := j.Run(ctx); err != nil {
		t.Fatalf("Run(failing store) = %v; want nil after ctx is done", err)
	}
	if err := (&storage.Janitor{}).Run(ctx); err == nil {
		t.Fatal("Run(no store) = nil; want an error")
	}
}

// TestJanitorReportsDeletions checks that Deleted hears what each sweep
// deleted, by kind, for the janitor metrics.
func TestJanitorReportsDeletions(t *testing.T) {
	s := memory.New()
	fill(t, s, 5, 2)
	got := map[string]int{}
	j := &storage.Janitor{Store: s, Batch: 2, Now: func() time.Time { return base }, Deleted: func(kind string, n int) { got[kind] += n }}
	if _, _, err := j.Sweep(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got["refresh_family"] != 5 || got["denial"] != 5 {
		t.Errorf("Deleted heard %v; want 5 refresh families and 5 denials", got)
	}
}

// TestJanitorCodesAndSessions checks that a sweep deletes authorization
// codes only CodeRetention after they expired (a late second use must
// still be recognised, RFC 6749 section 4.1.2) and login sessions as soon
// as they expired, and reports both kinds.
func TestJanitorCodesAndSessions(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	codes := map[string]time.Duration{ // name -> expiry relative to base
		"long-expired": -11 * time.Minute, "just-expired": -time.Minute, "live": time.Minute,
	}
	for name, d := range codes {
		c := storage.AuthorizationCode{Digest: []byte(name), ExpiresAt: base.Add(d), Active: true}
		if err := s.CreateAuthorizationCode(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	for name, d := range map[string]time.Duration{"expired": -time.Second, "live": time.Hour} {
		ls := storage.LoginSession{ID: name, Digest: []byte(name), UserID: "u", ExpiresAt: base.Add(d)}
		if err := s.CreateLoginSession(ctx, ls); err != nil {
			t.Fatal(err)
		}
	}
	got := map[string]int{}
	j := &storage.Janitor{Store: s, CodeRetention: 10 * time.Minute, Now: func() time.Time { return base },
		Deleted: func(kind string, n int) { got[kind] += n }}
	if _, _, err := j.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got["authorization_code"] != 1 || got["login_session"] != 1 {
		t.Errorf("Deleted heard %v; want 1 authorization code and 1 login session", got)
	}
	for name := range codes {
		_, err := s.GetAuthorizationCode(ctx, []byte(name))
		if gone := errors.Is(err, storage.ErrNotFound); gone != (name == "long-expired") {
			t.Errorf("code %s: GetAuthorizationCode = %v; want deleted only for long-expired", name, err)
		}
	}
	if _, err := s.GetLoginSession(ctx, []byte("live"), base); err != nil {
		t.Errorf("live login session: %v", err)
	}
	if err := s.DeleteLoginSession(ctx, []byte("expired")); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("expired login session still stored: DeleteLoginSession = %v; want ErrNotFound", err)
	}
}

// TestJanitorAssertions checks that a sweep deletes used assertions once
// they expired, and keeps live ones, whose replay must still be refused.
func TestJanitorAssertions(t *testing.T) {
	s := memory.New()
	ctx := t.Context()
	expired, live := []byte("expired"), []byte("live")
	if err := s.UseAssertion(ctx, expired, base.Add(-time.Second), base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.UseAssertion(ctx, live, base.Add(time.Minute), base.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	j := &storage.Janitor{Store: s, Now: func() time.Time { return base }, Deleted: func(kind string, n int) { got[kind] += n }}
	if _, _, err := j.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if got["assertion"] != 1 {
		t.Errorf("Deleted heard %d assertions; want 1 (the expired one)", got["assertion"])
	}
	if err := s.UseAssertion(ctx, live, base.Add(time.Hour), base); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Errorf("UseAssertion(live, after sweep) = %v; want ErrAlreadyExists", err)
	}
}
