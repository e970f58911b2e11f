package storagetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// attemptTests check the login-attempt counters (design D5): one atomic
// add per counter, windows, take-backs that never cross a window, blocks
// and clearing.
func attemptTests() []struct {
	name string
	fn   func(t *testing.T, s storage.Store)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.Store)
	}{
		{"CountAndWindow", testAttemptsWindow},
		{"Remove", testAttemptsRemove},
		{"ConcurrentAdds", testAttemptsConcurrent},
		{"BlockedAndClear", testAttemptsBlockedClear},
		{"Expiry", testAttemptsExpiry},
	}
}

func attemptKey(kind byte, n int) storage.AttemptKey {
	var k storage.AttemptKey
	k[0] = kind
	k[1], k[2] = byte(n>>8), byte(n)
	k[16] = 0xff
	return k
}

func testAttemptsWindow(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := now()
	user, addr := attemptKey('u', 1), attemptKey('a', 1)
	adds := []storage.AttemptAdd{{Key: user, Window: time.Minute, Limit: 3}, {Key: addr, Window: 10 * time.Minute, Limit: 100}}
	for i := 1; i <= 3; i++ {
		got, err := s.AddAttempts(ctx, t0.Add(time.Duration(i)*time.Second), adds)
		if err != nil {
			t.Fatalf("AddAttempts: %v", err)
		}
		if len(got) != 2 || got[0].Key != user || got[1].Key != addr {
			t.Fatalf("AddAttempts = %+v; want the two counters in order", got)
		}
		if got[0].Count != i || got[1].Count != i || got[0].Limit != 3 || got[1].Limit != 100 {
			t.Fatalf("add %d: counts %d, %d limits %d, %d; want %d, %d and 3, 100", i, got[0].Count, got[1].Count, got[0].Limit, got[1].Limit, i, i)
		}
		// The window starts at the first add and does not slide.
		if want := t0.Add(time.Second + time.Minute); !got[0].WindowEnd.Equal(want) {
			t.Fatalf("add %d: window end %v; want %v", i, got[0].WindowEnd, want)
		}
	}
	cs, err := s.GetAttempts(ctx, t0.Add(30*time.Second), user, addr, attemptKey('u', 99))
	if err != nil || len(cs) != 2 {
		t.Fatalf("GetAttempts = %+v, %v; want the two open counters", cs, err)
	}
	// After the user window ends, its counter starts over; the address
	// counter, with its longer window, keeps counting.
	got, err := s.AddAttempts(ctx, t0.Add(time.Second+time.Minute), adds)
	if err != nil {
		t.Fatal(err)
	}
	if got[0].Count != 1 || got[1].Count != 4 {
		t.Fatalf("after the user window: counts %d, %d; want 1, 4", got[0].Count, got[1].Count)
	}
	if want := t0.Add(time.Second + 2*time.Minute); !got[0].WindowEnd.Equal(want) {
		t.Fatalf("new window ends %v; want %v", got[0].WindowEnd, want)
	}
	if cs, _ := s.GetAttempts(ctx, t0.Add(time.Hour), user, addr); len(cs) != 0 {
		t.Fatalf("GetAttempts after every window = %+v; want none", cs)
	}
}

func testAttemptsRemove(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := now()
	k := attemptKey('p', 2)
	add := []storage.AttemptAdd{{Key: k, Window: time.Minute, Limit: 5}}
	var last []storage.AttemptCount
	for range 3 {
		var err error
		if last, err = s.AddAttempts(ctx, t0, add); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.RemoveAttempts(ctx, last); err != nil {
		t.Fatalf("RemoveAttempts: %v", err)
	}
	if cs, _ := s.GetAttempts(ctx, t0, k); len(cs) != 1 || cs[0].Count != 2 {
		t.Fatalf("after one take-back: %+v; want count 2", cs)
	}
	// A take-back for an older window leaves a new window alone.
	stale := last
	got, err := s.AddAttempts(ctx, t0.Add(time.Minute), add)
	if err != nil || got[0].Count != 1 {
		t.Fatalf("add in a new window = %+v, %v; want count 1", got, err)
	}
	if err := s.RemoveAttempts(ctx, stale); err != nil {
		t.Fatal(err)
	}
	if cs, _ := s.GetAttempts(ctx, t0.Add(time.Minute), k); len(cs) != 1 || cs[0].Count != 1 {
		t.Fatalf("after a stale take-back: %+v; want count 1", cs)
	}
	// No counter goes below zero.
	for range 3 {
		if err := s.RemoveAttempts(ctx, got); err != nil {
			t.Fatal(err)
		}
	}
	if cs, _ := s.GetAttempts(ctx, t0.Add(time.Minute), k); len(cs) != 1 || cs[0].Count != 0 {
		t.Fatalf("after more take-backs than adds: %+v; want count 0", cs)
	}
}

// testAttemptsConcurrent: concurrent adds to shared counters each see a
// distinct count, so a limit of N admits exactly N (design D5).
func testAttemptsConcurrent(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := now()
	const n = 50
	user, addr := attemptKey('u', 3), attemptKey('a', 3)
	counts := make([][2]int, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			// Each caller adds its own pair counter with the shared ones,
			// and half of them take their attempt back, as a refused or
			// successful login does.
			adds := []storage.AttemptAdd{{Key: addr, Window: time.Minute, Limit: 10}, {Key: attemptKey('p', 100+i), Window: time.Minute, Limit: 10}, {Key: user, Window: time.Minute, Limit: 10}}
			got, err := s.AddAttempts(ctx, t0, adds)
			if err != nil {
				errs <- err
				return
			}
			counts[i] = [2]int{got[0].Count, got[2].Count}
			if i%2 == 0 {
				if err := s.RemoveAttempts(ctx, got); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent adds: %v", err)
	}
	// Take-backs interleave with adds, so counts may repeat; but the
	// counts seen never exceed the adds, and what is left is exactly the
	// attempts not taken back.
	for i, c := range counts {
		if c[0] < 1 || c[0] > n || c[1] < 1 || c[1] > n {
			t.Fatalf("caller %d saw counts %v; want within 1..%d", i, c, n)
		}
	}
	cs, err := s.GetAttempts(ctx, t0, addr, user)
	if err != nil || len(cs) != 2 {
		t.Fatalf("GetAttempts = %+v, %v", cs, err)
	}
	for _, c := range cs {
		if c.Count != n/2 {
			t.Errorf("counter %x: %d after %d adds and %d take-backs; want %d", c.Key[:1], c.Count, n, n/2, n/2)
		}
	}

	// Without take-backs, the counts seen are exactly 1..n.
	k := attemptKey('u', 4)
	seen := make([]int, n)
	for i := range n {
		wg.Go(func() {
			got, err := s.AddAttempts(ctx, t0, []storage.AttemptAdd{{Key: k, Window: time.Minute, Limit: 10}})
			if err == nil {
				seen[i] = got[0].Count
			}
		})
	}
	wg.Wait()
	slices.Sort(seen)
	for i, c := range seen {
		if c != i+1 {
			t.Fatalf("concurrent adds saw counts %v; want each of 1..%d once", seen, n)
		}
	}
}

func testAttemptsBlockedClear(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := now()
	blocked, open := attemptKey('u', 5), attemptKey('u', 6)
	for i := range 3 {
		if _, err := s.AddAttempts(ctx, t0, []storage.AttemptAdd{{Key: blocked, Window: time.Minute, Limit: 3}}); err != nil {
			t.Fatal(err)
		}
		if i < 2 {
			if _, err := s.AddAttempts(ctx, t0, []storage.AttemptAdd{{Key: open, Window: time.Minute, Limit: 3}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	got, err := s.ListBlockedAttempts(ctx, t0, 10)
	if err != nil || len(got) != 1 || got[0].Key != blocked || got[0].Count != 3 || got[0].Limit != 3 {
		t.Fatalf("ListBlockedAttempts = %+v, %v; want only the counter at its limit", got, err)
	}
	if got, _ := s.ListBlockedAttempts(ctx, t0.Add(time.Minute), 10); len(got) != 0 {
		t.Fatalf("ListBlockedAttempts after the window = %+v; want none", got)
	}
	n, err := s.ClearAttempts(ctx, blocked, attemptKey('u', 77))
	if err != nil || n != 1 {
		t.Fatalf("ClearAttempts = %d, %v; want 1", n, err)
	}
	if got, _ := s.ListBlockedAttempts(ctx, t0, 10); len(got) != 0 {
		t.Fatalf("ListBlockedAttempts after clearing = %+v; want none", got)
	}
	got, err = s.AddAttempts(ctx, t0, []storage.AttemptAdd{{Key: blocked, Window: time.Minute, Limit: 3}})
	if err != nil || got[0].Count != 1 {
		t.Fatalf("add after clearing = %+v, %v; want count 1", got, err)
	}
}

func testAttemptsExpiry(t *testing.T, s storage.Store) {
	ctx := context.Background()
	t0 := now()
	for i := range 5 {
		w := time.Minute
		if i >= 3 {
			w = time.Hour
		}
		if _, err := s.AddAttempts(ctx, t0, []storage.AttemptAdd{{Key: attemptKey('a', 10+i), Window: w, Limit: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.DeleteExpiredAttempts(ctx, t0.Add(2*time.Minute), 2)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpiredAttempts(limit 2) = %d, %v; want 2", n, err)
	}
	n, err = s.DeleteExpiredAttempts(ctx, t0.Add(2*time.Minute), 10)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpiredAttempts = %d, %v; want the 1 ended counter left", n, err)
	}
	if got, _ := s.GetAttempts(ctx, t0, attemptKey('a', 13), attemptKey('a', 14)); len(got) != 2 {
		t.Fatalf("open counters after the sweep: %+v; want both kept", got)
	}
}
