package verifier

import (
	"cmp"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// errRateLimited reports that a JWKS fetch was wanted but one happened less
// than MinRefreshInterval ago.
var errRateLimited = errors.New("verifier: key refresh rate-limited")

// publicKey is one verification key from the issuer's JWKS.
type publicKey struct {
	kid string
	alg string           // the JWK "alg" (RFC 7517 §4.4), may be empty
	key crypto.PublicKey // *ecdsa.PublicKey, *rsa.PublicKey or ed25519.PublicKey
}

// fits reports whether k may verify a token signed with alg: the key type
// and curve must match the algorithm (RFC 7518 §3.1, RFC 8037 §3.1) and, if
// the JWK names an algorithm, it must be this one (RFC 7517 §4.4). go-jose
// checks type and curve again when it verifies; fits keeps unfit keys out
// of the candidates, so that they count neither against maxKeysTried nor
// as a known kid.
func (k *publicKey) fits(alg string) bool { return KeyFits(k.key, k.alg, alg) }

// KeyFits reports whether key may verify a signature made with alg: the
// key's type and curve match the algorithm (RFC 7518 section 3.1) and its
// JWK's own "alg", jwkAlg, is alg when set (RFC 7517 section 4.4).
func KeyFits(key crypto.PublicKey, jwkAlg, alg string) bool {
	if jwkAlg != "" && jwkAlg != alg {
		return false
	}
	switch key := key.(type) {
	case *ecdsa.PublicKey:
		switch alg {
		case "ES256":
			return key.Curve == elliptic.P256()
		case "ES384":
			return key.Curve == elliptic.P384()
		case "ES512":
			return key.Curve == elliptic.P521()
		}
	case *rsa.PublicKey:
		switch alg {
		case "RS256", "RS384", "RS512", "PS256", "PS384", "PS512":
			return true
		}
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// keySet is an immutable snapshot of the issuer's JWKS.
type keySet struct {
	byKid   map[string][]*publicKey
	all     []*publicKey
	expires time.Time
}

// lookup returns the keys that may verify a token with kid and alg: the
// keys named kid, or, for a token without kid, every key fitting alg.
func (s *keySet) lookup(kid, alg string) []*publicKey {
	src := s.all
	if kid != "" {
		src = s.byKid[kid]
	}
	var out []*publicKey
	for _, k := range src {
		if k.fits(alg) {
			if out == nil && len(src) == 1 {
				return src // the common case, without allocating
			}
			out = append(out, k)
			if len(out) == maxKeysTried {
				break
			}
		}
	}
	return out
}

// refreshCall is one JWKS fetch that concurrent callers share.
type refreshCall struct {
	done chan struct{}
	set  *keySet // the key set after the call, new or old
	err  error
}

// keysFor returns the candidate keys for a token, fetching the JWKS when
// none is cached, when the cached one has expired, or once per
// MinRefreshInterval when kid is unknown (a rotated-in key).
func (v *Verifier) keysFor(ctx context.Context, kid, alg string, now time.Time) ([]*publicKey, error) {
	set := v.keys.Load()
	if set == nil || !now.Before(set.expires) {
		var err error
		set, err = v.refresh(ctx, now, false)
		if set == nil {
			return nil, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
		}
		// Otherwise a failed refresh keeps the last good set.
	}
	if keys := set.lookup(kid, alg); len(keys) > 0 {
		return keys, nil
	}
	fresh, err := v.refresh(ctx, now, false)
	if err == nil && fresh != nil {
		if keys := fresh.lookup(kid, alg); len(keys) > 0 {
			return keys, nil
		}
	}
	return nil, fmt.Errorf("%w: kid %q alg %s", ErrUnknownKey, truncate(kid), alg)
}

// Refresh fetches the discovery document and the JWKS now, whatever the
// cache state and rate limit. Use it to warm the cache at start-up; a
// failure leaves any cached keys in place.
func (v *Verifier) Refresh(ctx context.Context) error {
	_, err := v.refresh(ctx, v.cfg.Now(), true)
	return err
}

// refresh returns the key set after a JWKS fetch. Concurrent callers share
// one fetch; unless force is set, a fetch is only started when none was
// started in the last MinRefreshInterval, so neither forged kids nor an
// unreachable issuer turn requests into a flood of fetches. It returns the
// cached set (possibly nil) with the error when no fetch could be made.
func (v *Verifier) refresh(ctx context.Context, now time.Time, force bool) (*keySet, error) {
	v.mu.Lock()
	c := v.inflight
	if c == nil {
		if !force && !v.lastAttempt.IsZero() && now.Sub(v.lastAttempt) < v.cfg.MinRefreshInterval {
			v.mu.Unlock()
			return v.keys.Load(), errRateLimited
		}
		v.lastAttempt = now
		c = &refreshCall{done: make(chan struct{})}
		v.inflight = c
		// The fetch outlives a caller that gives up: others may be waiting.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cmp.Or(v.cfg.HTTPClient.Timeout, DefaultHTTPTimeout))
		go func() {
			defer cancel()
			v.runRefresh(fctx, c)
		}()
	}
	v.mu.Unlock()
	select {
	case <-c.done:
		return c.set, c.err
	case <-ctx.Done():
		return v.keys.Load(), ctx.Err()
	}
}

func (v *Verifier) runRefresh(ctx context.Context, c *refreshCall) {
	// Only one runRefresh runs at a time, so jwksURI needs no lock here;
	// v.mu orders it with the next call.
	set, err := v.fetchKeys(ctx)
	v.mu.Lock()
	defer v.mu.Unlock()
	old := v.keys.Load()
	if err != nil {
		v.jwksURI = "" // rediscover next time: the issuer may have moved its JWKS
		v.cfg.Logger.WarnContext(ctx, "fetch issuer keys", "issuer", v.cfg.Issuer, "err", err)
		c.set, c.err = old, err
	} else {
		v.keys.Store(set)
		if v.tokens != nil && old != nil && keysRemoved(old, set) {
			// Tokens signed by a withdrawn key must be verified again.
			v.tokens.clear()
		}
		c.set = set
	}
	v.inflight = nil
	close(c.done)
}

func keysRemoved(old, cur *keySet) bool {
	for kid := range old.byKid {
		if _, ok := cur.byKid[kid]; !ok {
			return true
		}
	}
	return len(cur.all) < len(old.all)
}

// fetchKeys discovers the JWKS URI if needed and fetches the key set.
func (v *Verifier) fetchKeys(ctx context.Context) (*keySet, error) {
	if v.jwksURI == "" && v.cfg.JWKSURI != "" {
		v.jwksURI = v.cfg.JWKSURI
	}
	if v.jwksURI == "" {
		uri, err := v.discover(ctx)
		if err != nil {
			return nil, err
		}
		v.jwksURI = uri
	}
	body, hdr, err := v.get(ctx, v.jwksURI, "application/jwk-set+json, application/json")
	if err != nil {
		return nil, fmt.Errorf("fetch jwks: %w", err)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, fmt.Errorf("jwks %s: %w", v.jwksURI, err)
	}
	set := &keySet{byKid: make(map[string][]*publicKey, len(keys)), all: keys}
	for _, k := range keys {
		set.byKid[k.kid] = append(set.byKid[k.kid], k)
	}
	set.expires = v.cfg.Now().Add(v.keysTTL(hdr))
	return set, nil
}

// get fetches url and returns a bounded body for a 200 response.
func (v *Verifier) get(ctx context.Context, url, accept string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", accept)
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return nil, nil, fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDocumentSize+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	if len(body) > maxDocumentSize {
		return nil, nil, fmt.Errorf("GET %s: body exceeds %d bytes", url, maxDocumentSize)
	}
	return body, resp.Header, nil
}

// parseJWKS decodes a JWK Set (RFC 7517 §5) with go-jose and keeps the
// usable signature-verification keys. Keys it cannot use (symmetric keys,
// "use":"enc", unknown types, RSA under 2048 bits) are skipped rather than
// failing the whole set; a set with no usable key is an error.
func parseJWKS(body []byte) ([]*publicKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	var out []*publicKey
	for _, raw := range doc.Keys {
		if len(out) == maxKeys {
			break
		}
		var jwk jose.JSONWebKey
		if err := jwk.UnmarshalJSON(raw); err != nil {
			continue
		}
		if jwk.Use != "" && jwk.Use != "sig" {
			continue // RFC 7517 §4.2
		}
		if jwk.Algorithm != "" && !supportedAlgorithm(jwk.Algorithm) {
			continue
		}
		if len(jwk.KeyID) > maxKeyIDLen {
			continue
		}
		pub := jwk.Public() // a JWKS should hold public keys; never use a private part
		switch key := pub.Key.(type) {
		case *ecdsa.PublicKey:
			switch key.Curve {
			case elliptic.P256(), elliptic.P384(), elliptic.P521():
			default:
				continue
			}
		case *rsa.PublicKey:
			if key.N.BitLen() < 2048 { // RFC 7518 §3.3
				continue
			}
		case ed25519.PublicKey:
		default:
			continue // symmetric ([]byte) and anything else
		}
		k := &publicKey{kid: jwk.KeyID, alg: jwk.Algorithm, key: pub.Key}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("no usable signing keys")
	}
	return out, nil
}

// keysTTL derives how long to cache a JWKS from its response's
// Cache-Control max-age (RFC 9111 §5.2.2.1) less its Age (§5.1), clamped to
// [KeysMinTTL, KeysMaxTTL]; KeysTTL when absent. "no-cache" and "no-store"
// are taken as a request to refetch as soon as allowed.
func (v *Verifier) keysTTL(h http.Header) time.Duration {
	ttl, ok := maxAge(h)
	if !ok {
		ttl = v.cfg.KeysTTL
	}
	ttl = min(max(ttl, v.cfg.KeysMinTTL), v.cfg.KeysMaxTTL)
	return ttl
}

// maxAge reads max-age from a Cache-Control header, minus Age.
func maxAge(h http.Header) (time.Duration, bool) {
	var (
		age   int64
		found bool
	)
	for _, line := range h.Values("Cache-Control") {
		for _, d := range strings.Split(line, ",") {
			name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
			switch strings.ToLower(name) {
			case "no-store", "no-cache":
				return 0, true
			case "max-age":
				n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64)
				if err != nil || n < 0 {
					continue
				}
				age, found = n, true
			}
		}
	}
	if !found {
		return 0, false
	}
	if a, err := strconv.ParseInt(h.Get("Age"), 10, 64); err == nil && a > 0 {
		age = max(age-a, 0)
	}
	const maxSeconds = int64(1<<63-1) / int64(time.Second)
	return time.Duration(min(age, maxSeconds)) * time.Second, true
}
