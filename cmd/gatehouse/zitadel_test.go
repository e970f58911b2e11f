package main

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/gatehouse/gatehouse/keys/keystest"
)

// This file is the test harness of an OpenID provider nobody here wrote:
// zitadel/oidc's pkg/op, run in-process on an httptest TLS server with
// its example in-memory storage (cmd/example-service's tests use the same
// harness). Its machine clients get JWT access tokens that carry their
// roles as Keycloak nests them ({"realm_access": {"roles": [...]}}) and
// their scopes in "scp", with typ "JWT" and RS256, as real providers send
// them. Federation tests (the JWT bearer grant, token exchange) use it.

// zitadelService is a machine client of the provider: its secret, the
// audience its tokens are for, and its roles in the provider.
type zitadelService struct {
	secret   string
	audience []string
	roles    []string
}

// zitadelStorage is zitadel/oidc's example storage with three methods
// overridden the way an operator configures a provider: service clients
// get JWT access tokens for their own audience, with roles and "scp"
// through the private-claims hook.
type zitadelStorage struct {
	*storage.Storage
	mu       sync.Mutex
	services map[string]zitadelService
}

func newZitadelStorage(services map[string]zitadelService) *zitadelStorage {
	// The user store's issuer is a placeholder: no user logs in here.
	base := storage.NewStorageWithClients(storage.NewUserStore("https://localhost"), map[string]*storage.Client{})
	return &zitadelStorage{Storage: base, services: services}
}

// setService adds or replaces a service client while the provider runs.
func (s *zitadelStorage) setService(id string, svc zitadelService) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[id] = svc
}

func (s *zitadelStorage) service(id string) (zitadelService, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[id]
	return svc, ok
}

func (s *zitadelStorage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	svc, ok := s.service(clientID)
	if !ok || svc.secret != clientSecret {
		return nil, errors.New("wrong client id or secret")
	}
	return zitadelJWTClient{storage.WebClient(clientID, clientSecret)}, nil
}

func (s *zitadelStorage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	svc, ok := s.service(clientID)
	if !ok {
		return nil, errors.New("unknown client")
	}
	return &oidc.JWTTokenRequest{Subject: clientID, Audience: svc.audience, Scopes: scopes}, nil
}

func (s *zitadelStorage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	svc, _ := s.service(clientID)
	return map[string]any{"realm_access": map[string]any{"roles": svc.roles}, "scp": scopes}, nil
}

// zitadelJWTClient is the example's web client allowed client_credentials
// and given JWT access tokens.
type zitadelJWTClient struct{ op.Client }

func (zitadelJWTClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (zitadelJWTClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

// serveZitadel runs the provider over st on an httptest TLS server; its
// issuer is the server's URL. srv.Client() trusts its certificate.
func serveZitadel(t *testing.T, st op.Storage) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	issuer := "https://" + srv.Listener.Addr().String()
	cfg := &op.Config{CryptoKey: sha256.Sum256([]byte("zitadel test")), AuthMethodPost: true}
	p, err := op.NewProvider(cfg, st, op.StaticIssuer(issuer))
	if err != nil {
		t.Fatalf("op.NewProvider: %v", err)
	}
	srv.Config.Handler = p
	srv.StartTLS()
	t.Cleanup(srv.Close)
	if srv.URL != issuer {
		t.Fatalf("server URL %q; want %q", srv.URL, issuer)
	}
	return srv
}

// zitadelToken gets an access token from the provider at srv with the
// client_credentials grant (RFC 6749 section 4.4), through x/oauth2 and
// the token endpoint the provider's discovery document names.
func zitadelToken(t *testing.T, srv *httptest.Server, clientID, secret string, scopes ...string) string {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var meta struct {
		TokenEndpoint string `json:"token_endpoint"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&meta); err != nil {
		t.Fatal(err)
	}
	cc := clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: meta.TokenEndpoint,
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, srv.Client())
	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("client_credentials for %s: %v", clientID, err)
	}
	return tok.AccessToken
}

// segment is the base64url JSON of v, one part of a compact JWS.
func segment(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// resignToken signs token's claims again, unchanged, with a key of the
// attacker's under the same kid and typ: a forgery.
func resignToken(t *testing.T, token string) string {
	t.Helper()
	header, _ := jwtParts(t, token)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := header["kid"].(string)
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[1])
	if err != nil {
		t.Fatal(err)
	}
	return keystest.SignJWS(t, jose.RS256, key, payload, "kid", kid, "typ", "JWT")
}

// algConfused mounts the algorithm-confusion attacks (RFC 8725 section
// 2.1) on token from the provider at srv: its claims under "alg" HS256,
// MACed with the provider's public RSA key from its JWKS as the secret (in
// PEM and in DER form), and under "alg" none with no signature.
func algConfused(t *testing.T, srv *httptest.Server, token string) (hsPEM, hsDER, none string) {
	t.Helper()
	header, _ := jwtParts(t, token)
	resp, err := srv.Client().Get(srv.URL + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		t.Fatal(err)
	}
	kid, _ := header["kid"].(string)
	keys := set.Key(kid)
	if len(keys) != 1 {
		t.Fatalf("JWKS has %d keys for kid %q; want 1", len(keys), kid)
	}
	der, err := x509.MarshalPKIXPublicKey(keys[0].Key)
	if err != nil {
		t.Fatal(err)
	}
	payload := strings.Split(token, ".")[1]
	signingInput := segment(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": kid}) + "." + payload
	mac := func(secret []byte) string {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(signingInput))
		return signingInput + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
	}
	none = segment(t, map[string]any{"alg": "none", "typ": "JWT", "kid": kid}) + "." + payload + "."
	return mac(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})), mac(der), none
}

// TestZitadelHarness checks what the provider really sends: typ "JWT",
// RS256, roles nested as Keycloak nests them, scopes in "scp", and the
// claims an assertion needs (iat, exp, jti).
func TestZitadelHarness(t *testing.T) {
	st := newZitadelStorage(map[string]zitadelService{"svc": {"s3cret", []string{"https://as.example"}, []string{"r1"}}})
	idp := serveZitadel(t, st)
	tok := zitadelToken(t, idp, "svc", "s3cret", "read")
	header, claims := jwtParts(t, tok)
	if header["typ"] != "JWT" || header["alg"] != "RS256" {
		t.Errorf("header = %v; want typ JWT, alg RS256", header)
	}
	ra, _ := claims["realm_access"].(map[string]any)
	if claims["iss"] != idp.URL || claims["sub"] != "svc" || ra == nil || claims["jti"] == nil || claims["iat"] == nil || claims["exp"] == nil ||
		strings.Join(strs(claims["scp"]), " ") != "read" {
		t.Errorf("claims = %v", claims)
	}
}
