package main

import (
	"net/http"
	"net/http/pprof"
	"strings"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// PprofPrefix is where the profiles live on the admin listener when
// --pprof is set.
const PprofPrefix = "/debug/pprof/"

// adminListener lists every route of the admin listener: /metrics (no
// token: it holds counts, no secret and no identity; the admin listener
// is not for the public), pprof behind the admin API's authentication
// when enabled, and the admin API.
func adminListener(api http.Handler, m *metrics, auth func(http.Handler) http.Handler, enablePprof bool) (http.Handler, func(*http.Request) string) {
	mx := http.NewServeMux()
	mx.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	if enablePprof {
		p := http.NewServeMux()
		p.HandleFunc(PprofPrefix, pprof.Index)
		p.HandleFunc(PprofPrefix+"cmdline", pprof.Cmdline)
		p.HandleFunc(PprofPrefix+"profile", pprof.Profile)
		p.HandleFunc(PprofPrefix+"symbol", pprof.Symbol)
		p.HandleFunc(PprofPrefix+"trace", pprof.Trace)
		mx.Handle(PprofPrefix, auth(p))
	}
	mx.Handle("/", api)
	apiRoute := muxRoute(api)
	route := func(r *http.Request) string {
		switch {
		case r.URL.Path == "/metrics":
			return "/metrics"
		case enablePprof && strings.HasPrefix(r.URL.Path, PprofPrefix):
			return PprofPrefix
		}
		return apiRoute(r)
	}
	return mx, route
}
