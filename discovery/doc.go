// Package discovery serves the issuer's metadata: the OpenID Connect
// Discovery document (/.well-known/openid-configuration) and the RFC 8414
// authorization server metadata (/.well-known/oauth-authorization-server),
// both built from one Metadata value, and the JWKS (RFC 7517) from a
// key-set function. The client side, package discovery/verifier, lets
// services verify access tokens from any issuer's discovery document.
//
// It does not hold keys or configuration of its own: the caller passes
// both in.
package discovery
