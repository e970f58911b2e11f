package keys

import (
	"crypto"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// generate makes a new key in state, sealed under the current secret.
func (m *Manager) generate(alg, state string, now time.Time) (storage.SigningKey, error) {
	if m.opts.Secrets == nil {
		return storage.SigningKey{}, ErrNoSecrets
	}
	k, err := Generate(alg)
	if err != nil {
		return storage.SigningKey{}, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.private)
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encode key %s: %w", k.ID, err)
	}
	sealed, err := m.opts.Secrets.seal(k.ID, der)
	clear(der)
	if err != nil {
		return storage.SigningKey{}, err
	}
	jwk, err := k.PublicJWK().MarshalJSON()
	if err != nil {
		return storage.SigningKey{}, fmt.Errorf("keys: encode public key %s: %w", k.ID, err)
	}
	sk := storage.SigningKey{
		ID: k.ID, Algorithm: k.Algorithm, State: state, PrivateKeyEnc: sealed, PublicJWK: jwk,
		CreatedAt: now, UpdatedAt: now,
	}
	switch state {
	case storage.KeyActive:
		// Only when nothing signs (first start, emergency): it signs now.
		sk.ActivateAt, sk.ActivatedAt, sk.RetireAt = now, now, now.Add(m.opts.RotationPeriod)
	case storage.KeyNext:
		sk.ActivateAt = now.Add(m.opts.PublishLead)
	}
	m.mu.Lock()
	m.parsed[k.ID] = k
	m.mu.Unlock()
	m.log.Info("signing key generated", "kid", k.ID, "alg", k.Algorithm, "state", state)
	return sk, nil
}

// open returns the parsed key of k, decrypting it on first use only.
func (m *Manager) open(k storage.SigningKey) (*Key, error) {
	m.mu.Lock()
	p, ok := m.parsed[k.ID]
	m.mu.Unlock()
	if ok {
		return p, nil
	}
	if m.opts.Secrets == nil {
		return nil, ErrNoSecrets
	}
	der, _, err := m.opts.Secrets.open(k.ID, k.PrivateKeyEnc)
	if err != nil {
		return nil, err
	}
	priv, err := x509.ParsePKCS8PrivateKey(der)
	clear(der)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: decode private key", k.ID) // no detail: it is about key bytes
	}
	signer, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: key %s: %T is not a signing key", k.ID, priv)
	}
	p, err = NewKey(k.Algorithm, signer)
	if err != nil {
		return nil, fmt.Errorf("keys: key %s: %w", k.ID, err)
	}
	if p.ID != k.ID {
		return nil, fmt.Errorf("keys: stored key %s holds the key with thumbprint %s", k.ID, p.ID)
	}
	m.mu.Lock()
	m.parsed[k.ID] = p
	m.mu.Unlock()
	return p, nil
}

// openAll checks that every stored key still holding a private part opens
// with the secrets, so that an instance or command with the wrong secret
// never writes a key the others cannot read.
func (m *Manager) openAll(stored []storage.SigningKey) error {
	for _, k := range stored {
		if k.State == storage.KeyRevoked || len(k.PrivateKeyEnc) == 0 {
			continue
		}
		if _, err := m.open(k); err != nil {
			return err
		}
	}
	return nil
}
