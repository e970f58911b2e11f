package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadSpec is one bounded run against one endpoint.
type loadSpec struct {
	label       string // "target" or "baseline"
	scenario    string
	e           *endpoint
	connections int
	duration    time.Duration
	requests    int
	warmup      time.Duration
	timeout     time.Duration
	weights     mixWeights
	serverPID   int // 0: no server sampling
}

// phase is one stretch of load. Workers claim request numbers from issued;
// a claim past limit, or the deadline, ends a worker. Each claimed number
// owns one slot of lat and grants, so workers never share a slot and the
// log is allocated once, before the clock starts.
type phase struct {
	limit    int64
	deadline time.Time
	issued   atomic.Int64
	lat      []int64 // nanoseconds; negative for a failed request. nil: not recorded
	grants   []grant
}

// tally counts one worker's outcomes in one phase.
type tally struct {
	status       map[int]int
	transport    map[string]int
	other        map[string]int
	samples      map[string]string // first error detail per error key
	rebootstraps int
}

func newTally() *tally {
	return &tally{status: map[int]int{}, transport: map[string]int{}, other: map[string]int{}, samples: map[string]string{}}
}

func (t *tally) add(o outcome) {
	if o.status != 0 {
		t.status[o.status]++
	}
	key := ""
	switch {
	case o.transport != "":
		t.transport[o.transport]++
		key = "transport " + o.transport
	case o.other != "":
		t.other[o.other]++
		key = o.other
	case o.status != http.StatusOK:
		key = fmt.Sprintf("status %d", o.status)
	}
	if key != "" && o.detail != "" {
		if _, seen := t.samples[key]; !seen {
			t.samples[key] = o.detail
		}
	}
}

// worker drives one keep-alive connection: it sends a request only after
// the previous response is read, so N workers keep at most N connections
// busy.
type worker struct {
	id      int
	client  *http.Client
	e       *endpoint
	rng     *rand.Rand
	cum     [numGrants]int // cumulative weights
	refresh string         // this worker's current refresh token
	buf     bytes.Buffer
}

func newWorkers(n int, client *http.Client, e *endpoint, w mixWeights) []*worker {
	var cum [numGrants]int
	sum := 0
	for g, v := range w {
		sum += v
		cum[g] = sum
	}
	ws := make([]*worker, n)
	for i := range ws {
		// Seeded per worker: a mix is reproducible in its proportions.
		ws[i] = &worker{id: i, client: client, e: e, cum: cum, rng: rand.New(rand.NewPCG(uint64(i), 0x6761746568))}
	}
	return ws
}

func (w *worker) next() grant {
	total := w.cum[numGrants-1]
	if total == w.cum[0] {
		return grantClientCredentials
	}
	x := w.rng.IntN(total)
	for g, c := range w.cum {
		if x < c {
			return grant(g)
		}
	}
	return grantClientCredentials
}

// bootstrap starts the worker's refresh chain with a password grant that
// asks for offline_access.
func (w *worker) bootstrap(ctx context.Context) error {
	o := post(ctx, w.client, w.e, w.e.bootstrapBody, &w.buf)
	if !o.ok() {
		return fmt.Errorf("password grant for a refresh token: status %d %s%s %s", o.status, o.transport, o.other, o.detail)
	}
	rt, err := refreshToken(w.buf.Bytes())
	if err != nil {
		return err
	}
	w.refresh = rt
	return nil
}

// do sends one request of kind g and, for refresh, moves the chain on.
func (w *worker) do(ctx context.Context, g grant) outcome {
	switch g {
	case grantPassword:
		return post(ctx, w.client, w.e, w.e.passwordBody, &w.buf)
	case grantRefresh:
		o := post(ctx, w.client, w.e, w.e.refreshBody(w.refresh), &w.buf)
		// Whatever happened, the old token is spent or suspect.
		w.refresh = ""
		if o.ok() {
			rt, err := refreshToken(w.buf.Bytes())
			if err != nil {
				o.other, o.detail = "no_refresh_token", err.Error()
			}
			w.refresh = rt
		}
		return o
	}
	return post(ctx, w.client, w.e, w.e.ccBody, &w.buf)
}

// run loads until the phase ends. A chain broken by a failed refresh is
// restarted with a password grant before the next refresh, outside the
// timed request.
func (w *worker) run(ctx context.Context, p *phase) *tally {
	t := newTally()
	for ctx.Err() == nil && time.Now().Before(p.deadline) {
		n := p.issued.Add(1)
		if n > p.limit {
			break
		}
		g := w.next()
		if g == grantRefresh && w.refresh == "" {
			if err := w.bootstrap(ctx); err != nil {
				t.add(outcome{other: "bootstrap_failed", detail: err.Error()})
				p.record(n, g, -1)
				continue
			}
			t.rebootstraps++
		}
		start := time.Now()
		o := w.do(ctx, g)
		d := time.Since(start)
		t.add(o)
		if !o.ok() {
			d = -max(d, 1)
		}
		p.record(n, g, d)
	}
	return t
}

func (p *phase) record(n int64, g grant, d time.Duration) {
	if p.lat != nil {
		p.lat[n-1] = int64(d)
		p.grants[n-1] = g
	}
}

// completed is how many requests the phase ran: every claim up to limit
// is carried out.
func (p *phase) completed() int {
	return int(min(p.issued.Load(), p.limit))
}

// runPhase runs every worker through the phase and returns their tallies.
func runPhase(ctx context.Context, ws []*worker, p *phase) []*tally {
	tallies := make([]*tally, len(ws))
	var wg sync.WaitGroup
	for i, w := range ws {
		wg.Go(func() { tallies[i] = w.run(ctx, p) })
	}
	wg.Wait()
	return tallies
}

// runLoad sets up workers (and their refresh chains), warms up, then runs
// the measured phase with server and client samples around it.
func runLoad(ctx context.Context, spec loadSpec, d dialFunc, proc procReader) (*result, error) {
	tr, opened := newTransport(spec.connections, spec.timeout, d)
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: spec.timeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	ws := newWorkers(spec.connections, client, spec.e, spec.weights)

	if spec.weights[grantRefresh] > 0 {
		errs := make([]error, len(ws))
		var wg sync.WaitGroup
		for i, w := range ws {
			wg.Go(func() { errs[i] = w.bootstrap(ctx) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				return nil, fmt.Errorf("refresh setup, worker %d: %w", i, err)
			}
		}
	}
	var warmed int
	if spec.warmup > 0 {
		p := &phase{limit: math.MaxInt64, deadline: time.Now().Add(spec.warmup)}
		runPhase(ctx, ws, p)
		warmed = p.completed()
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	p := &phase{
		limit:  int64(spec.requests),
		lat:    make([]int64, spec.requests),
		grants: make([]grant, spec.requests),
	}
	before := sampleProcs(proc, spec.serverPID)
	openedBefore := opened.Load()
	start := time.Now()
	p.deadline = start.Add(spec.duration)
	tallies := runPhase(ctx, ws, p)
	elapsed := time.Since(start)
	after := sampleProcs(proc, spec.serverPID)

	r := summarise(p, tallies, elapsed)
	r.Label = spec.label
	r.URL = spec.e.tokenURL
	r.Scenario = spec.scenario
	r.Connections = spec.connections
	r.DurationLimit = spec.duration.String()
	r.RequestLimit = spec.requests
	r.Warmup = spec.warmup.String()
	r.WarmupRequests = warmed
	r.Scope, r.Audience = spec.e.scope, spec.e.audience
	r.Weights = spec.weights.String()
	r.ConnectionsOpened = int(opened.Load() - openedBefore)
	switch {
	case ctx.Err() != nil:
		r.StoppedBy = "interrupted"
	case p.issued.Load() >= p.limit:
		r.StoppedBy = "requests"
	default:
		r.StoppedBy = "duration"
	}
	r.Server, r.Client = procStats(before, after, r.OK)
	return r, nil
}
