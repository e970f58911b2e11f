package keys

import (
	"errors"
	"fmt"
	"strings"
)

// SealData encrypts a secret that is not a signing key (a connector's
// client secret or bind password, an upstream refresh token) with the same
// sealing as signing keys: AES-256-GCM under the current master secret.
// The additional data is purpose and id, joined by a NUL byte that no kid
// contains, so a sealed value can be opened only for the purpose and id it
// was sealed for, and never passes for a signing key. `gatehouse keys
// reencrypt` does not reseal it: rotating a master secret keeps the old
// one until such values are rewritten (README, "Sign in with an OpenID
// Connect provider").
func (s *Secrets) SealData(purpose, id string, plaintext []byte) ([]byte, error) {
	if s == nil || len(s.aeads) == 0 {
		return nil, ErrNoSecrets
	}
	return s.seal(dataAD(purpose, id), plaintext)
}

// OpenData decrypts what SealData sealed for purpose and id, trying every
// master secret. Its errors name the purpose only, never the id (an
// upstream subject, for refresh tokens, that would reach logs) nor the
// plaintext; a value no secret authenticates is ErrWrongSecret.
func (s *Secrets) OpenData(purpose, id string, sealed []byte) ([]byte, error) {
	if s == nil || len(s.aeads) == 0 {
		return nil, ErrNoSecrets
	}
	pt, _, err := s.open(dataAD(purpose, id), sealed)
	switch {
	case errors.Is(err, ErrWrongSecret):
		return nil, fmt.Errorf("%w: sealed %s (tried %d secrets)", ErrWrongSecret, purpose, len(s.aeads))
	case err != nil:
		return nil, fmt.Errorf("keys: sealed %s: unknown or truncated sealing", purpose)
	}
	return pt, nil
}

func dataAD(purpose, id string) string {
	return strings.Join([]string{"data", purpose, id}, "\x00")
}
