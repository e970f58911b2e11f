package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/compose"
	fstorage "github.com/ory/fosite/storage"
)

// A grant fosite does not know is served by ownGrantHandler as fosite's
// client_credentials handler serves its own: only a confidential client
// that registered the grant, only its scopes and audiences, an access
// token and no refresh token. Without the handler fosite answers
// invalid_request (FOSITE-OIDC.md "Not in fosite").
func TestOwnGrantHandler(t *testing.T) {
	const grant = "urn:example:params:oauth:grant-type:test"
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	fc := &fosite.Config{
		AccessTokenLifespan:      time.Minute,
		ScopeStrategy:            fosite.ExactScopeStrategy,
		AudienceMatchingStrategy: audienceStrategy,
		ClientSecretsHasher:      secretHasher{},
		GlobalSecret:             []byte(strings.Repeat("k", 32)),
	}
	store := fstorage.NewMemoryStore()
	secret := HashClientSecret("s")
	store.Clients["svc"] = &fosite.DefaultClient{ID: "svc", Secret: secret, GrantTypes: []string{grant},
		Scopes: []string{"read", "write"}, Audience: []string{"https://api.example"}}
	store.Clients["other"] = &fosite.DefaultClient{ID: "other", Secret: secret, GrantTypes: []string{"client_credentials"},
		Scopes: []string{"read"}}
	store.Clients["public"] = &fosite.DefaultClient{ID: "public", Public: true, GrantTypes: []string{grant}, Scopes: []string{"read"}}
	own := func(gt string) bool { return gt == grant }
	provider := compose.Compose(fc, store, compose.NewOAuth2HMACStrategy(fc), ownGrantFactory(own, func() time.Time { return now }))
	bare := compose.Compose(&fosite.Config{ClientSecretsHasher: secretHasher{}, GlobalSecret: fc.GlobalSecret}, store, compose.NewOAuth2HMACStrategy(fc))

	request := func(p fosite.OAuth2Provider, id string, form url.Values) (fosite.AccessResponder, error) {
		req := httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if id == "public" {
			form.Set("client_id", id)
			req = httptest.NewRequest(http.MethodPost, "/token", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		} else {
			req.SetBasicAuth(id, "s")
		}
		ctx := context.Background()
		ar, err := p.NewAccessRequest(ctx, req, newSession())
		if err != nil {
			return nil, err
		}
		return p.NewAccessResponse(ctx, ar)
	}

	resp, err := request(provider, "svc", url.Values{"grant_type": {grant}, "scope": {"read"}, "audience": {"https://api.example"}})
	if err != nil {
		t.Fatalf("allowed request: %v", err)
	}
	if resp.GetAccessToken() == "" || resp.GetTokenType() != "bearer" || resp.GetExtra("refresh_token") != nil {
		t.Errorf("response = %q %q refresh %v; want an access token, bearer, no refresh token",
			resp.GetAccessToken(), resp.GetTokenType(), resp.GetExtra("refresh_token"))
	}
	// Granting scopes and audiences is the grant's claims function's
	// work (token.go), as for client_credentials (grantRequested).

	for _, tc := range []struct {
		name   string
		p      fosite.OAuth2Provider
		client string
		form   url.Values
		want   string
	}{
		{"client without the grant", provider, "other", url.Values{"grant_type": {grant}}, "unauthorized_client"},
		{"public client", provider, "public", url.Values{"grant_type": {grant}}, "unauthorized_client"},
		{"scope beyond the client's", provider, "svc", url.Values{"grant_type": {grant}, "scope": {"admin"}}, "invalid_scope"},
		{"audience beyond the client's", provider, "svc", url.Values{"grant_type": {grant}, "audience": {"https://other.example"}}, "invalid_target"},
		{"another unknown grant", provider, "svc", url.Values{"grant_type": {grant + "2"}}, "invalid_request"},
		{"no handler: what fosite says", bare, "svc", url.Values{"grant_type": {grant}}, "invalid_request"},
	} {
		_, err := request(tc.p, tc.client, tc.form)
		var rfc *fosite.RFC6749Error
		if !errors.As(err, &rfc) || rfc.ErrorField != tc.want {
			t.Errorf("%s: err = %v; want %s", tc.name, err, tc.want)
		}
	}
}
