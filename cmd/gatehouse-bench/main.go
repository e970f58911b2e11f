// Command gatehouse-bench load-tests a running Gatehouse token endpoint
// (issue 7) and a minimal baseline token server, so that Gatehouse's
// throughput can be stated against what ES256 signing alone allows.
//
// Every run is bounded by both --duration and --requests, targets must
// resolve only to loopback addresses unless --allow-non-loopback, and
// latencies are logged per request into memory allocated before the clock
// starts, so percentiles are exact.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gatehouse-bench:", err)
		}
		os.Exit(1)
	}
}

// deps are the tool's ties to the machine; tests replace them.
type deps struct {
	lookup lookupFunc
	dial   dialFunc
	proc   procReader
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	return runWith(ctx, args, getenv, stdout, stderr, deps{lookup: systemLookup, dial: defaultDial(), proc: osProc()})
}

// runWith is the whole program with its environment passed in.
func runWith(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, d deps) error {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.BaselineServe != "" {
		return runBaselineServe(ctx, cfg, d, stdout, stderr)
	}
	// Check everything before the first connection: targets, then pids.
	var target, base *resolvedTarget
	if cfg.Target == targetURL {
		if target, err = resolveTarget(ctx, d.lookup, cfg.URL, cfg.TokenPath, cfg.AllowNonLoopback); err != nil {
			return err
		}
	}
	if cfg.BaselineURL != "" {
		if base, err = resolveTarget(ctx, d.lookup, cfg.BaselineURL, cfg.TokenPath, cfg.AllowNonLoopback); err != nil {
			return err
		}
	}
	for _, pid := range []int{cfg.ServerPID, cfg.BaselinePID} {
		if pid > 0 {
			if s := d.proc.sample(strconv.Itoa(pid)); s.Err != nil {
				return fmt.Errorf("process %d: %w", pid, s.Err)
			}
		}
	}

	spec := func(label string, t *resolvedTarget, id, secret string, pid int) loadSpec {
		return loadSpec{
			label:       label,
			scenario:    cfg.Scenario,
			e:           newEndpoint(t.tokenURL, id, secret, cfg.Username, cfg.Password, cfg.Scope, cfg.Audience),
			connections: cfg.Connections,
			duration:    cfg.Duration,
			requests:    cfg.Requests,
			warmup:      cfg.Warmup,
			timeout:     cfg.Timeout,
			weights:     cfg.weights(),
			serverPID:   pid,
		}
	}
	// runBaseline loads the baseline at base, or in this process.
	runBaseline := func() (*result, error) {
		if base != nil {
			return runLoad(ctx, spec("baseline", base, baselineClientID, baselineSecret, cfg.BaselinePID), base.pinnedDial(d.dial), d.proc)
		}
		return runInProcessBaseline(ctx, func(t *resolvedTarget) (*result, error) {
			return runLoad(ctx, spec("baseline (in-process)", t, baselineClientID, baselineSecret, 0), t.pinnedDial(d.dial), d.proc)
		}, d.lookup, cfg.TokenPath, stderr)
	}

	switch {
	case cfg.Compare:
		rb, err := runBaseline()
		if err != nil {
			return fmt.Errorf("baseline: %w", err)
		}
		rt, err := runLoad(ctx, spec("target", target, cfg.ClientID, cfg.ClientSecret, cfg.ServerPID), target.pinnedDial(d.dial), d.proc)
		if err != nil {
			return fmt.Errorf("target: %w", err)
		}
		if err := writeComparison(stdout, cfg.JSON, rb, rt); err != nil {
			return err
		}
		return writeJSONFile(cfg.JSONOut, newComparison(rb, rt))
	case cfg.Target == targetBaseline:
		r, err := runBaseline()
		if err != nil {
			return err
		}
		if err := writeResult(stdout, cfg.JSON, r); err != nil {
			return err
		}
		return writeJSONFile(cfg.JSONOut, r)
	default:
		r, err := runLoad(ctx, spec("target", target, cfg.ClientID, cfg.ClientSecret, cfg.ServerPID), target.pinnedDial(d.dial), d.proc)
		if err != nil {
			return err
		}
		if err := writeResult(stdout, cfg.JSON, r); err != nil {
			return err
		}
		return writeJSONFile(cfg.JSONOut, r)
	}
}

// inProcessNote says what an in-process baseline's numbers mean.
const inProcessNote = "the baseline server ran inside the load generator's process, sharing its CPU and Go runtime; " +
	"for published numbers run it with --baseline-serve and load it out of process like the target"

// runInProcessBaseline serves the baseline on an ephemeral loopback port
// for the duration of load.
func runInProcessBaseline(ctx context.Context, load func(*resolvedTarget) (*result, error), lookup lookupFunc, tokenPath string, stderr io.Writer) (*result, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- serveBaseline(sctx, ln, stderr) }()
	t, err := resolveTarget(ctx, lookup, "http://"+ln.Addr().String(), tokenPath, false)
	var r *result
	if err == nil {
		r, err = load(t)
	}
	stop()
	if serr := <-done; err == nil {
		err = serr
	}
	if r != nil {
		r.Note = inProcessNote
	}
	return r, err
}

// runBaselineServe runs only the baseline server, as its own process, and
// prints where it is and its credentials as key=value lines.
func runBaselineServe(ctx context.Context, cfg *config, d deps, stdout, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(cfg.BaselineServe)
	if err != nil {
		return fmt.Errorf("--baseline-serve %q: %w", cfg.BaselineServe, err)
	}
	if !cfg.AllowNonLoopback {
		ips := []netip.Addr{}
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = append(ips, ip)
		} else if host != "" {
			if ips, err = d.lookup(ctx, host); err != nil {
				return fmt.Errorf("--baseline-serve %q: %w", cfg.BaselineServe, err)
			}
		}
		if len(ips) == 0 {
			return fmt.Errorf("--baseline-serve %q: listens on every interface: %w", cfg.BaselineServe, errNotLoopback)
		}
		for _, ip := range ips {
			if !ip.Unmap().IsLoopback() {
				return fmt.Errorf("--baseline-serve %q: %s: %w", cfg.BaselineServe, ip, errNotLoopback)
			}
		}
	}
	ln, err := net.Listen("tcp", cfg.BaselineServe)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "# gatehouse-bench baseline: client_credentials only; the secret is fixed and public.\nurl=http://%s\nclient_id=%s\nclient_secret=%s\npid=%d\n",
		ln.Addr(), baselineClientID, baselineSecret, os.Getpid())
	return serveBaseline(ctx, ln, stderr)
}
