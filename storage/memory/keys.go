package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"

	"github.com/gatehouse/gatehouse/storage"
)

var _ storage.KeyStore = (*Store)(nil)

func cloneSigningKey(k storage.SigningKey) storage.SigningKey {
	k.PrivateKeyEnc = slices.Clone(k.PrivateKeyEnc)
	k.PublicJWK = slices.Clone(k.PublicJWK)
	return k
}

func (s *Store) listSigningKeys() []storage.SigningKey {
	out := make([]storage.SigningKey, 0, len(s.signingKeys))
	for _, k := range s.signingKeys {
		out = append(out, cloneSigningKey(k))
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// ListSigningKeys returns every signing key, oldest first.
func (s *Store) ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.listSigningKeys(), nil
}

// UpdateSigningKeys applies fn to the signing keys under the store's lock.
func (s *Store) UpdateSigningKeys(ctx context.Context, fn func([]storage.SigningKey) ([]storage.SigningKey, error)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next, err := fn(s.listSigningKeys())
	if err != nil {
		return err
	}
	keep := make(map[string]bool, len(next))
	for _, k := range next {
		if k.ID == "" {
			return fmt.Errorf("update signing keys: key without id")
		}
		if keep[k.ID] {
			return fmt.Errorf("update signing keys: key %q twice: %w", k.ID, storage.ErrAlreadyExists)
		}
		keep[k.ID] = true
	}
	for id := range s.signingKeys {
		if !keep[id] {
			if err := deleteMap(ctx, s.signingKeys, id); err != nil {
				return err
			}
		}
	}
	for _, k := range next {
		if err := setMap(ctx, s.signingKeys, k.ID, cloneSigningKey(k)); err != nil {
			return err
		}
	}
	return nil
}
