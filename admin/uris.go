package admin

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// maxURILen bounds a redirect URI or web origin, in bytes.
const maxURILen = 2048

// isLoopbackIP reports whether host is one for which a redirect URI may
// use http, and whose port is ignored when redirect URIs are matched
// (RFC 8252 section 7.3). "localhost" is not: RFC 8252 section 8.3
// advises against it, and fosite does not match it on any port.
func isLoopbackIP(host string) bool { return host == "127.0.0.1" || host == "::1" }

// checkURIText refuses what no URI of a client may hold: an empty value,
// an over-long one, spaces and control characters, a fragment (RFC 6749
// section 3.1.2) and a wildcard (RFC 9700 section 4.1.3: redirect URIs
// are compared as exact strings).
func checkURIText(field, raw string) error {
	switch {
	case raw == "":
		return fieldErr(field, "has an empty URI")
	case len(raw) > maxURILen:
		return fieldErr(field, "URI is longer than %d characters", maxURILen)
	case strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return fieldErr(field, "URI %q contains spaces or control characters", raw)
	case strings.Contains(raw, "#"):
		return fieldErr(field, "URI %q has a fragment; redirect URIs may not (RFC 6749 section 3.1.2)", raw)
	case strings.Contains(raw, "*"):
		return fieldErr(field, "URI %q has a wildcard; URIs are matched exactly (RFC 9700 section 4.1.3)", raw)
	}
	return nil
}

// checkRedirectURI checks a redirect URI or post-logout redirect URI as
// registered: an absolute URI (RFC 6749 section 3.1.2) with no fragment,
// wildcard or user information, that is
//   - https, or
//   - http on a loopback IP literal, http://127.0.0.1 or http://[::1], for
//     native apps, any port (RFC 8252 section 7.3), or
//   - a private-use scheme named after a reverse domain name, such as
//     com.example.app:/callback, for native apps (RFC 8252 section 7.1).
//
// It is stored as given: redirect URIs are matched as exact strings.
func checkRedirectURI(field, raw string) error {
	if err := checkURIText(field, raw); err != nil {
		return err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fieldErr(field, "%q is not a URI", raw)
	}
	switch {
	case !u.IsAbs():
		return fieldErr(field, "%q is not an absolute URI (RFC 6749 section 3.1.2)", raw)
	case !strings.HasPrefix(raw, u.Scheme+":"):
		// url.Parse lowers the scheme; matching is exact, so the
		// registered URI must be in the form clients send.
		return fieldErr(field, "%q: write the scheme in lower case", raw)
	case u.User != nil:
		return fieldErr(field, "%q has user information; redirect URIs may not (RFC 9700 section 4.1.3)", raw)
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" || u.Hostname() == "" {
			return fieldErr(field, "%q has no host", raw)
		}
	case "http":
		if !isLoopbackIP(u.Hostname()) {
			return fieldErr(field, "%q: http is allowed only on the loopback addresses http://127.0.0.1 and http://[::1] "+
				"(RFC 8252 sections 7.3 and 8.3; localhost is not); use https", raw)
		}
	default:
		if !strings.Contains(u.Scheme, ".") {
			return fieldErr(field, "%q: use https, a loopback http URI, or a private-use scheme named after a domain "+
				"you own in reverse order, such as com.example.app:/callback (RFC 8252 section 7.1)", raw)
		}
		if u.Opaque != "" || u.Path == "" && u.Host == "" {
			return fieldErr(field, "%q: a private-use URI needs a path, such as com.example.app:/callback", raw)
		}
	}
	if u.Port() != "" {
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			return fieldErr(field, "%q has an invalid port", raw)
		}
	}
	return nil
}

func cleanRedirectURIs(field string, uris []string) ([]string, error) {
	return cleanList(field, uris, func(u string) error { return checkRedirectURI(field, u) })
}

// cleanWebOrigin checks a web origin (RFC 6454 section 6.2: scheme, host
// and port, no path) and returns it as browsers send it in the Origin
// header: lower case, without the scheme's default port. http is allowed
// only on loopback hosts (127.0.0.1, [::1], localhost: a local
// development server).
func cleanWebOrigin(raw string) (string, error) {
	const field = "web_origins"
	if err := checkURIText(field, raw); err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fieldErr(field, "%q is not an origin", raw)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return "", fieldErr(field, "%q: an origin is https://host[:port] (or http on a loopback host)", raw)
	case u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return "", fieldErr(field, "%q has no host", raw)
	case u.User != nil:
		return "", fieldErr(field, "%q has user information; an origin is scheme://host[:port]", raw)
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery:
		return "", fieldErr(field, "%q has a path or query; an origin is scheme://host[:port] with nothing after it", raw)
	}
	host := strings.ToLower(u.Hostname())
	for _, r := range host {
		if r > unicode.MaxASCII {
			return "", fieldErr(field, "%q: write an internationalised host name in its ASCII (punycode) form", raw)
		}
	}
	if u.Scheme == "http" && host != "localhost" && !isLoopbackIP(host) {
		return "", fieldErr(field, "%q: http is allowed only on loopback hosts (127.0.0.1, [::1], localhost); use https", raw)
	}
	port := u.Port()
	if port != "" {
		p, err := strconv.Atoi(port)
		if err != nil || p < 1 || p > 65535 {
			return "", fieldErr(field, "%q has an invalid port", raw)
		}
		port = strconv.Itoa(p)
		if u.Scheme == "https" && p == 443 || u.Scheme == "http" && p == 80 {
			port = ""
		}
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host, nil
}

func cleanWebOrigins(origins []string) ([]string, error) {
	if len(origins) > maxListLen {
		return nil, fieldErr("web_origins", "has more than %d entries", maxListLen)
	}
	out := make([]string, 0, len(origins))
	for _, o := range origins {
		c, err := cleanWebOrigin(o)
		if err != nil {
			return nil, err
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}
