package memory

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gatehouse/gatehouse/storage"
)

func cloneIssuer(ti storage.TrustedIssuer) storage.TrustedIssuer {
	ti.Audiences = slices.Clone(ti.Audiences)
	ti.Algorithms = slices.Clone(ti.Algorithms)
	ti.RoleMap = maps.Clone(ti.RoleMap)
	return ti
}

// GetTrustedIssuer returns the trusted issuer with the given id.
func (s *Store) GetTrustedIssuer(ctx context.Context, id string) (storage.TrustedIssuer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ti, ok := s.issuers[id]
	if !ok {
		return storage.TrustedIssuer{}, fmt.Errorf("get trusted issuer %q: %w", id, storage.ErrNotFound)
	}
	return cloneIssuer(ti), nil
}

// GetTrustedIssuerByIssuer returns the trusted issuer whose Issuer is iss.
func (s *Store) GetTrustedIssuerByIssuer(ctx context.Context, iss string) (storage.TrustedIssuer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, ti := range s.issuers {
		if ti.Issuer == iss {
			return cloneIssuer(ti), nil
		}
	}
	return storage.TrustedIssuer{}, fmt.Errorf("get trusted issuer by issuer: %w", storage.ErrNotFound)
}

// issuerTaken reports whether another issuer than id has Issuer iss.
func (s *Store) issuerTaken(id, iss string) bool {
	for oid, o := range s.issuers {
		if oid != id && o.Issuer == iss {
			return true
		}
	}
	return false
}

// CreateTrustedIssuer stores a new trusted issuer.
func (s *Store) CreateTrustedIssuer(ctx context.Context, ti storage.TrustedIssuer) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.issuers[ti.ID]; ok {
		return fmt.Errorf("create trusted issuer %q: %w", ti.ID, storage.ErrAlreadyExists)
	}
	if s.issuerTaken(ti.ID, ti.Issuer) {
		return fmt.Errorf("create trusted issuer %q: issuer: %w", ti.ID, storage.ErrAlreadyExists)
	}
	return setMap(ctx, s.issuers, ti.ID, cloneIssuer(ti))
}

// UpdateTrustedIssuer applies fn to the stored issuer under the store's
// lock.
func (s *Store) UpdateTrustedIssuer(ctx context.Context, id string, fn func(storage.TrustedIssuer) (storage.TrustedIssuer, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.issuers[id]
	if !ok {
		return fmt.Errorf("update trusted issuer %q: %w", id, storage.ErrNotFound)
	}
	ti, err := fn(cloneIssuer(old))
	if err != nil {
		return err
	}
	ti.ID = id
	if s.issuerTaken(id, ti.Issuer) {
		return fmt.Errorf("update trusted issuer %q: issuer: %w", id, storage.ErrAlreadyExists)
	}
	return setMap(ctx, s.issuers, id, cloneIssuer(ti))
}

// DeleteTrustedIssuer removes a trusted issuer.
func (s *Store) DeleteTrustedIssuer(ctx context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.issuers[id]; !ok {
		return fmt.Errorf("delete trusted issuer %q: %w", id, storage.ErrNotFound)
	}
	return deleteMap(ctx, s.issuers, id)
}

// ListTrustedIssuers returns every trusted issuer ordered by id.
func (s *Store) ListTrustedIssuers(ctx context.Context) ([]storage.TrustedIssuer, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return sortedValues(s.issuers, cloneIssuer), nil
}
