package oauth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/cases"
	"golang.org/x/text/unicode/norm"
)

// PasswordParams are the argon2id parameters (RFC 9106) for user passwords
// (design D5). The defaults are one of OWASP's equivalent recommendations:
// 12 MiB, three passes, one lane (19 MiB with two passes costs the same CPU
// but 60% more memory per concurrent login).
type PasswordParams struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
	SaltLen     uint32
	KeyLen      uint32
	// MaxConcurrent bounds how many hashes run at once, which bounds the
	// memory the password grant can take; default runtime.NumCPU().
	MaxConcurrent int
	// MaxQueue bounds how many hashes may wait for one of those slots;
	// past it a hash fails at once with ErrHashBusy (503). A waiting hash
	// holds no argon2id memory. Default 32 per slot, at least 64.
	MaxQueue int
	// Observer, when set, is told how long each hash waited for a slot.
	Observer PasswordObserver
}

func (p *PasswordParams) setDefaults() {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = 12 * 1024
	}
	if p.Iterations == 0 {
		p.Iterations = 3
	}
	if p.Parallelism == 0 {
		p.Parallelism = 1
	}
	if p.SaltLen == 0 {
		p.SaltLen = 16
	}
	if p.KeyLen == 0 {
		p.KeyLen = 32
	}
	if p.MaxConcurrent == 0 {
		p.MaxConcurrent = runtime.NumCPU()
	}
	if p.MaxQueue == 0 {
		p.MaxQueue = max(64, 32*p.MaxConcurrent)
	}
}

func (p PasswordParams) validate() error {
	var errs []error
	if p.MemoryKiB < 8*uint32(p.Parallelism) {
		errs = append(errs, fmt.Errorf("oauth: argon2id memory %d KiB is below 8 KiB per lane", p.MemoryKiB))
	}
	if p.Iterations < 1 {
		errs = append(errs, errors.New("oauth: argon2id iterations must be at least 1"))
	}
	if p.SaltLen < 16 || p.KeyLen < 16 {
		errs = append(errs, errors.New("oauth: argon2id salt and key must be at least 16 bytes"))
	}
	if p.MaxConcurrent < 1 || p.MaxQueue < 0 {
		errs = append(errs, fmt.Errorf("oauth: password hashing slots %d (at least 1) and queue %d (at least 0)", p.MaxConcurrent, p.MaxQueue))
	}
	return errors.Join(errs...)
}

// PasswordHasher hashes and checks passwords as argon2id PHC strings
// ("$argon2id$v=19$m=...,t=...,p=...$salt$hash").
type PasswordHasher struct {
	params PasswordParams
	slots  chan struct{}
	// waiting counts hashes waiting for a slot, bounded by MaxQueue.
	waiting atomic.Int64
	// dummy is hashed against when a username is unknown, so that an
	// unknown user costs what a wrong password costs.
	dummy string
}

// NewPasswordHasher returns a hasher for params (zero fields take defaults).
func NewPasswordHasher(params PasswordParams) (*PasswordHasher, error) {
	params.setDefaults()
	if err := params.validate(); err != nil {
		return nil, err
	}
	h := &PasswordHasher{params: params, slots: make(chan struct{}, params.MaxConcurrent)}
	d, err := h.Hash(context.Background(), "gatehouse-dummy-password")
	if err != nil {
		return nil, err
	}
	h.dummy = d
	return h, nil
}

// ErrHashBusy reports a password hash that did not run: every slot was
// taken and the queue was full, or the request's deadline passed while it
// waited. The token endpoint answers 503 temporarily_unavailable with
// Retry-After; nothing about the password was learned.
var ErrHashBusy = errors.New("oauth: password hashing is at capacity")

// acquire takes a hashing slot, waiting in the bounded queue at most until
// ctx is done.
func (h *PasswordHasher) acquire(ctx context.Context) error {
	select {
	case h.slots <- struct{}{}:
		h.observe(0, "ok")
		return nil
	default:
	}
	if h.waiting.Add(1) > int64(h.params.MaxQueue) {
		h.waiting.Add(-1)
		h.observe(0, "queue_full")
		return ErrHashBusy
	}
	defer h.waiting.Add(-1)
	start := time.Now()
	select {
	case h.slots <- struct{}{}:
		h.observe(time.Since(start), "ok")
		return nil
	case <-ctx.Done():
		h.observe(time.Since(start), "deadline")
		return fmt.Errorf("%w: %w", ErrHashBusy, ctx.Err())
	}
}

func (h *PasswordHasher) observe(wait time.Duration, outcome string) {
	if o := h.params.Observer; o != nil {
		o.PasswordHashWait(wait, outcome)
	}
}

func (h *PasswordHasher) release() { <-h.slots }

// Hash returns the PHC string for password with a fresh salt.
func (h *PasswordHasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	p := h.params
	key := argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

type phc struct {
	memory, iterations uint32
	parallelism        uint8
	salt, key          []byte
}

var errBadPHC = errors.New("oauth: malformed argon2id hash")

func parsePHC(s string) (phc, error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return phc{}, errBadPHC
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return phc{}, errBadPHC
	}
	var p phc
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.memory, &p.iterations, &p.parallelism); err != nil {
		return phc{}, errBadPHC
	}
	var err error
	if p.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil {
		return phc{}, errBadPHC
	}
	if p.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(p.key) < 16 {
		return phc{}, errBadPHC
	}
	if p.memory == 0 || p.memory > 4<<20 || p.iterations == 0 || p.iterations > 100 || p.parallelism == 0 {
		return phc{}, errBadPHC
	}
	return p, nil
}

// Verify reports whether password matches encoded, and whether encoded
// was made with other parameters than the current ones (so the caller can
// store a fresh hash after a successful login).
func (h *PasswordHasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	p, err := parsePHC(encoded)
	if err != nil {
		return false, false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, false, err
	}
	defer h.release()
	key := argon2.IDKey([]byte(password), p.salt, p.iterations, p.memory, p.parallelism, uint32(len(p.key)))
	ok = subtle.ConstantTimeCompare(key, p.key) == 1
	cur := h.params
	rehash = p.memory != cur.MemoryKiB || p.iterations != cur.Iterations || p.parallelism != cur.Parallelism ||
		uint32(len(p.key)) != cur.KeyLen || uint32(len(p.salt)) != cur.SaltLen
	return ok, rehash, nil
}

// VerifyDummy spends one hash on nothing, for unknown users. Its error is
// Verify's: ErrHashBusy when no slot was free, so that an unknown user is
// answered as a known one would be.
func (h *PasswordHasher) VerifyDummy(ctx context.Context, password string) error {
	_, _, err := h.Verify(ctx, h.dummy, password)
	return err
}

// NormalizeUsername is the form usernames are stored and looked up in
// (design D5): Unicode NFC, then full Unicode case folding, then NFC again
// (folding can leave a string unnormalised). "Alice" and "alice", composed
// and decomposed accents, "STRASSE" and "straße", final and medial sigma
// are one user each. Case folding, unlike lower-casing, is made for
// caseless matching (Unicode section 5.18).
func NormalizeUsername(s string) string {
	return norm.NFC.String(cases.Fold().String(norm.NFC.String(s)))
}

// legacyUsername is the form usernames were stored in before case
// folding: NFC and lower case. Authenticate falls back to it, so users
// created before the change keep logging in.
func legacyUsername(s string) string {
	return norm.NFC.String(strings.ToLower(norm.NFC.String(s)))
}
