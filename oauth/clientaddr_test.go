package oauth

import (
	"log/slog"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

// FuzzClientAddr sends arbitrary forwarding headers: from an untrusted
// peer the address is always the peer's; from a trusted one it is the peer
// or one of the hops, never a trusted hop when an untrusted one exists
// to its right, and parsing never panics.
func FuzzClientAddr(f *testing.F) {
	for _, seed := range []struct{ xff, fwd string }{
		{"127.0.0.7", "for=127.0.0.7"},
		{"6.6.6.6, 127.0.0.7, 10.1.1.1", `for=6.6.6.6, for="[2001:db8::7]:4711";proto=https`},
		{"[::1]:80,,, ", "for=unknown;by=_x, For=_hidden"},
		{"::ffff:10.0.0.1", `for="`},
	} {
		f.Add(seed.xff, seed.fwd, true)
		f.Add(seed.xff, seed.fwd, false)
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, xff, fwd string, useForwarded bool) {
		header := HeaderXForwardedFor
		if useForwarded {
			header = HeaderForwarded
		}
		s := &Server{cfg: Config{TrustedProxies: trusted, ForwardedHeader: header}, logger: slog.New(slog.DiscardHandler)}
		for _, peer := range []string{"127.0.0.2:1", "127.0.0.1:1"} {
			r := httptest.NewRequest("POST", "/oauth2/token", nil)
			r.RemoteAddr = peer
			r.Header.Set(HeaderXForwardedFor, xff)
			r.Header.Set(HeaderForwarded, fwd)
			got := s.clientAddr(r)
			if peer == "127.0.0.2:1" && got != "127.0.0.2" {
				t.Fatalf("untrusted peer with X-Forwarded-For %q, Forwarded %q: clientAddr = %q; want the peer", xff, fwd, got)
			}
			if peer == "127.0.0.1:1" && got != "127.0.0.1" && !fromHeaders(got, xff+","+fwd) {
				t.Fatalf("trusted peer: clientAddr = %q is neither the peer nor from the headers %q, %q", got, xff, fwd)
			}
		}
	})
}

// fromHeaders reports whether addr comes from the headers: as written
// (an unparsed value is kept as given), or as one of their tokens in the
// canonical form hopAddr gives it.
func fromHeaders(addr, headers string) bool {
	if addr != "" && strings.Contains(headers, addr) {
		return true
	}
	for _, tok := range strings.FieldsFunc(headers, func(r rune) bool { return strings.ContainsRune(",;= \t", r) }) {
		if hopAddr(tok) == addr {
			return true
		}
	}
	return false
}

// TestForwardedHeaderWithoutTrustedProxies: a forwarding header arriving
// with no trusted proxies configured is ignored, and said once in the log,
// since behind a proxy every client would share its address.
func TestForwardedHeaderWithoutTrustedProxies(t *testing.T) {
	var log syncBuffer
	s := &Server{cfg: Config{ForwardedHeader: HeaderXForwardedFor}, logger: slog.New(slog.NewTextHandler(&log, nil))}
	for range 3 {
		r := httptest.NewRequest("POST", "/oauth2/token", nil)
		r.RemoteAddr = "127.0.0.1:1"
		r.Header.Set(HeaderXForwardedFor, "127.0.0.7")
		if got := s.clientAddr(r); got != "127.0.0.1" {
			t.Fatalf("clientAddr = %q; want the peer", got)
		}
	}
	if n := strings.Count(log.String(), "--trusted-proxies"); n != 1 {
		t.Errorf("log:\n%s\nwant one warning naming --trusted-proxies", log.String())
	}
}
