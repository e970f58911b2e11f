package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// comparison is --compare's JSON output.
type comparison struct {
	Baseline *result `json:"baseline"`
	Target   *result `json:"target"`
	// Ratio is the target's tokens per second over the baseline's.
	Ratio float64 `json:"ratio"`
}

func newComparison(b, t *result) comparison {
	c := comparison{Baseline: b, Target: t}
	if b.OKPerSecond > 0 {
		c.Ratio = t.OKPerSecond / b.OKPerSecond
	}
	return c
}

func writeResult(w io.Writer, asJSON bool, r *result) error {
	if asJSON {
		return writeJSON(w, r)
	}
	return writeText(w, r)
}

func writeComparison(w io.Writer, asJSON bool, b, t *result) error {
	c := newComparison(b, t)
	if asJSON {
		return writeJSON(w, c)
	}
	if err := writeText(w, b); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if err := writeText(w, t); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nratio       target/baseline = %.3f (%.1f / %.1f tokens/s)\n", c.Ratio, t.OKPerSecond, b.OKPerSecond)
	return err
}

// writeJSONFile writes v to name, if a name is given.
func writeJSONFile(name string, v any) error {
	if name == "" {
		return nil
	}
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := writeJSON(f, v); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", name, err)
	}
	return f.Close()
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeText prints one result for people.
func writeText(w io.Writer, r *result) error {
	var b strings.Builder
	f := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	f("%-11s %s %s\n", "target", r.Label, r.URL)
	f("%-11s %s (%s), %d connections\n", "scenario", r.Scenario, r.Weights, r.Connections)
	if r.Note != "" {
		f("%-11s %s\n", "note", r.Note)
	}
	f("%-11s %d requests or %s, whichever first; stopped by %s after %.3fs", "bounds", r.RequestLimit, r.DurationLimit, r.StoppedBy, r.ElapsedSeconds)
	if r.WarmupRequests > 0 {
		f(" (after %d warmup requests in %s)", r.WarmupRequests, r.Warmup)
	}
	f("\n%-11s %d (%d ok, %d errors)\n", "requests", r.Requests, r.OK, r.Errors)
	f("%-11s %.1f req/s (%.1f ok/s)\n", "throughput", r.RequestsPerSecond, r.OKPerSecond)
	if r.OK > 0 {
		f("%-11s %s\n", "latency", fmtLatency(r.Latency))
	} else {
		f("%-11s - (no successful request)\n", "latency")
	}
	if len(r.Grants) > 1 {
		for _, g := range sortedKeys(r.Grants) {
			s := r.Grants[g]
			f("%-11s %s: %d requests, %d ok, %s\n", "", g, s.Requests, s.OK, fmtLatency(s.Latency))
		}
	}
	f("%-11s %s\n", "status", fmtCounts(r.Status))
	if len(r.TransportErrors) > 0 {
		f("%-11s %s\n", "transport", fmtCounts(r.TransportErrors))
	}
	if len(r.OtherErrors) > 0 {
		f("%-11s %s\n", "other", fmtCounts(r.OtherErrors))
	}
	for _, k := range sortedKeys(r.ErrorSamples) {
		f("%-11s %s: %s\n", "sample", k, r.ErrorSamples[k])
	}
	if r.Rebootstraps > 0 {
		f("%-11s %d refresh chains restarted after a failure\n", "chains", r.Rebootstraps)
	}
	f("%-11s %d opened during the measured phase\n", "connections", r.ConnectionsOpened)
	if r.Server != nil {
		f("%-11s %s\n", "server", fmtProc(r.Server))
	}
	if r.Client != nil {
		f("%-11s %s\n", "loadgen", fmtProc(r.Client))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func fmtLatency(l latency) string {
	return fmt.Sprintf("p50 %.3fms  p90 %.3fms  p99 %.3fms  max %.3fms  mean %.3fms", l.P50, l.P90, l.P99, l.Max, l.Mean)
}

func fmtCounts(m map[string]int) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func fmtProc(d *procDelta) string {
	if d.Error != "" {
		return fmt.Sprintf("pid %s: %s", d.PID, d.Error)
	}
	return fmt.Sprintf("pid %s: cpu %.2fs = %.1f µs per token (USER_HZ %d); rss %.1f MiB -> %.1f MiB",
		d.PID, d.CPUSeconds, d.CPUPerRequestMicros, d.ClockTicksPerSecond, float64(d.RSSBeforeKiB)/1024, float64(d.RSSAfterKiB)/1024)
}
