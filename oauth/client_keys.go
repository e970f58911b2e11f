package oauth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/discovery/verifier"
)

// AssertionAlgorithms are the JWS algorithms a private_key_jwt client may
// sign its assertions with: RSA PKCS#1 v1.5, ECDSA and RSA-PSS (RFC 7518
// section 3.1). "none" and HS* are never accepted for keys from a JWKS
// (RFC 8725 sections 3.1 and 3.2); EdDSA is not offered.
func AssertionAlgorithms() []string {
	return []string{"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
}

// Bounds on a client's keys.
const (
	// MaxClientKeys bounds the keys of a client's JWK Set, inline or
	// fetched; more are ignored when fetched and refused when registered.
	MaxClientKeys = 16
	// maxJWKSBytes bounds a fetched JWK Set.
	maxJWKSBytes = 64 << 10
	// maxKidLen bounds a "kid".
	maxKidLen = 256
	// maxCachedJWKS bounds how many jwks_uri key sets are cached.
	maxCachedJWKS = 1024
)

// Defaults of the jwks_uri fetcher.
const (
	DefaultClientJWKSTimeout = 2 * time.Second
	clientJWKSTTL            = 5 * time.Minute
	clientJWKSMinRefresh     = 10 * time.Second
)

// clientKey is one public key of a private_key_jwt client.
type clientKey struct {
	kid string
	// alg is the JWK's "alg" (RFC 7517 section 4.4), possibly empty.
	alg string
	key crypto.PublicKey // *rsa.PublicKey or *ecdsa.PublicKey
}

// fits reports whether k may verify a signature made with alg
// (verifier.KeyFits).
func (k clientKey) fits(alg string) bool { return verifier.KeyFits(k.key, k.alg, alg) }

// parseClientJWKS parses a client's JWK Set (RFC 7517 section 5). strict
// is for registration: every key must be usable, so a mistake is reported
// instead of silently ignored: a public RSA (2048 bits or more) or EC
// (P-256, P-384, P-521) signature key, no private part, no symmetric key,
// "use" absent or "sig", "alg" absent or one of AssertionAlgorithms, kids
// unique and present when there are several keys. Without strict (a
// fetched set), unusable keys are skipped; a set with no usable key is an
// error either way.
func parseClientJWKS(raw []byte, strict bool) ([]clientKey, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, fmt.Errorf("not a JWK Set: %w", err)
	}
	if strict && len(doc.Keys) > MaxClientKeys {
		return nil, fmt.Errorf("has %d keys; at most %d", len(doc.Keys), MaxClientKeys)
	}
	var out []clientKey
	for i, r := range doc.Keys {
		if len(out) == MaxClientKeys {
			break
		}
		k, err := parseClientKey(r)
		if err != nil {
			if strict {
				return nil, fmt.Errorf("key %d: %w", i, err)
			}
			continue
		}
		if strict && slices.ContainsFunc(out, func(o clientKey) bool { return o.kid == k.kid }) {
			return nil, fmt.Errorf("key %d: kid %q is not unique", i, k.kid)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, errors.New("has no usable signature key")
	}
	if strict && len(out) > 1 && slices.ContainsFunc(out, func(k clientKey) bool { return k.kid == "" }) {
		return nil, errors.New("has several keys: each needs a kid")
	}
	return out, nil
}

func parseClientKey(raw json.RawMessage) (clientKey, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(raw, &probe); err != nil {
		return clientKey{}, errors.New("is not a JSON object")
	}
	// RFC 7518 sections 6.2.2 and 6.3.2: these members are private.
	for _, m := range []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k"} {
		if _, ok := probe[m]; ok {
			return clientKey{}, fmt.Errorf("has the private or symmetric member %q: register public keys only", m)
		}
	}
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON(raw); err != nil {
		return clientKey{}, fmt.Errorf("is not a JWK: %w", err)
	}
	switch {
	case jwk.Use != "" && jwk.Use != "sig":
		return clientKey{}, fmt.Errorf("has use %q; want sig or none", jwk.Use)
	case jwk.Algorithm != "" && !slices.Contains(AssertionAlgorithms(), jwk.Algorithm):
		return clientKey{}, fmt.Errorf("has alg %q; want one of %v", jwk.Algorithm, AssertionAlgorithms())
	case len(jwk.KeyID) > maxKidLen:
		return clientKey{}, fmt.Errorf("kid is longer than %d bytes", maxKidLen)
	case !jwk.IsPublic():
		return clientKey{}, errors.New("is not a public key")
	}
	switch key := jwk.Key.(type) {
	case *rsa.PublicKey:
		if key.N.BitLen() < 2048 { // RFC 7518 section 3.3
			return clientKey{}, fmt.Errorf("is a %d-bit RSA key; at least 2048 bits", key.N.BitLen())
		}
	case *ecdsa.PublicKey:
		switch key.Curve {
		case elliptic.P256(), elliptic.P384(), elliptic.P521():
		default:
			return clientKey{}, errors.New("is on an unsupported curve")
		}
	default:
		return clientKey{}, fmt.Errorf("has key type %T; want RSA or EC", jwk.Key)
	}
	return clientKey{kid: jwk.KeyID, alg: jwk.Algorithm, key: jwk.Key}, nil
}

// CanonicalClientJWKS returns the stored form of a JWK Set that
// parseClientJWKS accepts strictly: the public members only, as go-jose
// writes them.
func CanonicalClientJWKS(raw []byte) ([]byte, error) {
	if _, err := parseClientJWKS(raw, true); err != nil {
		return nil, err
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &set); err != nil {
		return nil, err
	}
	for i := range set.Keys {
		set.Keys[i] = set.Keys[i].Public()
	}
	return json.Marshal(set)
}

// CheckJWKSURI reports whether u may be fetched as a client's jwks_uri:
// an absolute https URL, or http on a loopback address (development and
// tests), with no user information or fragment.
func CheckJWKSURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Hostname() == "":
		return errors.New("is not an absolute URL")
	case u.User != nil:
		return errors.New("has user information")
	case u.Fragment != "" || u.RawFragment != "":
		return errors.New("has a fragment")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	}
	return errors.New("must be https (http only on a loopback address)")
}

func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// errKeysUnavailable reports a jwks_uri that could not be fetched, or
// whose fetch is rate-limited after a failure.
var errKeysUnavailable = errors.New("client keys unavailable")

// jwksFetcher fetches and caches the JWK Sets of private_key_jwt clients'
// jwks_uri. It is bounded in every direction an outsider could push: each
// fetch has a timeout and a size cap and follows no redirect to another
// host or scheme; concurrent requests for one URI share one fetch; a
// refetch (an unknown kid, or a retry after a failure) happens at most
// once per clientJWKSMinRefresh per URI, so forged kids or a dead server
// cost no more than that; and the cache holds at most maxCachedJWKS sets.
// A failure never waits longer than the timeout: the request that saw it
// is refused (invalid_client), not the server's other clients.
type jwksFetcher struct {
	client  *http.Client
	timeout time.Duration
	now     func() time.Time

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

type jwksEntry struct {
	keys        []clientKey // nil until a fetch succeeded
	expires     time.Time
	lastAttempt time.Time
	lastErr     error
	inflight    chan struct{} // closed when the running fetch ends
}

func newJWKSFetcher(timeout time.Duration, now func() time.Time) *jwksFetcher {
	f := &jwksFetcher{timeout: timeout, now: now, entries: map[string]*jwksEntry{}}
	f.client = &http.Client{
		Timeout: timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			first := via[0].URL
			if len(via) > 3 || req.URL.Scheme != first.Scheme || req.URL.Host != first.Host {
				return errors.New("redirect to another host refused")
			}
			return nil
		},
	}
	return f
}

// keys returns the key set of uri: the cached one while fresh, else a
// fetched one. With refresh (a kid the cached set lacks) it refetches
// unless a fetch started less than clientJWKSMinRefresh ago.
func (f *jwksFetcher) keys(ctx context.Context, uri string, refresh bool) ([]clientKey, error) {
	for {
		now := f.now()
		f.mu.Lock()
		e := f.entries[uri]
		if e == nil {
			f.evict(now)
			e = &jwksEntry{}
			f.entries[uri] = e
		}
		if wait := e.inflight; wait != nil {
			f.mu.Unlock()
			select {
			case <-wait:
				refresh = false // the fetch just made is as fresh as it gets
				continue
			case <-ctx.Done():
				return nil, fmt.Errorf("%w: %w", errKeysUnavailable, ctx.Err())
			}
		}
		fresh := e.keys != nil && now.Before(e.expires)
		recent := !e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < clientJWKSMinRefresh
		switch {
		case fresh && !refresh, fresh && recent:
			keys := e.keys
			f.mu.Unlock()
			return keys, nil
		case recent:
			// Stale or failed, and fetched a moment ago: do not hammer it.
			keys, err := e.keys, e.lastErr
			f.mu.Unlock()
			if keys != nil && err == nil {
				return keys, nil
			}
			return nil, fmt.Errorf("%w: %w", errKeysUnavailable, cmpErr(err))
		}
		done := make(chan struct{})
		e.inflight, e.lastAttempt = done, now
		f.mu.Unlock()

		// The fetch outlives a caller that gives up: others may wait on it.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.timeout)
		keys, err := f.fetch(fctx, uri)
		cancel()
		f.mu.Lock()
		e.inflight, e.lastErr = nil, err
		if err == nil {
			e.keys, e.expires = keys, f.now().Add(clientJWKSTTL)
		}
		close(done)
		f.mu.Unlock()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errKeysUnavailable, err)
		}
		return keys, nil
	}
}

func cmpErr(err error) error {
	if err == nil {
		return errors.New("rate-limited")
	}
	return err
}

// evict makes room for one entry: expired sets first, then any idle one.
// The caller holds f.mu.
func (f *jwksFetcher) evict(now time.Time) {
	if len(f.entries) < maxCachedJWKS {
		return
	}
	for k, e := range f.entries {
		if e.inflight == nil && !now.Before(e.expires) {
			delete(f.entries, k)
		}
	}
	for k, e := range f.entries {
		if len(f.entries) < maxCachedJWKS {
			return
		}
		if e.inflight == nil {
			delete(f.entries, k)
		}
	}
}

// fetch GETs uri and parses the set, skipping keys it cannot use.
func (f *jwksFetcher) fetch(ctx context.Context, uri string) ([]clientKey, error) {
	if err := CheckJWKSURI(uri); err != nil {
		return nil, fmt.Errorf("jwks_uri %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET jwks_uri: status %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("GET jwks_uri: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, fmt.Errorf("GET jwks_uri: body exceeds %d bytes", maxJWKSBytes)
	}
	return parseClientJWKS(body, false)
}
