package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// discoveryURLs lists where the issuer's metadata may live: OpenID Connect
// Discovery 1.0 §4 appends the well-known path to the issuer; RFC 8414 §3.1
// inserts it between the host and the issuer's path.
func discoveryURLs(issuer string) []string {
	urls := []string{strings.TrimSuffix(issuer, "/") + "/.well-known/openid-configuration"}
	if u, err := url.Parse(issuer); err == nil {
		path := strings.TrimSuffix(u.EscapedPath(), "/")
		urls = append(urls, u.Scheme+"://"+u.Host+"/.well-known/oauth-authorization-server"+path)
	}
	return urls
}

// discover fetches the issuer's metadata, checks its "issuer" and returns
// its "jwks_uri".
func (v *Verifier) discover(ctx context.Context) (string, error) {
	var errs []error
	for _, u := range discoveryURLs(v.cfg.Issuer) {
		body, _, err := v.get(ctx, u, "application/json")
		if err != nil {
			errs = append(errs, err)
			continue
		}
		return v.jwksURIFrom(body, u)
	}
	return "", fmt.Errorf("discovery: %w", errors.Join(errs...))
}

func (v *Verifier) jwksURIFrom(body []byte, from string) (string, error) {
	var md struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &md); err != nil {
		return "", fmt.Errorf("discovery %s: %w", from, err)
	}
	// RFC 8414 §3.3 and OIDC Discovery §4.3: the issuer in the metadata
	// must be identical to the one the metadata was fetched for, or an
	// attacker's metadata could stand in for the real issuer's.
	if md.Issuer != v.cfg.Issuer {
		return "", fmt.Errorf("discovery %s: issuer %q, want %q", from, md.Issuer, v.cfg.Issuer)
	}
	u, err := url.Parse(md.JWKSURI)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return "", fmt.Errorf("discovery %s: jwks_uri %q is not an http(s) URL", from, md.JWKSURI)
	}
	return md.JWKSURI, nil
}
