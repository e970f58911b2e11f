package admin

import (
	"errors"
	"fmt"

	"github.com/gatehouse/gatehouse/storage"
)

// FieldError reports an input that admin rules refuse. Field is the
// input's JSON name ("grant_types", "claims.sub"); the HTTP API answers 400
// invalid_request naming it, the CLI names the matching flag.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Reason }

func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ConflictError reports a unique value that is taken: a client id or name,
// or a username. It matches storage.ErrAlreadyExists with errors.Is; the
// HTTP API answers 409.
type ConflictError struct {
	Field  string
	Reason string
}

func (e *ConflictError) Error() string { return e.Field + ": " + e.Reason }

// Unwrap makes errors.Is(err, storage.ErrAlreadyExists) hold.
func (e *ConflictError) Unwrap() error { return storage.ErrAlreadyExists }

// NotFoundError reports an unknown client or user. It matches
// storage.ErrNotFound with errors.Is; the HTTP API answers 404.
type NotFoundError struct {
	// Kind is "client" or "user".
	Kind string
	ID   string
}

func (e *NotFoundError) Error() string { return fmt.Sprintf("%s %q not found", e.Kind, e.ID) }

// Unwrap makes errors.Is(err, storage.ErrNotFound) hold.
func (e *NotFoundError) Unwrap() error { return storage.ErrNotFound }

// recordErr is the service's error for a store call on record id of kind:
// nil for nil, a NotFoundError when the store found no such record,
// otherwise err wrapped with op.
func recordErr(err error, kind, id, op string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, storage.ErrNotFound):
		return &NotFoundError{Kind: kind, ID: id}
	}
	return fmt.Errorf("%s: %w", op, err)
}
