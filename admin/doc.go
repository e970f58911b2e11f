// Package admin is Gatehouse's administration: the rules for creating,
// changing and deleting clients, users and trusted issuers (Service, with
// issuers.go for the external issuers of design D14), the admin HTTP API
// over them (NewHandler, described by the embedded OpenAPI 3 document), the
// bearer-token check that guards that API (RequireAdmin, NewAuth), and the
// first-start bootstrap of an admin client (Bootstrap).
//
// Service is the one place admin rules live; the CLI in cmd/gatehouse and
// the HTTP API both call it. It validates every input and reports the
// offending field (*FieldError), turns a taken username or client name into
// a *ConflictError, generates client secrets (design D4) and passwords that
// are shown once, makes security-relevant changes take effect at once
// (disabling or deleting a user or client revokes its refresh-token families
// and denies their ids, so that their access tokens show inactive at
// introspection, design D2; for a user, also ends its login sessions,
// design D13), checks the redirect URIs and web origins of browser and
// native-app clients (uris.go), and writes an "audit" log event for every
// change, never with a secret, a password or a hash. The HTTP API refuses
// NUL characters, invalid UTF-8 and over-long values in a request's path,
// query and JSON body (input.go) before the Service or a store sees them.
//
// The package does not issue or verify tokens itself (package oauth issues
// them; discovery/verifier verifies the admin API's bearer tokens exactly
// as any resource server does) and owns no storage (package storage).
package admin
