// Package directory checks users against an LDAP directory (RFC 4511): the
// client behind Gatehouse's LDAP connectors.
//
// Authenticate finds a user with a search under a service account's bind
// (the username escaped with ldap.EscapeFilter, RFC 4515 section 3, so no
// input can change the filter's shape), binds as the one entry found with
// the password (RFC 4513 section 5.1.3; an empty password is refused before
// any bind, since an unauthenticated bind "succeeds"), and reads the names
// of the user's groups (which the connector maps to roles). Lookup reads a user
// again by the stable subject Authenticate returned, for a refresh: a user
// gone from the directory is ErrGone.
//
// Every operation opens its own connection and is bounded as a whole by
// Config.Timeout (and by its context): a slow directory costs a request at
// most that long. Errors say which of three things happened: the
// credentials are wrong (ErrInvalidCredentials), the user is gone (ErrGone),
// or the directory could not answer (ErrUnavailable: network, timeouts,
// server busy, the service account refused), which callers must not report
// as a wrong password.
//
// The package owns the LDAP conversation only. It imports nothing of
// Gatehouse: where connectors are stored, how directory users become
// Gatehouse users and how attempts are throttled belong to its callers.
package directory
