package admin

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Token endpoint authentication methods as RFC 7591 section 2 names them.
const (
	authSecretBasic   = "client_secret_basic"
	authSecretPost    = "client_secret_post"
	authPrivateKeyJWT = "private_key_jwt"
	authNone          = "none"
)

// maxJWKSJSON bounds a registered JWK Set, in bytes.
const maxJWKSJSON = 32 << 10

// clientAuth is a validated authentication method with its keys.
type clientAuth struct {
	method  string // storage.AuthMethod*
	jwks    []byte
	jwksURI string
	algs    []string
}

// authMethodView is the RFC 7591 name of c's method.
func authMethodView(c storage.Client) string {
	switch {
	case c.Public:
		return authNone
	case c.AuthMethod == storage.AuthMethodPrivateKeyJWT:
		return authPrivateKeyJWT
	}
	return authSecretBasic
}

// cleanClientAuth checks how a client authenticates: client_secret_basic
// or client_secret_post (a server-generated secret, design D4; both
// methods work for such a client), private_key_jwt (RFC 7523 section 2.2:
// public keys only, inline or at an https jwks_uri, and the algorithms
// allowed), or none, which is a public client's.
func cleanClientAuth(p ClientParams) (clientAuth, error) {
	var a clientAuth
	hasJWKS := len(bytes.TrimSpace(p.JWKS)) > 0 && string(bytes.TrimSpace(p.JWKS)) != "null"
	method := p.TokenEndpointAuthMethod
	if method == "" {
		method = authSecretBasic
		if p.Public {
			method = authNone
		}
	}
	switch method {
	case authNone:
		if !p.Public {
			return a, fieldErr("token_endpoint_auth_method", "none is a public client's method: set public")
		}
	case authSecretBasic, authSecretPost:
		if p.Public {
			return a, fieldErr("token_endpoint_auth_method", "a public client has no secret (RFC 6749 section 2.1): use none")
		}
	case authPrivateKeyJWT:
		if p.Public {
			return a, fieldErr("token_endpoint_auth_method", "a public client has no keys (RFC 6749 section 2.1): use none")
		}
		a.method = storage.AuthMethodPrivateKeyJWT
	default:
		return a, fieldErr("token_endpoint_auth_method", "%q is not supported (want client_secret_basic, private_key_jwt or none)", method)
	}
	if a.method != storage.AuthMethodPrivateKeyJWT {
		switch {
		case hasJWKS:
			return a, fieldErr("jwks", "keys are for the private_key_jwt method only")
		case p.JWKSURI != "":
			return a, fieldErr("jwks_uri", "keys are for the private_key_jwt method only")
		case len(p.TokenEndpointAuthSigningAlgs) > 0:
			return a, fieldErr("token_endpoint_auth_signing_algs", "algorithms are for the private_key_jwt method only")
		}
		return a, nil
	}
	switch {
	case hasJWKS == (p.JWKSURI != ""):
		return a, fieldErr("jwks", "private_key_jwt takes exactly one of jwks and jwks_uri")
	case hasJWKS:
		if len(p.JWKS) > maxJWKSJSON {
			return a, fieldErr("jwks", "is longer than %d bytes", maxJWKSJSON)
		}
		b, err := oauth.CanonicalClientJWKS(p.JWKS)
		if err != nil {
			return a, fieldErr("jwks", "%v", err)
		}
		a.jwks = b
	default:
		if err := checkURIText("jwks_uri", p.JWKSURI); err != nil {
			return a, err
		}
		if err := oauth.CheckJWKSURI(p.JWKSURI); err != nil {
			return a, fieldErr("jwks_uri", "%q %v", p.JWKSURI, err)
		}
		a.jwksURI = p.JWKSURI
	}
	algs, err := cleanList("token_endpoint_auth_signing_algs", p.TokenEndpointAuthSigningAlgs, func(alg string) error {
		for _, ok := range oauth.AssertionAlgorithms() {
			if alg == ok {
				return nil
			}
		}
		return fieldErr("token_endpoint_auth_signing_algs", "%q is not accepted (want %s; never none or HS*)", alg, strings.Join(oauth.AssertionAlgorithms(), ", "))
	})
	if err != nil {
		return a, err
	}
	if len(algs) == 0 {
		algs = oauth.AssertionAlgorithms()
	}
	a.algs = algs
	return a, nil
}

// rawJWKS is a stored JWK Set as the admin view shows it.
func rawJWKS(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	return json.RawMessage(b)
}
