// Package verifier lets a resource server (an API protected by Gatehouse or
// another OAuth 2.0 authorization server) check the JWT access tokens it
// receives, and protects net/http handlers with them.
//
// A Verifier is built from an issuer URL and the audience the service
// answers to. It discovers the issuer's metadata (OpenID Connect Discovery
// 1.0 §4, RFC 8414 §3), checks that the metadata names the same issuer
// (RFC 8414 §3.3), fetches the JSON Web Key Set it points at (RFC 7517 §5),
// and verifies access tokens as RFC 9068 §4 prescribes: the signing
// algorithm must be on an explicit allow-list (never "none", never an HMAC),
// the "typ" header must be "at+jwt" (or another configured type), "iss" must
// equal the issuer exactly, "aud" must contain the audience, and "exp",
// "nbf" and "iat" are checked with a small leeway (RFC 7519 §4.1).
//
// JOSE goes through go-jose v4 only: the token is parsed with
// jose.ParseSignedCompact and the allow-list, and its signature checked with
// JSONWebSignature.Verify. The registered claims are checked by
// ValidateClaims, which Gatehouse's own introspection and admin API use
// too, so that every verifier applies one rule with one leeway.
//
// Keys are only ever taken from the issuer's JWKS and selected by "kid";
// the "jku", "x5u", "jwk" and "x5c" header parameters (RFC 7515 §4.1.2 to
// §4.1.6) are ignored. The key set is cached for the max-age the JWKS
// response advertises, refetched at most once per MinRefreshInterval when a
// token names an unknown key (so forged kids cannot amplify requests to the
// issuer), and kept when a refresh fails so a brief issuer outage does not
// take the service down.
//
// Middleware, RequireScopes and RequireRoles turn a Verifier into net/http
// middleware that answers with the RFC 6750 §3 WWW-Authenticate challenges;
// handlers read the verified Claims with ClaimsFromContext.
//
// The defaults read Gatehouse's tokens: roles from the root "roles" claim,
// scopes from "scope". For another issuer, Config.RolesClaim is a ClaimPath
// into nested claims (Keycloak's realm_access.roles, Auth0's namespaced
// "https://example.com/roles"), Config.RoleMap an allow-list from the
// issuer's role names to the service's, and Config.ScopeClaims the claims
// scopes are read from in order of precedence ("scp" for Entra ID and Okta).
//
// The package owns token verification on the resource-server side only. It
// does not issue tokens, introspect opaque tokens (RFC 7662) or hold any
// signing key; those belong to the oauth and keys packages.
package verifier
