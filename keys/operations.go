package keys

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/storage"
)

// Rotation is the outcome of Rotate.
type Rotation struct {
	// Active is the kid that signs after the call.
	Active string
	// Retired is the kid the call retired; empty when the rotation is
	// pending.
	Retired string
	// Next is the kid published to sign next.
	Next string
	// Pending is set when the next key has not been published for
	// PublishLead yet: the rotation then happens at At, carried out by
	// any running instance (Run).
	Pending bool
	At      time.Time
	// IDToken is the kid that signs ID tokens after the call: the RS256
	// line, which rotates with the same schedule (Set.IDToken); equal to
	// Active when the access-token algorithm is RS256.
	IDToken string
}

// Rotate replaces the active keys on demand (the access-token key and the
// RS256 ID-token key): the next key signs at once if it has been published
// for PublishLead, or as soon as it has; either way a new next key is
// published. The Rotation reports the access-token line. Calling it again before a pending rotation
// has happened changes nothing. It is a compare-and-swap in the store, so
// concurrent calls from several instances rotate once.
func (m *Manager) Rotate(ctx context.Context) (Rotation, error) {
	if m.opts.Secrets == nil {
		return Rotation{}, ErrNoSecrets
	}
	now := m.now()
	var before []storage.SigningKey
	var after []storage.SigningKey
	err := m.store.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		if err := m.openAll(old); err != nil {
			return nil, err
		}
		out, changed, err := planAll(m.opts, old, now, true, m.generate)
		before, after = old, out
		if err == nil && !changed {
			err = errNoChange
		}
		return out, err
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return Rotation{}, fmt.Errorf("keys: rotate: %w", err)
	}
	var r Rotation
	was := map[string]string{}
	for _, k := range before {
		was[k.ID] = k.State
	}
	for _, k := range after {
		if k.State == storage.KeyActive && k.Algorithm == RS256 {
			r.IDToken = k.ID
		}
		if m.opts.lineageOf(k.Algorithm) != m.opts.Algorithm {
			continue
		}
		switch k.State {
		case storage.KeyActive:
			r.Active = k.ID
		case storage.KeyNext:
			if r.Next == "" {
				r.Next, r.At = k.ID, k.ActivateAt
			}
		case storage.KeyRetired:
			if was[k.ID] == storage.KeyActive {
				r.Retired = k.ID
			}
		}
	}
	if r.Retired == "" {
		r.Pending = true
		m.log.InfoContext(ctx, "signing key rotation pending", "active_kid", r.Active, "next_kid", r.Next, "at", r.At)
	} else {
		r.At = now
		m.log.InfoContext(ctx, "signing key rotated", "active_kid", r.Active, "retired_kid", r.Retired, "next_kid", r.Next)
	}
	if err := m.reload(ctx); err != nil {
		return r, err
	}
	return r, nil
}

// Revocation is the outcome of Revoke.
type Revocation struct {
	Revoked string
	// Active is the kid that signs after the call.
	Active string
	// Immature is set when the key that took over had been published for
	// less than PublishLead: verifiers whose cached JWKS lacks it fetch
	// the JWKS again on its first token (their unknown-kid refresh), and
	// fail until then.
	Immature bool
}

// Revoke withdraws a compromised key at once: it leaves the JWKS and stops
// signing, so tokens it signed no longer verify here, and its private part
// is erased from the store. If it was the active key, the next key signs
// immediately (a fresh one if there is none), and a new next key is
// published. The trade-off of an emergency: the key taking over may not
// have been published for a whole JWKS cache lifetime yet. Other instances
// follow within RefreshInterval; verifiers drop the key when their cached
// JWKS expires (JWKSMaxAge), so use introspection where that is too slow.
func (m *Manager) Revoke(ctx context.Context, kid string) (Revocation, error) {
	if m.opts.Secrets == nil {
		return Revocation{}, ErrNoSecrets
	}
	now := m.now()
	var rev Revocation
	err := m.store.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		rev = Revocation{Revoked: kid}
		out := slices.Clone(old)
		i := slices.IndexFunc(out, func(k storage.SigningKey) bool { return k.ID == kid })
		if i < 0 {
			return nil, fmt.Errorf("no key %q: %w", kid, storage.ErrNotFound)
		}
		if out[i].State == storage.KeyRevoked {
			return nil, errNoChange
		}
		wasActive := out[i].State == storage.KeyActive
		out[i].State, out[i].PrivateKeyEnc = storage.KeyRevoked, []byte{}
		out[i].RetiredAt, out[i].DeleteAfter, out[i].UpdatedAt = now, now.Add(m.opts.retention()), now
		if err := m.openAll(out); err != nil {
			return nil, err
		}
		if wasActive {
			line := m.opts.lineageOf(out[i].Algorithm)
			if j := slices.IndexFunc(out, func(k storage.SigningKey) bool {
				return k.State == storage.KeyNext && m.opts.lineageOf(k.Algorithm) == line
			}); j >= 0 {
				rev.Immature = now.Before(out[j].ActivateAt)
			} else {
				rev.Immature = true
			}
		}
		// With the active key gone, plan promotes the next key (or makes
		// one) and publishes a new next key.
		out, _, err := planAll(m.opts, out, now, false, m.generate)
		if err != nil {
			return nil, err
		}
		line := m.opts.lineageOf(old[i].Algorithm)
		for _, k := range out {
			if k.State == storage.KeyActive && m.opts.lineageOf(k.Algorithm) == line {
				rev.Active = k.ID
			}
		}
		return out, nil
	})
	if errors.Is(err, errNoChange) {
		err = nil
	}
	if err != nil {
		return Revocation{}, fmt.Errorf("keys: revoke: %w", err)
	}
	m.mu.Lock()
	delete(m.parsed, kid)
	m.mu.Unlock()
	m.log.WarnContext(ctx, "signing key revoked", "kid", kid, "active_kid", rev.Active, "immature", rev.Immature)
	return rev, m.reload(ctx)
}

// Reencrypt seals every stored private key under the current (first)
// master secret and returns how many it changed. Run it after putting a
// new secret in front; once it is done the old secret can be dropped.
func (m *Manager) Reencrypt(ctx context.Context) (int, error) {
	s := m.opts.Secrets
	if s == nil {
		return 0, ErrNoSecrets
	}
	n := 0
	err := m.store.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		n = 0
		out := slices.Clone(old)
		now := m.now()
		for i, k := range out {
			if len(k.PrivateKeyEnc) == 0 {
				continue
			}
			der, which, err := s.open(k.ID, k.PrivateKeyEnc)
			if err != nil {
				return nil, err
			}
			if which == 0 {
				clear(der)
				continue
			}
			sealed, err := s.seal(k.ID, der)
			clear(der)
			if err != nil {
				return nil, err
			}
			out[i].PrivateKeyEnc, out[i].UpdatedAt = sealed, now
			n++
		}
		if n == 0 {
			return nil, errNoChange
		}
		return out, nil
	})
	if err != nil && !errors.Is(err, errNoChange) {
		return 0, fmt.Errorf("keys: reencrypt: %w", err)
	}
	m.log.InfoContext(ctx, "signing keys re-encrypted", "count", n)
	return n, nil
}

// reload installs the store's keys without scheduled maintenance.
func (m *Manager) reload(ctx context.Context) error {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: reload: %w", err)
	}
	return m.install(stored, m.now())
}

// Info describes a stored key for operators: public facts only.
type Info struct {
	ID        string `json:"kid"`
	Algorithm string `json:"alg"`
	// Signs is what the key's line signs: "access_token", "id_token", or
	// "access_token id_token" when access tokens use RS256 too.
	Signs       string    `json:"signs"`
	State       string    `json:"state"`
	Published   bool      `json:"published"`
	CreatedAt   time.Time `json:"created_at"`
	ActivateAt  time.Time `json:"activate_at,omitzero"`
	ActivatedAt time.Time `json:"activated_at,omitzero"`
	RetireAt    time.Time `json:"retire_at,omitzero"`
	RetiredAt   time.Time `json:"retired_at,omitzero"`
	DeleteAfter time.Time `json:"delete_after,omitzero"`
	// PublicJWK is the public key as published (public members only).
	PublicJWK *jose.JSONWebKey `json:"public_jwk,omitempty"`
}

// List returns every stored key, oldest first. It needs no secret.
func (m *Manager) List(ctx context.Context) ([]Info, error) {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: list: %w", err)
	}
	now := m.now()
	out := make([]Info, 0, len(stored))
	for _, k := range stored {
		info := Info{
			ID: k.ID, Algorithm: k.Algorithm, Signs: m.opts.signs(k.Algorithm), State: k.State, Published: publishedAt(k, now),
			CreatedAt: k.CreatedAt, ActivateAt: k.ActivateAt, ActivatedAt: k.ActivatedAt,
			RetireAt: k.RetireAt, RetiredAt: k.RetiredAt, DeleteAfter: k.DeleteAfter,
		}
		var jwk jose.JSONWebKey
		if len(k.PublicJWK) > 0 && jwk.UnmarshalJSON(k.PublicJWK) == nil && jwk.IsPublic() {
			info.PublicJWK = &jwk
		}
		out = append(out, info)
	}
	return out, nil
}
