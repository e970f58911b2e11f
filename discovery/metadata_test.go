package discovery_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery"
)

func testConfig() discovery.Config {
	return discovery.Config{
		Issuer:      "https://id.example.com",
		GrantTypes:  []string{"client_credentials"},
		AuthMethods: []string{"client_secret_basic"},
		Scopes:      []string{"read"},
		Algorithms:  func() []string { return []string{"ES256"} },
		MaxAge:      5 * time.Minute,
	}
}

func ExampleBuild() {
	m := discovery.Build(testConfig())
	fmt.Println(m.Issuer)
	fmt.Println(m.TokenEndpoint)
	fmt.Println(m.JWKSURI)
	// Output:
	// https://id.example.com
	// https://id.example.com/oauth2/token
	// https://id.example.com/.well-known/jwks.json
}

func TestHandlers(t *testing.T) {
	meta := discovery.MetadataHandler(testConfig())
	jwks := discovery.JWKSHandler(func() []byte { return []byte(`{"keys":[]}`) }, time.Minute)
	for _, tc := range []struct {
		name       string
		h          http.Handler
		method     string
		wantStatus int
		wantCache  string
		wantType   string
		wantIssuer string
	}{
		{"metadata GET", meta, http.MethodGet, 200, "public, max-age=300", "application/json", "https://id.example.com"},
		{"metadata POST", meta, http.MethodPost, 405, "", "application/json", ""},
		{"jwks GET", jwks, http.MethodGet, 200, "public, max-age=60", "application/jwk-set+json", ""},
		{"jwks HEAD", jwks, http.MethodHead, 200, "public, max-age=60", "application/jwk-set+json", ""},
		{"jwks DELETE", jwks, http.MethodDelete, 405, "", "application/json", ""},
	} {
		w := httptest.NewRecorder()
		tc.h.ServeHTTP(w, httptest.NewRequest(tc.method, "/", nil))
		if w.Code != tc.wantStatus || w.Header().Get("Cache-Control") != tc.wantCache || w.Header().Get("Content-Type") != tc.wantType {
			t.Errorf("%s: %d, Cache-Control %q, Content-Type %q; want %d, %q, %q", tc.name, w.Code,
				w.Header().Get("Cache-Control"), w.Header().Get("Content-Type"), tc.wantStatus, tc.wantCache, tc.wantType)
		}
		if tc.wantIssuer != "" {
			var m discovery.Metadata
			if err := json.Unmarshal(w.Body.Bytes(), &m); err != nil || m.Issuer != tc.wantIssuer {
				t.Errorf("%s: issuer %q, %v; want %q", tc.name, m.Issuer, err, tc.wantIssuer)
			}
		}
	}
}

// TestIDTokenMembers: the ID-token algorithms are those IDTokenAlgorithms
// reports, apart from the access-token ones (RS256, which OpenID Connect
// Discovery 1.0 section 3 requires, while access tokens use ES256), and
// without IDTokenAlgorithms they are the access-token ones; the userinfo
// endpoint is under the issuer.
func TestIDTokenMembers(t *testing.T) {
	cfg := testConfig()
	cfg.Algorithms = func() []string { return []string{"ES256", "RS256"} }
	if got := discovery.Build(cfg).IDTokenSigningAlgValuesSupported; !slices.Equal(got, []string{"ES256", "RS256"}) {
		t.Errorf("without IDTokenAlgorithms, id_token_signing_alg_values_supported = %v; want [ES256 RS256]", got)
	}
	cfg.Algorithms = func() []string { return []string{"ES256"} }
	cfg.IDTokenAlgorithms = func() []string { return []string{"RS256"} }
	if got := discovery.Build(cfg).AccessTokenSigningAlgValuesSupported; !slices.Equal(got, []string{"ES256"}) {
		t.Errorf("access_token_signing_alg_values_supported = %v; want [ES256]", got)
	}
	cfg.IDTokenAlgorithms = func() []string { return []string{"ES256", "RS256"} }
	b, err := json.Marshal(discovery.Build(cfg))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(doc["id_token_signing_alg_values_supported"]); got != "[ES256 RS256]" {
		t.Errorf("id_token_signing_alg_values_supported = %s; want [ES256 RS256]", got)
	}
	if got := doc["userinfo_endpoint"]; got != "https://id.example.com/userinfo" {
		t.Errorf("userinfo_endpoint = %v; want https://id.example.com/userinfo", got)
	}
	for k := range doc {
		if strings.HasPrefix(k, "id_token_") && k != "id_token_signing_alg_values_supported" {
			t.Errorf("metadata advertises %s = %v, which Gatehouse does not do", k, doc[k])
		}
	}
}

// TestAuthSigningAlgs: OIDC Discovery 1.0 section 3 requires
// token_endpoint_auth_signing_alg_values_supported when private_key_jwt is
// listed, and "none" may not be among them; without private_key_jwt the
// field is absent (nothing is advertised that is not done).
func TestAuthSigningAlgs(t *testing.T) {
	cfg := testConfig()
	cfg.AuthSigningAlgs = []string{"RS256", "ES256"}
	b, _ := json.Marshal(discovery.Build(cfg))
	if strings.Contains(string(b), "auth_signing_alg_values_supported") {
		t.Errorf("without private_key_jwt the metadata lists signing algorithms: %s", b)
	}
	cfg.AuthMethods = append(cfg.AuthMethods, "private_key_jwt")
	m := discovery.Build(cfg)
	for name, got := range map[string][]string{
		"token":         m.TokenEndpointAuthSigningAlgValuesSupported,
		"introspection": m.IntrospectionEndpointAuthSigningAlgValuesSupported,
		"revocation":    m.RevocationEndpointAuthSigningAlgValuesSupported,
	} {
		if strings.Join(got, " ") != "RS256 ES256" {
			t.Errorf("%s_endpoint_auth_signing_alg_values_supported = %v; want [RS256 ES256]", name, got)
		}
	}
}
