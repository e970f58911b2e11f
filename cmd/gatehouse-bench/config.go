package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Bounds that keep every run finite and its memory known in advance: the
// latency log is preallocated at 9 bytes per request of --requests.
const (
	maxConnections = 1024
	maxRequests    = 10_000_000
	maxDuration    = time.Hour
	maxWarmup      = 10 * time.Minute
)

// Scenarios name what each request asks for.
const (
	scenarioClientCredentials = "client_credentials"
	scenarioPassword          = "password"
	scenarioRefresh           = "refresh"
	scenarioMix               = "mix"
)

// Targets name what the load is sent to.
const (
	targetURL      = "url"      // a running server at --url
	targetBaseline = "baseline" // the in-process baseline server
)

// config is the tool's one typed configuration. Every credential and the
// target have a GATEHOUSE_BENCH_* environment variable; a flag wins over
// the environment, the environment over the default.
type config struct {
	URL              string
	TokenPath        string
	Scenario         string
	Mix              mixWeights
	Target           string
	Compare          bool
	BaselineURL      string
	BaselinePID      int
	BaselineServe    string
	Connections      int
	Duration         time.Duration
	Requests         int
	Warmup           time.Duration
	Timeout          time.Duration
	ClientID         string
	ClientSecret     string
	Username         string
	Password         string
	Scope            string
	Audience         string
	JSON             bool
	JSONOut          string
	AllowNonLoopback bool
	ServerPID        int
}

// parseConfig reads flags and environment and reports every problem at
// once.
func parseConfig(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	env := func(key, def string) string {
		if v := getenv(key); v != "" {
			return v
		}
		return def
	}
	c := &config{}
	fs := flag.NewFlagSet("gatehouse-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.URL, "url", env("GATEHOUSE_BENCH_URL", "http://127.0.0.1:8080"), "base URL of the running server (env GATEHOUSE_BENCH_URL)")
	fs.StringVar(&c.TokenPath, "token-path", "/oauth2/token", "token endpoint path under --url")
	fs.StringVar(&c.Scenario, "scenario", scenarioClientCredentials, "client_credentials, password, refresh or mix")
	mix := fs.String("mix", "client_credentials=80,password=10,refresh=10", "weights for --scenario mix")
	fs.StringVar(&c.Target, "target", targetURL, "url (the server at --url) or baseline (an in-process minimal token server)")
	baseline := fs.Bool("baseline", false, "same as --target baseline")
	fs.BoolVar(&c.Compare, "compare", false, "run client_credentials against the baseline, then against --url, and print the ratio")
	fs.StringVar(&c.BaselineURL, "baseline-url", "", "with --compare: a baseline started with --baseline-serve, instead of the in-process one")
	fs.IntVar(&c.BaselinePID, "baseline-pid", 0, "with --compare --baseline-url: the baseline's process id for CPU and RSS")
	fs.StringVar(&c.BaselineServe, "baseline-serve", "", "only serve the baseline token endpoint on this address (e.g. 127.0.0.1:18282) until interrupted")
	fs.IntVar(&c.Connections, "connections", 8, "concurrent keep-alive connections, one worker each")
	fs.IntVar(&c.Connections, "c", 8, "shorthand for --connections")
	fs.DurationVar(&c.Duration, "duration", 10*time.Second, "measured phase stops after this long ...")
	fs.IntVar(&c.Requests, "requests", 200_000, "... or after this many requests, whichever comes first")
	fs.DurationVar(&c.Warmup, "warmup", 0, "unmeasured load before the measured phase")
	fs.DurationVar(&c.Timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.StringVar(&c.ClientID, "client-id", env("GATEHOUSE_BENCH_CLIENT_ID", "demo-client"), "client id (env GATEHOUSE_BENCH_CLIENT_ID)")
	fs.StringVar(&c.ClientSecret, "client-secret", getenv("GATEHOUSE_BENCH_CLIENT_SECRET"), "client secret; prefer the env GATEHOUSE_BENCH_CLIENT_SECRET")
	fs.StringVar(&c.Username, "username", env("GATEHOUSE_BENCH_USERNAME", "demo"), "resource owner for password and refresh (env GATEHOUSE_BENCH_USERNAME)")
	fs.StringVar(&c.Password, "password", getenv("GATEHOUSE_BENCH_PASSWORD"), "resource owner's password; prefer the env GATEHOUSE_BENCH_PASSWORD")
	fs.StringVar(&c.Scope, "scope", env("GATEHOUSE_BENCH_SCOPE", "read"), "scope to request, space-separated (env GATEHOUSE_BENCH_SCOPE)")
	fs.StringVar(&c.Audience, "audience", getenv("GATEHOUSE_BENCH_AUDIENCE"), "audience to request, space-separated; empty for the client's default (env GATEHOUSE_BENCH_AUDIENCE)")
	fs.BoolVar(&c.JSON, "json", false, "print one JSON result object instead of text")
	fs.StringVar(&c.JSONOut, "json-out", "", "also write the JSON result object to this file")
	fs.BoolVar(&c.AllowNonLoopback, "allow-non-loopback", false, "allow a target that does not resolve only to loopback addresses")
	fs.IntVar(&c.ServerPID, "server-pid", 0, "the target server's process id: report its CPU time per request and RSS from /proc")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	if *baseline {
		if c.Target != targetURL && c.Target != targetBaseline {
			errs = append(errs, fmt.Errorf("--baseline contradicts --target %q", c.Target))
		}
		c.Target = targetBaseline
	}
	w, err := parseMix(*mix)
	if err != nil {
		errs = append(errs, err)
	}
	c.Mix = w
	if c.BaselineServe == "" {
		errs = append(errs, c.validate()...)
	}
	return c, errors.Join(errs...)
}

func (c *config) validate() []error {
	var errs []error
	if c.Connections < 1 || c.Connections > maxConnections {
		errs = append(errs, fmt.Errorf("--connections %d: must be between 1 and %d", c.Connections, maxConnections))
	}
	if c.Duration <= 0 || c.Duration > maxDuration {
		errs = append(errs, fmt.Errorf("--duration %v: must be positive and at most %v; every run is bounded", c.Duration, maxDuration))
	}
	if c.Requests < 1 || c.Requests > maxRequests {
		errs = append(errs, fmt.Errorf("--requests %d: must be between 1 and %d; every run is bounded", c.Requests, maxRequests))
	}
	if c.Warmup < 0 || c.Warmup > maxWarmup {
		errs = append(errs, fmt.Errorf("--warmup %v: must be between 0 and %v", c.Warmup, maxWarmup))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("--timeout %v: must be positive", c.Timeout))
	}
	if !strings.HasPrefix(c.TokenPath, "/") {
		errs = append(errs, fmt.Errorf("--token-path %q: must start with /", c.TokenPath))
	}
	switch c.Scenario {
	case scenarioClientCredentials, scenarioPassword, scenarioRefresh, scenarioMix:
	default:
		errs = append(errs, fmt.Errorf("--scenario %q: want client_credentials, password, refresh or mix", c.Scenario))
	}
	switch c.Target {
	case targetURL:
	case targetBaseline:
		if c.Compare {
			errs = append(errs, errors.New("--compare runs both targets; drop --baseline/--target baseline"))
		}
	default:
		errs = append(errs, fmt.Errorf("--target %q: want url or baseline", c.Target))
	}
	if (c.Target == targetBaseline || c.Compare) && c.Scenario != scenarioClientCredentials {
		errs = append(errs, fmt.Errorf("--scenario %s: the baseline serves only client_credentials", c.Scenario))
	}
	if c.BaselineURL != "" && !c.Compare {
		errs = append(errs, errors.New("--baseline-url needs --compare; to load a baseline alone, pass it as --url"))
	}
	if c.BaselinePID != 0 && c.BaselineURL == "" {
		errs = append(errs, errors.New("--baseline-pid needs --baseline-url; the in-process baseline is this process"))
	}
	if c.ServerPID < 0 || c.BaselinePID < 0 {
		errs = append(errs, errors.New("--server-pid and --baseline-pid must be positive"))
	}
	if c.Target == targetURL && c.ClientSecret == "" {
		errs = append(errs, errors.New("--client-secret (or GATEHOUSE_BENCH_CLIENT_SECRET) is required"))
	}
	if c.Target == targetURL && c.usesUser() && (c.Username == "" || c.Password == "") {
		errs = append(errs, fmt.Errorf("--scenario %s needs --username and --password (or GATEHOUSE_BENCH_USERNAME/PASSWORD)", c.Scenario))
	}
	return errs
}

// usesUser reports whether the scenario sends password grants, including
// those that start each refresh chain.
func (c *config) usesUser() bool {
	switch c.Scenario {
	case scenarioPassword, scenarioRefresh:
		return true
	case scenarioMix:
		return c.Mix[grantPassword] > 0 || c.Mix[grantRefresh] > 0
	}
	return false
}

// weights returns the grant weights the scenario uses.
func (c *config) weights() mixWeights {
	switch c.Scenario {
	case scenarioPassword:
		return mixWeights{grantPassword: 1}
	case scenarioRefresh:
		return mixWeights{grantRefresh: 1}
	case scenarioMix:
		return c.Mix
	}
	return mixWeights{grantClientCredentials: 1}
}

// mixWeights holds a relative weight per grant.
type mixWeights [numGrants]int

// parseMix reads "client_credentials=80,password=10,refresh=10"; a grant
// left out weighs 0.
func parseMix(s string) (mixWeights, error) {
	var w mixWeights
	total := 0
	for part := range strings.SplitSeq(s, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		g, known := grantByName(name)
		n, err := strconv.Atoi(val)
		if !ok || !known || err != nil || n < 0 || n > 1_000_000 {
			return w, fmt.Errorf("--mix %q: want grant=weight pairs such as client_credentials=80,password=10,refresh=10", s)
		}
		w[g] = n
		total += n
	}
	if total == 0 {
		return w, fmt.Errorf("--mix %q: weights sum to zero", s)
	}
	return w, nil
}

func (w mixWeights) String() string {
	var parts []string
	for g, n := range w {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%s=%d", grant(g), n))
		}
	}
	return strings.Join(parts, ",")
}

const usageText = `Usage: gatehouse-bench [flags]

Drives a running Gatehouse token endpoint over HTTP with N concurrent
keep-alive connections for a bounded duration and request count, and
reports throughput, exact latency percentiles, errors by status, and with
--server-pid the server's CPU time per token and RSS.

Examples:
  GATEHOUSE_BENCH_CLIENT_SECRET=... gatehouse-bench --url http://127.0.0.1:8080 -c 8 --duration 10s
  gatehouse-bench --scenario refresh -c 64 --server-pid 12345 --json
  gatehouse-bench --baseline-serve 127.0.0.1:18282        # the baseline alone, as its own process
  gatehouse-bench --compare --baseline-url http://127.0.0.1:18282 -c 8

Targets must resolve only to loopback addresses unless --allow-non-loopback.

Flags:
`
