package main

import (
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"
)

func TestPercentiles(t *testing.T) {
	ms := func(v ...int64) []int64 {
		for i := range v {
			v[i] *= 1e6
		}
		return v
	}
	for _, tc := range []struct {
		in   []int64
		want latency
	}{
		{nil, latency{}},
		{ms(5), latency{5, 5, 5, 5, 5}},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1), latency{P50: 5, P90: 9, P99: 10, Max: 10, Mean: 5.5}},
	} {
		if got := percentiles(tc.in); got != tc.want {
			t.Errorf("percentiles(%v) = %+v; want %+v", tc.in, got, tc.want)
		}
	}
	// 1..1000 ms: nearest rank gives exactly the p-th value.
	d := make([]int64, 1000)
	for i := range d {
		d[len(d)-1-i] = int64(i+1) * 1e6
	}
	if got := percentiles(d); got.P50 != 500 || got.P90 != 900 || got.P99 != 990 || got.Max != 1000 {
		t.Errorf("percentiles(1..1000ms) = %+v; want 500, 900, 990, 1000", got)
	}
}

func TestSummariseCountsFailuresApart(t *testing.T) {
	p := &phase{limit: 4, lat: []int64{2e6, -1e6, 4e6, -1}, grants: []grant{0, 0, 2, 2}}
	p.issued.Store(7) // three workers claimed past the limit
	ta := newTally()
	ta.add(outcome{status: 200})
	ta.add(outcome{status: 503, detail: "busy"})
	tb := newTally()
	tb.add(outcome{status: 200})
	tb.add(outcome{transport: "timeout", detail: "deadline"})
	r := summarise(p, []*tally{ta, tb}, time.Second)
	if r.Requests != 4 || r.OK != 2 || r.Errors != 2 || r.Status["200"] != 2 || r.Status["503"] != 1 || r.TransportErrors["timeout"] != 1 {
		t.Errorf("summarise = %+v; want 4 requests, 2 ok, one 503, one timeout", r)
	}
	if r.Latency.P50 != 2 || r.Latency.Max != 4 || r.OKPerSecond != 2 {
		t.Errorf("latency %+v ok/s %v; want p50 2ms max 4ms over successes only, 2 ok/s", r.Latency, r.OKPerSecond)
	}
	if r.Grants["refresh"].Requests != 2 || r.Grants["refresh"].OK != 1 {
		t.Errorf("grants %v; want refresh 2 requests 1 ok", r.Grants)
	}
}

func TestProcSample(t *testing.T) {
	fsys := fstest.MapFS{
		// A command name with spaces and parentheses must not shift fields.
		"42/stat":   {Data: []byte("42 (gate house) (x)) S 1 42 42 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n")},
		"42/status": {Data: []byte("Name:\tgatehouse\nVmPeak:\t  9999 kB\nVmRSS:\t   51234 kB\nThreads:\t9\n")},
		"7/stat":    {Data: []byte("7 (short) S 1")},
		"7/status":  {Data: []byte("")},
		"8/stat":    {Data: []byte("8 (x) S 1 8 8 0 -1 0 0 0 0 0 10 20 0 0\n")},
		"8/status":  {Data: []byte("Name: x\n")},
	}
	p := procReader{fsys: fsys}
	s := p.sample("42")
	if s.Err != nil || s.Ticks != 1234+567 || s.RSSKiB != 51234 {
		t.Errorf("sample(42) = %+v; want ticks 1801, rss 51234", s)
	}
	for _, pid := range []string{"7", "8", "9"} {
		if s := p.sample(pid); s.Err == nil {
			t.Errorf("sample(%s) = %+v; want an error", pid, s)
		}
	}
	before, after := &procSample{PID: "42", Ticks: 100, RSSKiB: 1000}, &procSample{PID: "42", Ticks: 350, RSSKiB: 2000}
	d := delta(before, after, 1000)
	if d.CPUSeconds != 2.5 || d.CPUPerRequestMicros != 2500 || d.RSSAfterKiB != 2000 {
		t.Errorf("delta = %+v; want 2.5s, 2500µs per token", d)
	}
}

func TestProcSelf(t *testing.T) {
	s := osProc().sample("self")
	if s.Err != nil {
		t.Skipf("no /proc here: %v", s.Err)
	}
	if s.RSSKiB == 0 {
		t.Errorf("sample(self) = %+v; want a resident size", s)
	}
}

// syncBuffer is a strings.Builder safe for a writer and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
