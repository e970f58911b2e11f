package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/keys/keystest"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// assertionServer is a token service with one private_key_jwt client,
// "kc", whose ES256 key is returned.
func assertionServer(t testing.TB) (*Server, *ecdsa.PrivateKey) {
	t.Helper()
	store := memory.New()
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{Issuer: "https://issuer.example", Password: PasswordParams{MemoryKiB: 64, Iterations: 1}}, store, ring)
	if err != nil {
		t.Fatal(err)
	}
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Use: "sig"}}})
	if err := store.CreateClient(context.Background(), storage.Client{ID: "kc", Name: "kc", GrantTypes: []string{"client_credentials"},
		AuthMethod: storage.AuthMethodPrivateKeyJWT, JWKS: jwks, AuthSigningAlgs: AssertionAlgorithms(), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	return s, k
}

// postForm sends form to h with no Basic credentials (serve adds some).
func postForm(ctx context.Context, h http.HandlerFunc, form url.Values) (int, map[string]any) {
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	h(w, req)
	var body map[string]any
	json.Unmarshal(w.Body.Bytes(), &body)
	return w.Code, body
}

func signAssertion(t testing.TB, k *ecdsa.PrivateKey, claims map[string]any) string {
	t.Helper()
	return keystest.SignJWT(t, jose.ES256, k, claims, "kid", "k1")
}

// FuzzClientAssertion sends arbitrary client assertions (RFC 7523 section
// 2.2) to the token endpoint: never a panic or a 5xx, never a token for
// anything but a well-formed assertion, and a refusal is 401
// invalid_client or 400 invalid_request.
func FuzzClientAssertion(f *testing.F) {
	s, k := assertionServer(f)
	now := time.Now()
	claims := map[string]any{"iss": "kc", "sub": "kc", "aud": "https://issuer.example/oauth2/token", "exp": now.Add(time.Minute).Unix(), "jti": "seed"}
	good := signAssertion(f, k, claims)
	if code, body := postForm(context.Background(), s.Token, url.Values{"grant_type": {"client_credentials"},
		"client_assertion": {good}, "client_assertion_type": {ClientAssertionType}}); code != http.StatusOK {
		f.Fatalf("the seed assertion: %d %v; want a token", code, body)
	}
	f.Add(good, ClientAssertionType)
	f.Add("eyJhbGciOiJub25lIn0.eyJpc3MiOiJrYyIsInN1YiI6ImtjIn0.", ClientAssertionType)
	f.Add("eyJhbGciOiJFUzI1NiIsImNyaXQiOlsiYiJdfQ.e30.AAAA", ClientAssertionType)
	f.Add("a.b.c", "urn:other")
	f.Add("", ClientAssertionType)
	f.Fuzz(func(t *testing.T, assertion, typ string) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion": {assertion}, "client_assertion_type": {typ}}
		code, body := postForm(context.Background(), s.Token, form)
		switch {
		case code == http.StatusOK:
			// Only a genuine signature by kc's key gets here, and each
			// jti once.
			if body["access_token"] == nil {
				t.Fatalf("200 without a token: %v", body)
			}
		case code == http.StatusUnauthorized && body["error"] == "invalid_client",
			code == http.StatusBadRequest && body["error"] == "invalid_request":
		default:
			t.Fatalf("assertion %q, type %q: %d %v; want 200, 401 invalid_client or 400 invalid_request", assertion, typ, code, body)
		}
	})
}

// TestJWKSFetcherSharesOneFetch: concurrent requests for one jwks_uri
// share one fetch; a fetch that fails is not retried within the refetch
// interval, then is.
func TestJWKSFetcherSharesOneFetch(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1"}}})
	var hits atomic.Int32
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		time.Sleep(50 * time.Millisecond)
		if fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Write(jwks)
	}))
	defer srv.Close()
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) { mu.Lock(); clock = clock.Add(d); mu.Unlock() }
	f := newJWKSFetcher(time.Second, now)

	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if keys, err := f.keys(context.Background(), srv.URL, false); err != nil || len(keys) != 1 {
				t.Errorf("keys = %v, %v; want the one key", keys, err)
			}
		}()
	}
	wg.Wait()
	if n := hits.Load(); n != 1 {
		t.Errorf("10 concurrent requests made %d fetches; want 1", n)
	}

	fail.Store(true)
	advance(clientJWKSTTL + time.Second) // the set is stale: refetch, which fails
	if _, err := f.keys(context.Background(), srv.URL, false); !errors.Is(err, errKeysUnavailable) {
		t.Fatalf("keys after a failed refetch = %v; want errKeysUnavailable", err)
	}
	if _, err := f.keys(context.Background(), srv.URL, false); !errors.Is(err, errKeysUnavailable) || hits.Load() != 2 {
		t.Errorf("keys within the interval = %v after %d fetches; want errKeysUnavailable without a fetch", err, hits.Load())
	}
	fail.Store(false)
	advance(clientJWKSMinRefresh)
	if keys, err := f.keys(context.Background(), srv.URL, false); err != nil || len(keys) != 1 || hits.Load() != 3 {
		t.Errorf("keys after the interval = %v, %v after %d fetches; want the key from a third fetch", keys, err, hits.Load())
	}
}

// TestJWKSStrategyIsBounded: fosite's JWKSFetcherStrategy is Gatehouse's
// fetcher, whose failures are invalid_client (never fosite's default
// retrying fetcher).
func TestJWKSStrategyIsBounded(t *testing.T) {
	s, _ := assertionServer(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) }))
	defer srv.Close()
	fc := s.provider.(*fosite.Fosite).Config.(*fosite.Config)
	start := time.Now()
	_, err := fc.GetJWKSFetcherStrategy(context.Background()).Resolve(context.Background(), srv.URL, false)
	if !errors.Is(err, fosite.ErrInvalidClient) || time.Since(start) > time.Second {
		t.Errorf("Resolve(503) = %v after %v; want invalid_client at once", err, time.Since(start))
	}
}

// TestFositeConfigHasNoLazyDefaults calls every getter of the composed
// fosite.Config and fails if one of them fills a field that was empty:
// such a getter writes on first use, a data race under concurrent first
// requests (provider.go). JWKSFetcherStrategy was one until
// private_key_jwt set it.
func TestFositeConfigHasNoLazyDefaults(t *testing.T) {
	s, _ := assertionServer(t)
	fc := s.provider.(*fosite.Fosite).Config.(*fosite.Config)
	v := reflect.ValueOf(fc).Elem()
	empty := map[string]bool{}
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			empty[v.Type().Field(i).Name] = true
		}
	}
	ctx := reflect.ValueOf(context.Background())
	pv := reflect.ValueOf(fc)
	for i := range pv.NumMethod() {
		m := pv.Type().Method(i)
		if strings.HasPrefix(m.Name, "Get") && m.Type.NumIn() == 2 && m.Type.In(1) == reflect.TypeFor[context.Context]() {
			pv.Method(i).Call([]reflect.Value{ctx})
		}
	}
	for i := range v.NumField() {
		if name := v.Type().Field(i).Name; empty[name] && !v.Field(i).IsZero() {
			t.Errorf("fosite.Config.%s was empty and a getter filled it: set it in newProvider", name)
		}
	}
}

// BenchmarkClientCredentials compares a client_credentials token for a
// private_key_jwt client (ES256 assertion verified, jti recorded in the
// memory store) with one for a secret client.
func BenchmarkClientCredentials(b *testing.B) {
	s, k := assertionServer(b)
	ctx := context.Background()
	if err := s.store.CreateClient(ctx, storage.Client{ID: "sc", Name: "sc", SecretHash: HashClientSecret("s"),
		GrantTypes: []string{"client_credentials"}, CreatedAt: time.Now()}); err != nil {
		b.Fatal(err)
	}
	b.Run("private_key_jwt", func(b *testing.B) {
		forms := make([]url.Values, b.N)
		for i := range forms {
			a := signAssertion(b, k, map[string]any{"iss": "kc", "sub": "kc", "aud": "https://issuer.example",
				"exp": time.Now().Add(time.Minute).Unix(), "jti": strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.Itoa(i)})
			forms[i] = url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {ClientAssertionType}, "client_assertion": {a}}
		}
		b.ResetTimer()
		for i := range b.N {
			if code, body := postForm(ctx, s.Token, forms[i]); code != http.StatusOK {
				b.Fatalf("%d %v", code, body)
			}
		}
	})
	b.Run("client_secret_post", func(b *testing.B) {
		form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"sc"}, "client_secret": {"s"}}
		for range b.N {
			if code, body := postForm(ctx, s.Token, form); code != http.StatusOK {
				b.Fatalf("%d %v", code, body)
			}
		}
	})
}
