// Package oauth is Gatehouse's OAuth 2.0 protocol layer. It composes fosite
// with exactly the grants Gatehouse serves (client_credentials, password,
// refresh_token) plus introspection (RFC 7662) and revocation (RFC 7009),
// adapts fosite's storage interfaces onto the storage contract, builds the
// RFC 9068 access-token claims from the stored client and user, hashes
// client secrets (SHA-256, design D4) and user passwords (argon2id, D5),
// bounds how many password hashes run and wait, throttles password guessing
// through counters kept in the store (throttle.go: per username and
// address, per username, per address) with the client address taken from
// trusted proxies only (clientaddr.go), and is the only package that turns
// errors into RFC 6749 error responses. Every request passes one input
// boundary first (checkInput in form.go): text no store can hold and
// over-long values are invalid_request before fosite, the throttle or a
// store sees them (design D9). An Observer, when configured, hears what
// each request did, for metrics and the access log.
//
// Federation (design D14) enters through verifyTrusted (federation.go): a
// token of a registered trusted issuer, checked by that issuer's own
// discovery/verifier instance whose HTTP client reaches only the issuer's
// hosts (federation_fetch.go), and mapped to a Gatehouse user or client.
// The JWT bearer grant (RFC 7523, grant_jwt_bearer.go) is built on it.
//
// Connectors bring users of other identity providers in (design D14):
// LinkIdentity ties an upstream identity to a Gatehouse user for both
// kinds, and the refresh grant re-reads linked users through each kind's
// UpstreamRereader. The LDAP kind (connector_ldap.go) checks a password
// grant's or login form's credentials against the enabled directories
// when the username has no local password, under the same throttle, with
// package directory as its client.
//
// It does not own keys (package keys signs), the database (package
// storage), discovery documents (package discovery), or the LDAP
// conversation (package directory).
package oauth
