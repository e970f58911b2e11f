package main

import (
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestGCPercentForKeepsTheGoalAtTheFloor(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		live, floor uint64
		want        int
	}{
		{live: 4 * mib, floor: 32 * mib, want: 700},  // goal 4 * 8 = 32 MiB
		{live: 5 * mib, floor: 32 * mib, want: 540},  // goal 5 * 6.4 = 32 MiB
		{live: 8 * mib, floor: 32 * mib, want: 300},  // goal 8 * 4 = 32 MiB
		{live: 16 * mib, floor: 32 * mib, want: 100}, // live * 2 is the floor: Go's default
		{live: 28 * mib, floor: 32 * mib, want: 100}, // password load: live * 2 is above the floor
		{live: 1024, floor: 32 * mib, want: 10000},   // start-up: bounded
		{live: 0, floor: 32 * mib, want: 100},        // nothing marked yet
		{live: 64 * mib, floor: 0, want: 100},        // no floor
	} {
		if got := gcPercentFor(tc.live, tc.floor); got != tc.want {
			t.Errorf("gcPercentFor(%d, %d) = %d, want %d", tc.live, tc.floor, got, tc.want)
		}
		if tc.want > 100 && tc.want < maxGCPercent {
			// The goal the runtime computes from it is the floor, to within
			// one percent's rounding.
			goal := tc.live * uint64(100+tc.want) / 100
			if goal > tc.floor || tc.floor-goal > tc.live/100 {
				t.Errorf("live %d at GOGC %d: goal %d, want %d", tc.live, tc.want, goal, tc.floor)
			}
		}
	}
}

// TestHeapFloorAdjustsAfterEveryCollection checks that the floor re-arms
// itself: each forced collection sets GOGC again, from that cycle's live
// heap. The recorder stands in for debug.SetGCPercent, so the process's
// collector (and other tests' servers) are untouched.
func TestHeapFloorAdjustsAfterEveryCollection(t *testing.T) {
	var mu sync.Mutex
	var set []int
	h := newHeapFloor(1<<40, func(p int) int {
		mu.Lock()
		defer mu.Unlock()
		set = append(set, p)
		return 100
	})
	h.adjust()
	defer h.stopped.Store(true)
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(set)
	}
	for cycle := 2; cycle <= 4; cycle++ {
		deadline := time.Now().Add(5 * time.Second)
		for count() < cycle && time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(time.Millisecond)
		}
		if count() < cycle {
			t.Fatalf("after forced collections GOGC was set %d times, want %d", count(), cycle)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range set {
		// A 1 TiB floor is far above any test's live heap.
		if p != maxGCPercent {
			t.Fatalf("GOGC set to %d, want %d (the bound) for a tiny live heap", p, maxGCPercent)
		}
	}
}
