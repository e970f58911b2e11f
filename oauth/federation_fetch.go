package oauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// maxCachedIssuers bounds the verifier cache; past it the cache starts
// over (issuers are few; deleted ones leave entries behind).
const maxCachedIssuers = 1024

// issuerVerifiers holds one verifier.Verifier per trusted issuer, so that
// each issuer has its own key cache, rate-limited refetch and in-flight
// fetch: a slow or failing issuer holds up only its own requests. A
// verifier is rebuilt when the fields it was built from change.
type issuerVerifiers struct {
	// tokenURL and issuer are Gatehouse's: the default audiences.
	issuer, tokenURL string
	leeway           time.Duration
	timeout          time.Duration
	transport        http.RoundTripper
	now              func() time.Time
	logger           *slog.Logger

	mu sync.Mutex
	m  map[string]cachedVerifier // by trusted issuer id
}

type cachedVerifier struct {
	key string
	v   *verifier.Verifier
}

// verifierKey is what a verifier is built from; any change rebuilds it.
func verifierKey(rec storage.TrustedIssuer) string {
	b, _ := json.Marshal([]any{rec.Issuer, rec.JWKSURI, rec.Audiences, rec.Algorithms, rec.RolesClaim, rec.RoleMap})
	return string(b)
}

// get returns the verifier for rec, building it when rec is new or changed.
func (iv *issuerVerifiers) get(rec storage.TrustedIssuer) (*verifier.Verifier, error) {
	key := verifierKey(rec)
	iv.mu.Lock()
	defer iv.mu.Unlock()
	if c, ok := iv.m[rec.ID]; ok && c.key == key {
		return c.v, nil
	}
	v, err := iv.build(rec)
	if err != nil {
		return nil, err
	}
	if len(iv.m) >= maxCachedIssuers {
		clear(iv.m)
	}
	iv.m[rec.ID] = cachedVerifier{key: key, v: v}
	return v, nil
}

func (iv *issuerVerifiers) build(rec storage.TrustedIssuer) (*verifier.Verifier, error) {
	auds := rec.Audiences
	if len(auds) == 0 {
		auds = []string{iv.issuer, iv.tokenURL}
	}
	var roles verifier.ClaimPath
	if rec.RolesClaim != "" {
		var err error
		if roles, err = verifier.ParseClaimPath(rec.RolesClaim); err != nil {
			return nil, fmt.Errorf("roles claim: %w", err)
		}
	}
	client, err := fetchClient(rec, iv.transport, iv.timeout)
	if err != nil {
		return nil, err
	}
	return verifier.New(verifier.Config{
		Issuer:      rec.Issuer,
		Audiences:   auds,
		JWKSURI:     rec.JWKSURI,
		Algorithms:  rec.Algorithms,
		Types:       externalTypes(),
		RolesClaim:  roles,
		RoleMap:     rec.RoleMap,
		ScopeClaims: []string{"scope", "scp"},
		Leeway:      iv.leeway,
		HTTPClient:  client,
		Now:         iv.now,
		Logger:      iv.logger,
	})
}

// fetchClient is the HTTP client for one trusted issuer's discovery
// document and JWKS (design D14, "no new way in"): it reaches only the
// hosts of the issuer URL and of the explicit JWKS URI, over https (http
// only to a loopback host), follows at most three redirects and only
// within those hosts, and gives up after timeout. The verifier bounds the
// body (1 MiB) and the number of keys.
func fetchClient(rec storage.TrustedIssuer, base http.RoundTripper, timeout time.Duration) (*http.Client, error) {
	var hosts []string
	for _, raw := range []string{rec.Issuer, rec.JWKSURI} {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil || !FetchableURL(u) {
			return nil, fmt.Errorf("%q is not an https URL (or http on a loopback host)", raw)
		}
		hosts = append(hosts, u.Host)
	}
	return &http.Client{
		Transport: fetchGuard{base: base, hosts: hosts},
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}, nil
}

// fetchGuard refuses every request outside its hosts, or over plain http
// to a host that is not loopback. It sees every request the client makes,
// redirects included.
type fetchGuard struct {
	base  http.RoundTripper
	hosts []string
}

func (g fetchGuard) RoundTrip(r *http.Request) (*http.Response, error) {
	if !FetchableURL(r.URL) || !slices.Contains(g.hosts, r.URL.Host) {
		if r.Body != nil {
			r.Body.Close()
		}
		return nil, fmt.Errorf("federation: fetching %s://%s is not allowed: only the trusted issuer's own hosts, over https", r.URL.Scheme, r.URL.Host)
	}
	return g.base.RoundTrip(r)
}

// FetchableURL reports whether Gatehouse may fetch u for a trusted issuer:
// https with a host and no user information, or http to a loopback host
// (127.0.0.0/8, ::1, localhost), for development and tests.
func FetchableURL(u *url.URL) bool {
	if u.Host == "" || u.User != nil {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		return IsLoopbackHost(u.Hostname())
	}
	return false
}

// IsLoopbackHost reports whether host is "localhost" or a loopback IP.
func IsLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultFederationTransport is the transport trusted issuers are fetched
// with unless Config.FederationTransport replaces it: its own connection
// pool, bounded dial, TLS and header times, no proxy.
func defaultFederationTransport(timeout time.Duration) http.RoundTripper {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   2,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}
