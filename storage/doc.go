// Package storage holds Gatehouse's storage contract: the plain value types
// (clients, users, refresh tokens, deny-list entries, login-attempt
// counters, authorization codes, login sessions, used assertions, trusted
// issuers), the sentinel errors a
// store reports, and the interfaces each consumer needs.
//
// It does not hold any store: the embedded store is storage/memory, the
// production store storage/postgres, and both pass the conformance suite in
// storage/storagetest. The contract knows nothing of fosite's request types;
// package oauth adapts fosite's storage interfaces onto it. It reuses fosite's
// sentinel errors (ErrNotFound, ErrInactiveToken, ErrInvalidatedCode) so that
// outcomes travel through fosite's grant handlers unchanged. ValidText is the
// text every store holds unchanged; callers refuse anything else at their
// boundary.
//
// Transactions travel in the context (BeginTX returns a context that the
// store's methods recognise), exactly as fosite's storage.Transactional
// expects, so one refresh-token rotation is one transaction.
package storage
