package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// lookupFunc resolves a host name; tests inject one so that no real
// resolver or network is touched.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

// dialFunc opens a connection; tests inject one to prove none is opened.
type dialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// errNotLoopback refuses a target that might leave this machine.
var errNotLoopback = errors.New("target is not a loopback address; pass --allow-non-loopback to load it anyway")

// resolvedTarget is a checked token endpoint: its URL and the addresses
// it resolved to when checked. Connections go to those addresses only, so
// a name cannot resolve to loopback for the check and elsewhere later.
type resolvedTarget struct {
	tokenURL string
	host     string // host:port as dialled by http.Transport
	addrs    []netip.AddrPort
}

// resolveTarget parses base, resolves its host and, unless allowRemote,
// refuses it unless every address is loopback (127.0.0.0/8 or ::1). It
// runs before any connection is opened.
func resolveTarget(ctx context.Context, lookup lookupFunc, base, tokenPath string, allowRemote bool) (*resolvedTarget, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("--url %q: %w", base, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("--url %q: want http(s)://host[:port][/path]", base)
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, err := net.LookupPort("tcp", port)
	if err != nil {
		return nil, fmt.Errorf("--url %q: port: %w", base, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		if ips, err = lookup(ctx, host); err != nil {
			return nil, fmt.Errorf("--url %q: resolve %s: %w", base, host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("--url %q: %s resolves to no address", base, host)
		}
	}
	t := &resolvedTarget{tokenURL: u.JoinPath(tokenPath).String(), host: net.JoinHostPort(host, port)}
	for _, ip := range ips {
		ip = ip.Unmap()
		if !ip.IsLoopback() && !allowRemote {
			return nil, fmt.Errorf("--url %q: %s resolves to %s: %w", base, host, ip, errNotLoopback)
		}
		t.addrs = append(t.addrs, netip.AddrPortFrom(ip, uint16(p)))
	}
	return t, nil
}

// pinnedDial dials only the target's checked addresses, trying each in
// turn, and refuses any other host the transport asks for.
func (t *resolvedTarget) pinnedDial(d dialFunc) dialFunc {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr != t.host {
			return nil, fmt.Errorf("dial %s: only %s may be dialled", addr, t.host)
		}
		var errs []error
		for _, ap := range t.addrs {
			c, err := d(ctx, network, ap.String())
			if err == nil {
				return c, nil
			}
			errs = append(errs, err)
		}
		return nil, errors.Join(errs...)
	}
}

// newTransport returns a keep-alive transport for n workers: n idle and n
// total connections to the one host, no HTTP/2 (one request per
// connection at a time, as the workers send), no compression. opened
// counts the connections it dials.
func newTransport(n int, timeout time.Duration, d dialFunc) (*http.Transport, *atomic.Int64) {
	opened := new(atomic.Int64)
	return &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d(ctx, network, addr)
			if err == nil {
				opened.Add(1)
			}
			return c, err
		},
		MaxIdleConns:          n,
		MaxIdleConnsPerHost:   n,
		MaxConnsPerHost:       n,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}, opened
}

func defaultDial() dialFunc {
	return (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext
}

// classifyTransport names a transport error for counting.
func classifyTransport(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other"
}
