package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Endpoint paths, relative to the issuer.
const (
	OpenIDConfigurationPath = "/.well-known/openid-configuration"
	OAuthMetadataPath       = "/.well-known/oauth-authorization-server"
	JWKSPath                = "/.well-known/jwks.json"
	TokenPath               = "/oauth2/token"
	IntrospectionPath       = "/oauth2/introspect"
	RevocationPath          = "/oauth2/revoke"
	UserInfoPath            = "/userinfo"
	AuthorizationPath       = "/oauth2/authorize"
	EndSessionPath          = "/oauth2/logout"
)

// Config is what the metadata is built from.
type Config struct {
	// Issuer is published exactly as given (RFC 8414 section 3.3).
	Issuer      string
	GrantTypes  []string
	AuthMethods []string
	// AuthSigningAlgs are the JWS algorithms accepted for private_key_jwt
	// client assertions; required when AuthMethods lists private_key_jwt
	// (OIDC Discovery 1.0 section 3, RFC 8414 section 2).
	AuthSigningAlgs []string
	Scopes          []string
	// Algorithms returns the algorithms access tokens are signed with.
	Algorithms func() []string
	// IDTokenAlgorithms returns the algorithms ID tokens are signed with;
	// nil means Algorithms. OpenID Connect Discovery 1.0 section 3
	// requires RS256 among them.
	IDTokenAlgorithms func() []string
	// MaxAge is the Cache-Control max-age of the documents and the JWKS.
	MaxAge time.Duration
}

// Metadata is the authorization server metadata (RFC 8414 section 2) with
// the OpenID Connect Discovery 1.0 fields (section 3) for what the server
// does: the authorization code flow with S256 PKCE only (the one response
// type, "code"), the iss response parameter (RFC 9207), ID tokens signed
// with RS256 keys of the JWKS. It advertises nothing the server does not do.
type Metadata struct {
	Issuer                                    string   `json:"issuer"`
	AuthorizationEndpoint                     string   `json:"authorization_endpoint"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	UserInfoEndpoint                          string   `json:"userinfo_endpoint"`
	EndSessionEndpoint                        string   `json:"end_session_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	ResponseModesSupported                    []string `json:"response_modes_supported"`
	CodeChallengeMethodsSupported             []string `json:"code_challenge_methods_supported"`
	AuthorizationResponseIssParameter         bool     `json:"authorization_response_iss_parameter_supported"`
	ScopesSupported                           []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	// The signing algorithms of private_key_jwt assertions, per endpoint.
	TokenEndpointAuthSigningAlgValuesSupported         []string `json:"token_endpoint_auth_signing_alg_values_supported,omitempty"`
	IntrospectionEndpointAuthSigningAlgValuesSupported []string `json:"introspection_endpoint_auth_signing_alg_values_supported,omitempty"`
	RevocationEndpointAuthSigningAlgValuesSupported    []string `json:"revocation_endpoint_auth_signing_alg_values_supported,omitempty"`
	SubjectTypesSupported                              []string `json:"subject_types_supported"`
	AccessTokenSigningAlgValuesSupported               []string `json:"access_token_signing_alg_values_supported"`
	IDTokenSigningAlgValuesSupported                   []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                                    []string `json:"claims_supported"`
}

// Build returns the metadata for cfg.
func Build(cfg Config) Metadata {
	base := strings.TrimSuffix(cfg.Issuer, "/")
	algs := cfg.Algorithms()
	idAlgs := algs
	if cfg.IDTokenAlgorithms != nil {
		idAlgs = cfg.IDTokenAlgorithms()
	}
	var authAlgs []string
	if slices.Contains(cfg.AuthMethods, "private_key_jwt") {
		authAlgs = cfg.AuthSigningAlgs
	}
	return Metadata{
		Issuer:                            cfg.Issuer,
		AuthorizationEndpoint:             base + AuthorizationPath,
		TokenEndpoint:                     base + TokenPath,
		JWKSURI:                           base + JWKSPath,
		IntrospectionEndpoint:             base + IntrospectionPath,
		RevocationEndpoint:                base + RevocationPath,
		UserInfoEndpoint:                  base + UserInfoPath,
		EndSessionEndpoint:                base + EndSessionPath,
		GrantTypesSupported:               cfg.GrantTypes,
		ResponseTypesSupported:            []string{"code"},
		ResponseModesSupported:            []string{"query"},
		CodeChallengeMethodsSupported:     []string{"S256"},
		AuthorizationResponseIssParameter: true,
		ScopesSupported:                   cfg.Scopes,
		// Public clients (RFC 6749 section 2.1) authenticate with none.
		TokenEndpointAuthMethodsSupported:                  append(slices.Clone(cfg.AuthMethods), "none"),
		IntrospectionEndpointAuthMethodsSupported:          cfg.AuthMethods,
		RevocationEndpointAuthMethodsSupported:             cfg.AuthMethods,
		TokenEndpointAuthSigningAlgValuesSupported:         authAlgs,
		IntrospectionEndpointAuthSigningAlgValuesSupported: authAlgs,
		RevocationEndpointAuthSigningAlgValuesSupported:    authAlgs,
		SubjectTypesSupported:                              []string{"public"},
		AccessTokenSigningAlgValuesSupported:               algs,
		IDTokenSigningAlgValuesSupported:                   idAlgs,
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "roles",
			"auth_time", "azp", "at_hash", "nonce", "amr", "preferred_username", "name", "email", "email_verified"},
	}
}

// MetadataHandler serves the metadata document; mount it at both
// OpenIDConfigurationPath and OAuthMetadataPath.
func MetadataHandler(cfg Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := json.Marshal(Build(cfg))
		if err != nil {
			http.Error(w, `{"error":"server_error"}`, http.StatusInternalServerError)
			return
		}
		serveJSON(w, r, body, cfg.MaxAge, "application/json")
	})
}

// JWKSHandler serves the JSON Web Key Set that jwks returns.
func JWKSHandler(jwks func() []byte, maxAge time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveJSON(w, r, jwks(), maxAge, "application/jwk-set+json")
	})
}

func serveJSON(w http.ResponseWriter, r *http.Request, body []byte, maxAge time.Duration, contentType string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		w.Write([]byte(`{"error":"invalid_request","error_description":"Use GET."}`))
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", fmt.Sprintf("public, max-age=%d", int(maxAge.Seconds())))
	h.Set("Access-Control-Allow-Origin", "*")
	w.Write(body)
}
