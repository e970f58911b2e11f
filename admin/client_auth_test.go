package admin

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func jwkJSON(t *testing.T, key any, kid, use, alg string) string {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKey{Key: key, KeyID: kid, Use: use, Algorithm: alg})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestPrivateKeyJWTRegistration: a private_key_jwt client registers public
// signature keys only (RFC 7523 section 2.2, RFC 7517), gets no secret,
// and every other JWK is refused at registration with the field named.
func TestPrivateKeyJWTRegistration(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New(), time.Now, &syncBuffer{})
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ec224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	ec2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	pub := jwkJSON(t, &ec.PublicKey, "k1", "sig", "ES256")
	set := func(keys ...string) json.RawMessage {
		return json.RawMessage(`{"keys":[` + strings.Join(keys, ",") + `]}`)
	}
	pk := func(p ClientParams) ClientParams {
		p.Name, p.GrantTypes, p.TokenEndpointAuthMethod = "k-"+time.Now().Format("150405.000000000"), []string{"client_credentials"}, authPrivateKeyJWT
		return p
	}

	c, err := svc.CreateClient(ctx, pk(ClientParams{JWKS: set(pub), TokenEndpointAuthSigningAlgs: []string{"ES256"}}))
	if err != nil {
		t.Fatalf("CreateClient(private_key_jwt, jwks) = %v", err)
	}
	if c.ClientSecret != "" || c.TokenEndpointAuthMethod != authPrivateKeyJWT || len(c.JWKS) == 0 {
		t.Errorf("CreateClient = secret %q, method %q, jwks %s; want no secret, private_key_jwt, the keys", c.ClientSecret, c.TokenEndpointAuthMethod, c.JWKS)
	}
	stored, _ := svc.store.GetClient(ctx, c.ID)
	if stored.SecretHash != nil || stored.AuthMethod != storage.AuthMethodPrivateKeyJWT {
		t.Errorf("stored client: secret hash %x, method %q; want none, private_key_jwt", stored.SecretHash, stored.AuthMethod)
	}
	if _, err := svc.RotateClientSecret(ctx, c.ID, RotateParams{}); err == nil {
		t.Error("RotateClientSecret(private_key_jwt client) succeeded; it has no secret")
	}
	u, err := svc.CreateClient(ctx, pk(ClientParams{JWKSURI: "https://keys.example.com/jwks.json"}))
	if err != nil || len(u.TokenEndpointAuthSigningAlgs) != 9 {
		t.Fatalf("CreateClient(private_key_jwt, jwks_uri) = %+v, %v; want the nine default algorithms", u.TokenEndpointAuthSigningAlgs, err)
	}

	for _, tc := range []struct {
		name  string
		p     ClientParams
		field string
	}{
		{"private part", pk(ClientParams{JWKS: set(jwkJSON(t, ec, "k1", "sig", "ES256"))}), "jwks"},
		{"symmetric key", pk(ClientParams{JWKS: set(`{"kty":"oct","k":"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0","kid":"h"}`)}), "jwks"},
		{"encryption key", pk(ClientParams{JWKS: set(jwkJSON(t, &ec.PublicKey, "k1", "enc", ""))}), "jwks"},
		{"alg none", pk(ClientParams{JWKS: set(strings.Replace(pub, `"ES256"`, `"none"`, 1))}), "jwks"},
		{"alg HS256", pk(ClientParams{JWKS: set(strings.Replace(pub, `"ES256"`, `"HS256"`, 1))}), "jwks"},
		{"small RSA", pk(ClientParams{JWKS: set(jwkJSON(t, &rsa1024.PublicKey, "r", "", ""))}), "jwks"},
		{"P-224", pk(ClientParams{JWKS: set(`{"kty":"EC","crv":"P-224","x":"` + b64(ec224.X.Bytes()) + `","y":"` + b64(ec224.Y.Bytes()) + `"}`)}), "jwks"},
		{"two keys without kid", pk(ClientParams{JWKS: set(jwkJSON(t, &ec.PublicKey, "", "", ""), jwkJSON(t, &ec2.PublicKey, "", "", ""))}), "jwks"},
		{"duplicate kid", pk(ClientParams{JWKS: set(pub, pub)}), "jwks"},
		{"empty set", pk(ClientParams{JWKS: set()}), "jwks"},
		{"not a set", pk(ClientParams{JWKS: json.RawMessage(`[1,2]`)}), "jwks"},
		{"no keys", pk(ClientParams{}), "jwks"},
		{"both jwks and jwks_uri", pk(ClientParams{JWKS: set(pub), JWKSURI: "https://k.example/j"}), "jwks"},
		{"http jwks_uri", pk(ClientParams{JWKSURI: "http://keys.example.com/jwks.json"}), "jwks_uri"},
		{"jwks_uri with user", pk(ClientParams{JWKSURI: "https://u:p@keys.example.com/jwks.json"}), "jwks_uri"},
		{"alg none allowed", pk(ClientParams{JWKS: set(pub), TokenEndpointAuthSigningAlgs: []string{"none"}}), "token_endpoint_auth_signing_algs"},
		{"alg HS256 allowed", pk(ClientParams{JWKS: set(pub), TokenEndpointAuthSigningAlgs: []string{"HS256"}}), "token_endpoint_auth_signing_algs"},
		{"keys for a secret client", ClientParams{Name: "s1", GrantTypes: []string{"client_credentials"}, JWKS: set(pub)}, "jwks"},
		{"public private_key_jwt", ClientParams{Name: "p1", GrantTypes: []string{"authorization_code"}, RedirectURIs: []string{"https://a.example/cb"},
			Public: true, TokenEndpointAuthMethod: authPrivateKeyJWT, JWKS: set(pub)}, "token_endpoint_auth_method"},
		{"unknown method", ClientParams{Name: "u1", GrantTypes: []string{"client_credentials"}, TokenEndpointAuthMethod: "client_secret_jwt"}, "token_endpoint_auth_method"},
	} {
		_, err := svc.CreateClient(ctx, tc.p)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: CreateClient = %v; want a field error on %s", tc.name, err, tc.field)
		}
	}

	// A secret client that moves to private_key_jwt loses its secret;
	// moving back leaves it without one until rotate-secret.
	s, err := svc.CreateClient(ctx, ClientParams{Name: "moving", GrantTypes: []string{"client_credentials"}})
	if err != nil || s.ClientSecret == "" {
		t.Fatalf("CreateClient(secret) = %v", err)
	}
	m, jw := authPrivateKeyJWT, set(pub)
	if _, err := svc.UpdateClient(ctx, s.ID, ClientPatch{TokenEndpointAuthMethod: &m, JWKS: &jw}); err != nil {
		t.Fatalf("UpdateClient(to private_key_jwt) = %v", err)
	}
	if got, _ := svc.store.GetClient(ctx, s.ID); got.SecretHash != nil || got.AuthMethod != storage.AuthMethodPrivateKeyJWT {
		t.Errorf("after the move: secret hash %x, method %q", got.SecretHash, got.AuthMethod)
	}
	uri := "https://keys.example.com/moving.json"
	if v, err := svc.UpdateClient(ctx, s.ID, ClientPatch{JWKSURI: &uri}); err != nil || v.JWKS != nil || v.JWKSURI != uri {
		t.Errorf("UpdateClient(jwks_uri) = %+v, %v; want the URI replacing the inline keys", v, err)
	}
	back := authSecretBasic
	v, err := svc.UpdateClient(ctx, s.ID, ClientPatch{TokenEndpointAuthMethod: &back})
	if err != nil || v.JWKSURI != "" || v.TokenEndpointAuthMethod != authSecretBasic {
		t.Fatalf("UpdateClient(back to client_secret_basic) = %+v, %v", v, err)
	}
	if _, err := svc.RotateClientSecret(ctx, s.ID, RotateParams{}); err != nil {
		t.Errorf("RotateClientSecret after moving back = %v", err)
	}
}
