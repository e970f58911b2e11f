package keys

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
)

// Environment variables that hold the master secrets.
const (
	// EnvSecrets holds the master secrets, comma-separated, newest first.
	EnvSecrets = "GATEHOUSE_SECRETS"
	// EnvSecretsFile names a file holding the master secrets, one a line,
	// newest first; blank lines and lines starting with '#' are skipped.
	EnvSecretsFile = "GATEHOUSE_SECRETS_FILE"
	// MinSecretLen is the shortest master secret accepted, in bytes
	// (after base64 decoding for "base64:" entries).
	MinSecretLen = 32
)

// Errors about master secrets. Their messages never contain a secret.
var (
	ErrNoSecrets   = errors.New("keys: no master secret: set " + EnvSecrets + " or " + EnvSecretsFile + " (at least 32 bytes, e.g. base64:$(openssl rand -base64 32))")
	ErrWeakSecret  = errors.New("keys: master secret too short")
	ErrWrongSecret = errors.New("keys: no master secret decrypts the stored signing key")
)

// sealVersion prefixes every sealed key: 1 = AES-256-GCM, 12-byte nonce,
// key HKDF-SHA256(secret, info sealInfo), additional data the kid.
const (
	sealVersion = 1
	sealInfo    = "gatehouse signing-key encryption v1"
)

// Secrets are the master secrets that seal signing keys at rest. The first
// seals; every one opens, so a secret is rotated by putting the new one in
// front, running `gatehouse keys reencrypt`, and then dropping the old one.
//
// A Secrets never prints its contents: its String, GoString and LogValue
// say only how many secrets it holds.
type Secrets struct {
	raw   [][]byte
	aeads []cipher.AEAD
}

// ParseSecrets builds Secrets from entries, newest first. An entry that
// starts with "base64:" is decoded (standard or URL alphabet, padding
// optional); any other entry is used as its bytes. Either way it must be at
// least MinSecretLen bytes. Surrounding spaces are trimmed and empty entries
// skipped; at least one secret is required.
func ParseSecrets(entries []string) (*Secrets, error) {
	s := &Secrets{}
	var errs []error
	n := 0
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		n++
		b := []byte(e)
		if enc, ok := strings.CutPrefix(e, "base64:"); ok {
			var err error
			if b, err = decodeBase64(enc); err != nil {
				errs = append(errs, fmt.Errorf("master secret %d: \"base64:\" entry does not decode", n))
				continue
			}
		}
		if len(b) < MinSecretLen {
			errs = append(errs, fmt.Errorf("%w: master secret %d has %d bytes; need at least %d", ErrWeakSecret, n, len(b), MinSecretLen))
			continue
		}
		if err := s.add(b); err != nil {
			return nil, err
		}
	}
	switch len(errs) {
	case 0:
	case 1:
		return nil, errs[0]
	default: // one line, so that start-up fails with a one-line reason
		msgs := make([]string, len(errs))
		for i, e := range errs {
			msgs[i] = e.Error()
		}
		return nil, fmt.Errorf("%w: %s", errs[0], strings.Join(msgs[1:], "; "))
	}
	if len(s.raw) == 0 {
		return nil, ErrNoSecrets
	}
	return s, nil
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.TrimRight(s, "=")
	if strings.ContainsAny(s, "-_") {
		return base64.RawURLEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}

func (s *Secrets) add(secret []byte) error {
	key, err := hkdf.Key(sha256.New, secret, nil, sealInfo, 32)
	if err != nil {
		return fmt.Errorf("keys: derive sealing key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("keys: sealing cipher: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("keys: sealing cipher: %w", err)
	}
	s.raw = append(s.raw, bytes.Clone(secret))
	s.aeads = append(s.aeads, aead)
	return nil
}

// LoadSecrets reads the master secrets from EnvSecrets, or from the file
// EnvSecretsFile names; setting both is an error, and so is setting
// neither (ErrNoSecrets). Entries follow ParseSecrets.
func LoadSecrets(getenv func(string) string) (*Secrets, error) {
	list, file := getenv(EnvSecrets), getenv(EnvSecretsFile)
	switch {
	case list != "" && file != "":
		return nil, fmt.Errorf("keys: set only one of %s and %s", EnvSecrets, EnvSecretsFile)
	case list != "":
		s, err := ParseSecrets(strings.Split(list, ","))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvSecrets, err)
		}
		return s, nil
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			// The error names the file, never its contents.
			return nil, fmt.Errorf("%s: %w", EnvSecretsFile, err)
		}
		var lines []string
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			if line := strings.TrimSpace(sc.Text()); line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, line)
			}
		}
		s, err := ParseSecrets(lines)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", EnvSecretsFile, file, err)
		}
		return s, nil
	}
	return nil, ErrNoSecrets
}

// RandomSecrets returns one fresh random secret, for the embedded dev mode
// where nothing outlives the process.
func RandomSecrets() *Secrets {
	s := &Secrets{}
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	if err := s.add(b); err != nil {
		panic(err) // fixed-size AES key: cannot fail
	}
	return s
}

// Len returns how many secrets s holds.
func (s *Secrets) Len() int { return len(s.raw) }

// seal encrypts plaintext under the current secret with kid as additional
// data, so a sealed key cannot be passed off as another kid's.
func (s *Secrets) seal(kid string, plaintext []byte) ([]byte, error) {
	aead := s.aeads[0]
	out := make([]byte, 1+aead.NonceSize(), 1+aead.NonceSize()+len(plaintext)+aead.Overhead())
	out[0] = sealVersion
	if _, err := rand.Read(out[1:]); err != nil {
		return nil, fmt.Errorf("keys: nonce: %w", err)
	}
	return aead.Seal(out, out[1:], plaintext, []byte(kid)), nil
}

// open decrypts sealed with the first secret that authenticates it and
// returns which one (0 is the current secret).
func (s *Secrets) open(kid string, sealed []byte) ([]byte, int, error) {
	if len(sealed) < 1 || sealed[0] != sealVersion {
		return nil, -1, fmt.Errorf("keys: key %s: unknown sealing format", kid)
	}
	for i, aead := range s.aeads {
		ns := aead.NonceSize()
		if len(sealed) < 1+ns+aead.Overhead() {
			return nil, -1, fmt.Errorf("keys: key %s: sealed key truncated", kid)
		}
		if pt, err := aead.Open(nil, sealed[1:1+ns], sealed[1+ns:], []byte(kid)); err == nil {
			return pt, i, nil
		}
	}
	return nil, -1, fmt.Errorf("%w %s (tried %d secrets)", ErrWrongSecret, kid, len(s.aeads))
}

// String says how many secrets s holds, never what they are.
func (s *Secrets) String() string {
	if s == nil {
		return "keys.Secrets(none)"
	}
	return fmt.Sprintf("keys.Secrets(%d, redacted)", len(s.raw))
}

// GoString is String, so %#v reveals nothing either.
func (s *Secrets) GoString() string { return s.String() }

// LogValue keeps secrets out of slog output.
func (s *Secrets) LogValue() slog.Value { return slog.StringValue(s.String()) }
