package main

import (
	"os"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"sync"
	"sync/atomic"
)

// A heapFloor keeps the garbage collector's heap goal at or above a floor
// (--gc-min-heap-mib) without raising it above the runtime's own goal when
// the live heap is large.
//
// Gatehouse's live heap is small (4-6 MiB under token load) and its
// requests allocate fast (about 20 KiB per token), so with the default
// GOGC=100 the collector ran 60-95 times a second under client_credentials
// load; with the floor, client_credentials and refresh spend about a fifth
// less CPU per token (README, Performance). The goal is the live heap
// times (1 + GOGC/100); after every collection the floor sets GOGC for the
// next cycle so that the goal is
//
//	max(floor, live * 2)
//
// Where the live heap is at least half the floor (password logins: every
// hash in flight holds its argon2id memory) the goal is the default one, so
// the floor adds no heap there (pages that a small-heap phase left behind
// may stay resident a while); where it is small, the heap may grow to the
// floor between collections. Setting GOGC in the environment turns
// the floor off: the operator's choice stands. GOMEMLIMIT still applies.
type heapFloor struct {
	floor  uint64
	sample []rtmetrics.Sample
	// setGCPercent is debug.SetGCPercent; tests record instead.
	setGCPercent func(int) int
	// stopped ends the re-arming; only tests stop a floor.
	stopped atomic.Bool
}

// heapFloorOnce starts the floor once per process: GOGC is process-wide,
// and tests run several servers in one process.
var heapFloorOnce sync.Once

// startHeapFloor keeps the heap goal at or above floorMiB MiB for the rest
// of the process; 0, or GOGC set in the environment, leaves the runtime's
// default.
func startHeapFloor(floorMiB uint) {
	if _, set := os.LookupEnv("GOGC"); set || floorMiB == 0 {
		return
	}
	heapFloorOnce.Do(func() {
		newHeapFloor(uint64(floorMiB)<<20, debug.SetGCPercent).adjust()
	})
}

func newHeapFloor(floor uint64, setGCPercent func(int) int) *heapFloor {
	return &heapFloor{
		floor:        floor,
		sample:       []rtmetrics.Sample{{Name: "/gc/heap/live:bytes"}},
		setGCPercent: setGCPercent,
	}
}

// adjust sets GOGC from the live heap the last collection marked, then
// arranges to run again after the next collection: the cleanup of an
// object nothing references runs once a cycle has found it unreachable.
// Exactly one sentinel is armed at a time, so adjust never runs
// concurrently with itself.
func (h *heapFloor) adjust() {
	rtmetrics.Read(h.sample)
	if v := h.sample[0].Value; v.Kind() == rtmetrics.KindUint64 {
		h.setGCPercent(gcPercentFor(v.Uint64(), h.floor))
	}
	if h.stopped.Load() {
		return
	}
	runtime.AddCleanup(new(gcSentinel), func(h *heapFloor) { h.adjust() }, h)
}

// gcSentinel is the unreferenced object whose cleanup marks a collection;
// it holds a pointer so that it is never batched by the tiny allocator,
// whose objects may never be cleaned up.
type gcSentinel struct{ _ *int }

// maxGCMinHeapMiB bounds --gc-min-heap-mib, so the floor in bytes, times
// 100 in gcPercentFor, stays far from overflowing.
const maxGCMinHeapMiB = 64 << 10

// maxGCPercent bounds GOGC while the live heap is tiny (at start-up).
const maxGCPercent = 10000

// gcPercentFor is the GOGC that puts the heap goal, live * (1 +
// GOGC/100), at max(floor, live * 2).
func gcPercentFor(live, floor uint64) int {
	if live == 0 || live >= floor/2 {
		return 100
	}
	p := floor*100/live - 100
	return int(min(p, maxGCPercent))
}
