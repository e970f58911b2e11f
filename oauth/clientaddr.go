package oauth

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Forwarding headers a trusted proxy may set.
const (
	HeaderXForwardedFor = "X-Forwarded-For"
	HeaderForwarded     = "Forwarded" // RFC 7239
)

// clientAddr is the address the throttle counts a request under. Without
// trusted proxies it is the peer address. When the peer is in
// cfg.TrustedProxies, the forwarding header is read from right to left
// (each proxy appends the address it received from), skipping trusted
// hops, and the first untrusted hop is the client; a client cannot choose
// it, since whatever it sends stands to the left of what the proxies
// appended. When every hop is trusted, the leftmost is the client.
func (s *Server) clientAddr(r *http.Request) string {
	peer := peerAddr(r.RemoteAddr)
	if len(s.cfg.TrustedProxies) == 0 || !s.trusted(peer) {
		if len(s.cfg.TrustedProxies) == 0 && (r.Header.Get(HeaderXForwardedFor) != "" || r.Header.Get(HeaderForwarded) != "") &&
			s.forwardedIgnored.CompareAndSwap(false, true) {
			// Behind a proxy without --trusted-proxies every client shares
			// the proxy's address, and with it the per-address limit.
			s.logger.WarnContext(r.Context(), "a forwarding header was ignored: no trusted proxies are configured; if Gatehouse runs behind a proxy, set --trusted-proxies, or every client is counted under the proxy's address", "peer", peer)
		}
		return peer
	}
	var hops []string
	if s.cfg.ForwardedHeader == HeaderForwarded {
		hops = forwardedFor(r.Header.Values(HeaderForwarded))
	} else {
		for _, v := range r.Header.Values(HeaderXForwardedFor) {
			for _, h := range strings.Split(v, ",") {
				if h = strings.TrimSpace(h); h != "" {
					hops = append(hops, h)
				}
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := hopAddr(hops[i])
		if h == "" {
			continue // an empty entry names no hop
		}
		if client = h; !s.trusted(client) {
			return client
		}
	}
	return client
}

func (s *Server) trusted(addr string) bool {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	a = a.Unmap()
	for _, p := range s.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// peerAddr is the host of a RemoteAddr.
func peerAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

// hopAddr is the address of one forwarding hop: an IP, an IP and port, or
// a bracketed IPv6 with or without port. Anything else ("unknown", an
// obfuscated identifier) is kept as given and is never trusted.
func hopAddr(h string) string {
	h = strings.Trim(strings.TrimSpace(h), `"`)
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Unmap().String()
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap().String()
	}
	return h
}

// forwardedFor returns the for= values of RFC 7239 Forwarded header
// fields, in order.
func forwardedFor(values []string) []string {
	var out []string
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					out = append(out, val)
				}
			}
		}
	}
	return out
}
