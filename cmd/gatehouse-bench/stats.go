package main

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"time"
)

// result is one measured run. Its JSON form is the tool's machine-readable
// output; times are milliseconds or seconds as the field names say.
type result struct {
	Label             string                `json:"label"`
	URL               string                `json:"url"`
	Scenario          string                `json:"scenario"`
	Scope             string                `json:"scope,omitempty"`
	Audience          string                `json:"audience,omitempty"`
	Weights           string                `json:"weights"`
	Connections       int                   `json:"connections"`
	DurationLimit     string                `json:"duration_limit"`
	RequestLimit      int                   `json:"request_limit"`
	Warmup            string                `json:"warmup"`
	WarmupRequests    int                   `json:"warmup_requests"`
	StoppedBy         string                `json:"stopped_by"` // duration, requests or interrupted
	ElapsedSeconds    float64               `json:"elapsed_seconds"`
	Requests          int                   `json:"requests"` // completed: OK + Errors
	OK                int                   `json:"ok"`
	Errors            int                   `json:"errors"`
	RequestsPerSecond float64               `json:"requests_per_second"` // all completed requests
	OKPerSecond       float64               `json:"ok_per_second"`       // tokens issued
	Latency           latency               `json:"latency_ms"`          // successful requests only
	Status            map[string]int        `json:"status"`              // responses by HTTP status code
	TransportErrors   map[string]int        `json:"transport_errors"`    // requests that got no response
	OtherErrors       map[string]int        `json:"other_errors"`        // 200s without a token, failed chain restarts
	ErrorSamples      map[string]string     `json:"error_samples,omitempty"`
	Rebootstraps      int                   `json:"refresh_chain_restarts"`
	Grants            map[string]grantStats `json:"grants"`
	ConnectionsOpened int                   `json:"connections_opened"` // during the measured phase
	Server            *procDelta            `json:"server,omitempty"`
	Client            *procDelta            `json:"client,omitempty"` // this process
	Note              string                `json:"note,omitempty"`
}

// latency holds exact percentiles (nearest rank) in milliseconds.
type latency struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	Max  float64 `json:"max"`
	Mean float64 `json:"mean"`
}

// grantStats breaks a run down by grant, which matters for a mix.
type grantStats struct {
	Requests int     `json:"requests"`
	OK       int     `json:"ok"`
	Latency  latency `json:"latency_ms"`
}

// summarise merges the workers' tallies and the phase's latency log.
func summarise(p *phase, tallies []*tally, elapsed time.Duration) *result {
	n := p.completed()
	r := &result{
		ElapsedSeconds:  elapsed.Seconds(),
		Requests:        n,
		Status:          map[string]int{},
		TransportErrors: map[string]int{},
		OtherErrors:     map[string]int{},
		ErrorSamples:    map[string]string{},
		Grants:          map[string]grantStats{},
	}
	for _, t := range tallies {
		for code, c := range t.status {
			r.Status[strconv.Itoa(code)] += c
		}
		for k, c := range t.transport {
			r.TransportErrors[k] += c
		}
		for k, c := range t.other {
			r.OtherErrors[k] += c
		}
		for k, s := range t.samples {
			if _, ok := r.ErrorSamples[k]; !ok {
				r.ErrorSamples[k] = s
			}
		}
		r.Rebootstraps += t.rebootstraps
	}
	var ok [numGrants][]int64
	var all [numGrants]int
	var okAll []int64
	for i, d := range p.lat[:n] {
		g := p.grants[i]
		all[g]++
		if d > 0 {
			ok[g] = append(ok[g], d)
		}
	}
	for g := range numGrants {
		if all[g] == 0 {
			continue
		}
		okAll = append(okAll, ok[g]...)
		r.Grants[g.String()] = grantStats{Requests: all[g], OK: len(ok[g]), Latency: percentiles(ok[g])}
	}
	r.OK = len(okAll)
	r.Errors = n - r.OK
	r.Latency = percentiles(okAll)
	if s := elapsed.Seconds(); s > 0 {
		r.RequestsPerSecond = float64(n) / s
		r.OKPerSecond = float64(r.OK) / s
	}
	return r
}

// percentiles sorts d (nanoseconds) and returns nearest-rank percentiles.
func percentiles(d []int64) latency {
	if len(d) == 0 {
		return latency{}
	}
	slices.Sort(d)
	rank := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return ms(d[max(i, 0)])
	}
	var sum float64
	for _, v := range d {
		sum += float64(v)
	}
	return latency{
		P50:  rank(0.50),
		P90:  rank(0.90),
		P99:  rank(0.99),
		Max:  ms(d[len(d)-1]),
		Mean: sum / float64(len(d)) / 1e6,
	}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// sortedKeys lists a count map's keys in order, for stable text output.
func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}
