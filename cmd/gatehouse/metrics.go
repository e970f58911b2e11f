package main

import (
	"context"
	"runtime/debug"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
)

// metrics are Gatehouse's Prometheus metrics (design D12), on a registry of
// their own served at /metrics on the admin listener. Labels take bounded
// values only: grant types, RFC 6749 error codes, token types, route
// templates, methods and status codes; never a client id or a user.
type metrics struct {
	reg            *prometheus.Registry
	tokenRequests  *prometheus.CounterVec
	tokensIssued   *prometheus.CounterVec
	refreshReuse   prometheus.Counter
	revocations    *prometheus.CounterVec
	throttleBlocks *prometheus.CounterVec
	throttleClears *prometheus.CounterVec
	hashWait       *prometheus.HistogramVec
	httpDuration   *prometheus.HistogramVec
	janitorDeleted *prometheus.CounterVec
}

// outcomes are the error codes a token request can answer (RFC 6749
// section 5.2, RFC 8707 section 2, and temporarily_unavailable and
// server_error); any other is counted as "other".
func outcomes() []string {
	return []string{"ok", "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
		"unsupported_grant_type", "invalid_scope", "invalid_target", "temporarily_unavailable", "server_error"}
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		tokenRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_token_requests_total",
			Help: "Token endpoint requests by grant type and outcome (ok or the RFC 6749 error code).",
		}, []string{"grant_type", "outcome"}),
		tokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_tokens_issued_total",
			Help: "Tokens issued by grant type and token type (access_token, refresh_token).",
		}, []string{"grant_type", "token_type"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "gatehouse_refresh_token_reuse_detected_total",
			Help: "Refresh tokens presented again after rotation; each revoked its family.",
		}),
		revocations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_revocations_total",
			Help: "Successful RFC 7009 revocations, by token type (access_token, other).",
		}, []string{"token_type"}),
		throttleBlocks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_throttle_blocks_total",
			Help: "Login-throttle counters that reached their limit, by kind (user_address, user, user_slow, address).",
		}, []string{"kind"}),
		throttleClears: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_throttle_clears_total",
			Help: "Login-throttle counters an operator cleared, by kind.",
		}, []string{"kind"}),
		hashWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_password_hash_wait_seconds",
			Help:    "Time a password hash waited for a free hashing slot, by outcome (ok, queue_full, deadline).",
			Buckets: []float64{0.0001, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5},
		}, []string{"outcome"}),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gatehouse_http_request_duration_seconds",
			Help:    "HTTP request latency by listener, route template, method and status code.",
			Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
		}, []string{"listener", "route", "method", "code"}),
		janitorDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gatehouse_janitor_deleted_total",
			Help: "Expired entries deleted by the janitor, by kind (refresh_family, denial, authorization_code, login_session, login_attempt).",
		}, []string{"kind"}),
	}
	version, goVersion := "unknown", "unknown"
	if bi, ok := debug.ReadBuildInfo(); ok {
		version, goVersion = bi.Main.Version, bi.GoVersion
	}
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "gatehouse_build_info",
		Help:        "Always 1; the labels name the build.",
		ConstLabels: prometheus.Labels{"version": version, "go_version": goVersion},
	})
	buildInfo.Set(1)
	m.reg.MustRegister(m.tokenRequests, m.tokensIssued, m.refreshReuse, m.revocations, m.throttleBlocks,
		m.throttleClears, m.hashWait, m.httpDuration, m.janitorDeleted, buildInfo,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	// Every series exists from the start, so rates work from the first
	// scrape.
	for _, g := range oauth.GrantTypes() {
		for _, o := range outcomes() {
			m.tokenRequests.WithLabelValues(g, o)
		}
		m.tokensIssued.WithLabelValues(g, "access_token")
	}
	m.tokensIssued.WithLabelValues("password", "refresh_token")
	m.tokensIssued.WithLabelValues("refresh_token", "refresh_token")
	m.revocations.WithLabelValues("access_token")
	m.revocations.WithLabelValues("other")
	for _, k := range []byte{oauth.KindAddress, oauth.KindUserAddress, oauth.KindUser, oauth.KindSlow} {
		m.throttleBlocks.WithLabelValues(oauth.KindName(k))
		m.throttleClears.WithLabelValues(oauth.KindName(k))
	}
	for _, o := range []string{"ok", "queue_full", "deadline"} {
		m.hashWait.WithLabelValues(o)
	}
	for _, kind := range []string{"refresh_family", "denial", "authorization_code", "login_session", "login_attempt"} {
		m.janitorDeleted.WithLabelValues(kind)
	}
	return m
}

// observer returns the oauth.Observer that feeds m and names the client
// in the request's access-log line.
func (m *metrics) observer() oauth.Observer { return oauthObserver{m} }

type oauthObserver struct{ m *metrics }

func (o oauthObserver) TokenRequest(_ context.Context, grant, outcome string) {
	if !slices.Contains(outcomes(), outcome) {
		outcome = "other"
	}
	o.m.tokenRequests.WithLabelValues(grant, outcome).Inc()
}

func (o oauthObserver) TokenIssued(_ context.Context, grant, tokenType string) {
	o.m.tokensIssued.WithLabelValues(grant, tokenType).Inc()
}

func (o oauthObserver) ClientAuthenticated(ctx context.Context, clientID string) {
	if ri := requestInfoFrom(ctx); ri != nil {
		ri.setClient(clientID)
	}
}

func (o oauthObserver) RefreshReuse(context.Context) { o.m.refreshReuse.Inc() }
func (o oauthObserver) ThrottleBlocked(kind string)  { o.m.throttleBlocks.WithLabelValues(kind).Inc() }
func (o oauthObserver) ThrottleCleared(kind string)  { o.m.throttleClears.WithLabelValues(kind).Inc() }
func (o oauthObserver) PasswordHashWait(d time.Duration, outcome string) {
	o.m.hashWait.WithLabelValues(outcome).Observe(d.Seconds())
}
func (o oauthObserver) Revoked(_ context.Context, t string) { o.m.revocations.WithLabelValues(t).Inc() }

// janitorDeleted counts what the janitor deleted.
func (m *metrics) janitorDeletedFunc(kind string, n int) {
	m.janitorDeleted.WithLabelValues(kind).Add(float64(n))
}

// observeHTTP records one request's latency.
func (m *metrics) observeHTTP(listener, route, method string, code int, d time.Duration) {
	m.httpDuration.WithLabelValues(listener, route, method, strconv.Itoa(code)).Observe(d.Seconds())
}

// registerKeys exports the active signing key's age and the time until the
// next rotation, read from the ring at each scrape.
func (m *metrics) registerKeys(ring *keys.Ring, now func() time.Time) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_signing_key_age_seconds",
		Help: "Time since the active signing key started signing.",
	}, func() float64 {
		k := ring.Set().Active
		if k == nil {
			return 0
		}
		since := k.ActivatedAt
		if since.IsZero() {
			since = k.CreatedAt
		}
		return now().Sub(since).Seconds()
	}), prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "gatehouse_signing_key_next_rotation_seconds",
		Help: "Time until the active signing key is due to be replaced (negative: overdue; 0: no schedule, as in dev mode).",
	}, func() float64 {
		k := ring.Set().Active
		if k == nil || k.RetireAt.IsZero() {
			return 0
		}
		return k.RetireAt.Sub(now()).Seconds()
	}))
}

// registerPool exports PostgreSQL connection-pool statistics, read at
// each scrape.
func (m *metrics) registerPool(stat func() *pgxpool.Stat) {
	desc := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	m.reg.MustRegister(poolCollector{stat: stat, descs: []*prometheus.Desc{
		desc("gatehouse_db_pool_acquired_connections", "Connections in use."),
		desc("gatehouse_db_pool_idle_connections", "Idle connections."),
		desc("gatehouse_db_pool_connections", "Open connections."),
		desc("gatehouse_db_pool_max_connections", "Pool size limit."),
		desc("gatehouse_db_pool_acquires_total", "Connections acquired from the pool."),
		desc("gatehouse_db_pool_empty_acquires_total", "Acquires that had to wait for a connection."),
		desc("gatehouse_db_pool_acquire_wait_seconds_total", "Time spent waiting for a connection."),
	}})
}

// poolCollector reads the pool's statistics; descs are in Collect's order.
type poolCollector struct {
	stat  func() *pgxpool.Stat
	descs []*prometheus.Desc
}

func (c poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stat()
	gauge, counter := prometheus.GaugeValue, prometheus.CounterValue
	for i, v := range []struct {
		t prometheus.ValueType
		v float64
	}{
		{gauge, float64(s.AcquiredConns())},
		{gauge, float64(s.IdleConns())},
		{gauge, float64(s.TotalConns())},
		{gauge, float64(s.MaxConns())},
		{counter, float64(s.AcquireCount())},
		{counter, float64(s.EmptyAcquireCount())},
		{counter, s.AcquireDuration().Seconds()},
	} {
		ch <- prometheus.MustNewConstMetric(c.descs[i], v.t, v.v)
	}
}
