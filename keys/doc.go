// Package keys owns Gatehouse's asymmetric signing keys: it generates them,
// holds the parsed key set in memory, signs access tokens with the active
// key, verifies tokens by kid against the published keys, and builds the
// JWKS (RFC 7517). It never hands out private key material: the JWKS and
// every exported view carry public members only.
//
// The signer holds parsed keys and a ready go-jose signer per key, so
// signing a token costs one signature plus encoding; nothing is decrypted,
// parsed or read from a database per token.
package keys
