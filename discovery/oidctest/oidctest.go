// Package oidctest runs an OpenID provider that nobody here wrote,
// zitadel/oidc's pkg/op, in-process on an httptest TLS server with its
// example in-memory storage, for tests of code that trusts third-party
// tokens: the verifier that services import, and Gatehouse's federation
// (the JWT bearer grant, token exchange). Its machine clients (Service) get
// JWT access tokens with the client_credentials grant, signed RS256 with
// typ "JWT" as real providers sign them, that carry their roles as Keycloak
// nests them ({"realm_access": {"roles": [...]}}) and their scopes in "scp"
// as Entra ID and Okta do.
package oidctest

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// Service is a machine client of the provider: its secret, the audience
// its tokens are for, and its roles in the provider.
type Service struct {
	Secret   string
	Audience []string
	Roles    []string
}

// Storage is zitadel/oidc's example storage with three methods overridden
// the way an operator configures a provider: service clients get JWT
// access tokens for their own audience, with roles and "scp" through the
// private-claims hook. Services may be added while the provider runs.
type Storage struct {
	*storage.Storage
	mu       sync.Mutex
	services map[string]Service
}

// NewStorage returns a storage with the given services and no users.
func NewStorage(services map[string]Service) *Storage {
	if services == nil {
		services = map[string]Service{}
	}
	// The user store's issuer is a placeholder: no user logs in here.
	base := storage.NewStorageWithClients(storage.NewUserStore("https://localhost"), map[string]*storage.Client{})
	return &Storage{Storage: base, services: services}
}

// SetService adds or replaces a service client.
func (s *Storage) SetService(id string, svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.services[id] = svc
}

// Service returns the service client id.
func (s *Storage) Service(id string) (Service, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	svc, ok := s.services[id]
	return svc, ok
}

// ClientCredentials authenticates a service client.
func (s *Storage) ClientCredentials(ctx context.Context, clientID, clientSecret string) (op.Client, error) {
	svc, ok := s.Service(clientID)
	if !ok || svc.Secret != clientSecret {
		return nil, errors.New("wrong client id or secret")
	}
	return jwtClient{storage.WebClient(clientID, clientSecret)}, nil
}

// ClientCredentialsTokenRequest makes the service's token: for itself, for
// its audience.
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	svc, ok := s.Service(clientID)
	if !ok {
		return nil, errors.New("unknown client")
	}
	return &oidc.JWTTokenRequest{Subject: clientID, Audience: svc.Audience, Scopes: scopes}, nil
}

// GetPrivateClaimsFromScopes adds the service's roles and scopes.
func (s *Storage) GetPrivateClaimsFromScopes(ctx context.Context, userID, clientID string, scopes []string) (map[string]any, error) {
	svc, _ := s.Service(clientID)
	return map[string]any{"realm_access": map[string]any{"roles": svc.Roles}, "scp": scopes}, nil
}

// jwtClient is the example's web client allowed client_credentials and
// given JWT access tokens (the example issues opaque ones).
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (jwtClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeClientCredentials}
}

// Serve runs the provider over st on an httptest TLS server, closed when
// the test ends; its issuer is the server's URL, and srv.Client() trusts
// its certificate.
func Serve(t testing.TB, st op.Storage) *httptest.Server {
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

// Token gets an access token from the provider at srv with the
// client_credentials grant (RFC 6749 section 4.4), through x/oauth2 and the
// token endpoint the provider's discovery document names.
func Token(t testing.TB, srv *httptest.Server, clientID, secret string, scopes ...string) string {
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
