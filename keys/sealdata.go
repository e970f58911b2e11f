package keys

import "strings"

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
// master secret. Its errors name the purpose, never the plaintext.
func (s *Secrets) OpenData(purpose, id string, sealed []byte) ([]byte, error) {
	if s == nil || len(s.aeads) == 0 {
		return nil, ErrNoSecrets
	}
	pt, _, err := s.open(dataAD(purpose, id), sealed)
	if err != nil {
		return nil, err
	}
	return pt, nil
}

func dataAD(purpose, id string) string {
	return strings.Join([]string{"data", purpose, id}, "\x00")
}
