package discovery

import (
	"encoding/json"
	"fmt"
	"net/http"
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
)

// Config is what the metadata is built from.
type Config struct {
	// Issuer is published exactly as given (RFC 8414 section 3.3).
	Issuer      string
	GrantTypes  []string
	AuthMethods []string
	Scopes      []string
	// Algorithms returns the signing algorithms of the published keys.
	Algorithms func() []string
	// MaxAge is the Cache-Control max-age of the documents and the JWKS.
	MaxAge time.Duration
}

// Metadata is the authorization server metadata (RFC 8414 section 2) with
// the OpenID Connect Discovery 1.0 fields (section 3) for what the server
// does. It advertises nothing the server does not do: ID tokens come from
// the password and refresh_token grants, signed with the keys of the JWKS;
// there is no authorization endpoint yet, so no response type.
type Metadata struct {
	Issuer                                    string   `json:"issuer"`
	TokenEndpoint                             string   `json:"token_endpoint"`
	JWKSURI                                   string   `json:"jwks_uri"`
	IntrospectionEndpoint                     string   `json:"introspection_endpoint"`
	RevocationEndpoint                        string   `json:"revocation_endpoint"`
	UserInfoEndpoint                          string   `json:"userinfo_endpoint"`
	GrantTypesSupported                       []string `json:"grant_types_supported"`
	ResponseTypesSupported                    []string `json:"response_types_supported"`
	ScopesSupported                           []string `json:"scopes_supported"`
	TokenEndpointAuthMethodsSupported         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionEndpointAuthMethodsSupported []string `json:"introspection_endpoint_auth_methods_supported"`
	RevocationEndpointAuthMethodsSupported    []string `json:"revocation_endpoint_auth_methods_supported"`
	SubjectTypesSupported                     []string `json:"subject_types_supported"`
	AccessTokenSigningAlgValuesSupported      []string `json:"access_token_signing_alg_values_supported"`
	IDTokenSigningAlgValuesSupported          []string `json:"id_token_signing_alg_values_supported"`
	ClaimsSupported                           []string `json:"claims_supported"`
}

// Build returns the metadata for cfg.
func Build(cfg Config) Metadata {
	base := strings.TrimSuffix(cfg.Issuer, "/")
	algs := cfg.Algorithms()
	return Metadata{
		Issuer:                            cfg.Issuer,
		TokenEndpoint:                     base + TokenPath,
		JWKSURI:                           base + JWKSPath,
		IntrospectionEndpoint:             base + IntrospectionPath,
		RevocationEndpoint:                base + RevocationPath,
		UserInfoEndpoint:                  base + UserInfoPath,
		GrantTypesSupported:               cfg.GrantTypes,
		ResponseTypesSupported:            []string{},
		ScopesSupported:                   cfg.Scopes,
		TokenEndpointAuthMethodsSupported: cfg.AuthMethods,
		IntrospectionEndpointAuthMethodsSupported: cfg.AuthMethods,
		RevocationEndpointAuthMethodsSupported:    cfg.AuthMethods,
		SubjectTypesSupported:                     []string{"public"},
		AccessTokenSigningAlgValuesSupported:      algs,
		IDTokenSigningAlgValuesSupported:          algs,
		ClaimsSupported: []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "roles",
			"auth_time", "azp", "at_hash", "preferred_username"},
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
