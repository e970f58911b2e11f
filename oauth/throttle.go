package oauth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// ThrottleLimits are the password-guessing limits (design D5). Attempts
// are counted in the store, so every instance on one database shares them,
// and an attempt is counted before its password is hashed, so concurrent
// requests cannot exceed a limit. A login that succeeds, or that is
// refused before its password is checked, is taken back.
type ThrottleLimits struct {
	// Window is how long a counter lasts from its first attempt; default
	// 15 minutes.
	Window time.Duration
	// PerUserAddress is the attempts one client address may make against
	// one username in a window; default 10. Past it that address gets 429
	// for that username until the window ends; other addresses do not.
	PerUserAddress int
	// PerUser is the attempts against one username from all addresses
	// together in a window; default 50. Past it the username is not
	// locked: see SlowInterval.
	PerUser int
	// PerAddress is the attempts one client address may make against all
	// usernames in a window (spraying); default 100.
	PerAddress int
	// SlowInterval: once PerUser is reached, the username still takes one
	// attempt per SlowInterval, from an address that has made no attempt
	// against it in the window; others get 429 with Retry-After of at most
	// SlowInterval. So the owner is slowed, never locked out, and an
	// attacker spread over any number of addresses gets at most PerUser +
	// Window/SlowInterval attempts per window. Default 10 seconds.
	SlowInterval time.Duration
}

// Default throttle limits.
const (
	DefaultThrottleWindow         = 15 * time.Minute
	DefaultThrottlePerUserAddress = 10
	DefaultThrottlePerUser        = 50
	DefaultThrottlePerAddress     = 100
	DefaultThrottleSlowInterval   = 10 * time.Second
)

func (l *ThrottleLimits) setDefaults() {
	l.Window = cmp.Or(l.Window, DefaultThrottleWindow)
	l.PerUserAddress = cmp.Or(l.PerUserAddress, DefaultThrottlePerUserAddress)
	l.PerUser = cmp.Or(l.PerUser, DefaultThrottlePerUser)
	l.PerAddress = cmp.Or(l.PerAddress, DefaultThrottlePerAddress)
	l.SlowInterval = cmp.Or(l.SlowInterval, DefaultThrottleSlowInterval)
}

func (l ThrottleLimits) validate() error {
	var errs []error
	if l.Window < time.Second || l.SlowInterval < time.Second || l.SlowInterval > l.Window {
		errs = append(errs, fmt.Errorf("oauth: throttle window %v and slow interval %v: both at least 1s, interval not longer than window", l.Window, l.SlowInterval))
	}
	if l.PerUserAddress < 1 || l.PerUser < 1 || l.PerAddress < 1 {
		errs = append(errs, fmt.Errorf("oauth: throttle limits per user and address %d, per user %d, per address %d: each at least 1", l.PerUserAddress, l.PerUser, l.PerAddress))
	}
	return errors.Join(errs...)
}

// Kinds of throttle counter: the first byte of a storage.AttemptKey.
const (
	KindAddress     = 'a' // one client address, all usernames
	KindUserAddress = 'p' // one username from one address
	KindUser        = 'u' // one username, all addresses
	KindSlow        = 's' // one username's slow lane, past PerUser
)

// KindName names a counter kind for operators and metrics.
func KindName(k byte) string {
	switch k {
	case KindAddress:
		return "address"
	case KindUserAddress:
		return "user_address"
	case KindUser:
		return "user"
	case KindSlow:
		return "user_slow"
	}
	return "unknown"
}

// attemptKey is the kind byte and the first 16 bytes of SHA-256 over the
// kind and the length-prefixed parts: fixed size whatever the input.
func attemptKey(kind byte, parts ...string) storage.AttemptKey {
	h := sha256.New()
	h.Write([]byte{kind})
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	var k storage.AttemptKey
	k[0] = kind
	copy(k[1:], h.Sum(nil))
	return k
}

// ThrottleKeys returns the counters that concern username (any form; it is
// normalised) and, when address is not empty, that client address: what an
// operator looks at and clears.
func ThrottleKeys(username, address string) []storage.AttemptKey {
	if username == "" {
		return nameKeys(nil, address)
	}
	return nameKeys([]string{NormalizeUsername(username)}, address)
}

// EntryThrottleKeys returns the counters of directory entry dn of LDAP
// connector (those reserveEntry counts: the entry's total and slow lane)
// and, when address is not empty, the entry's counter from that address
// and the address's own.
func EntryThrottleKeys(connector, dn, address string) []storage.AttemptKey {
	return nameKeys(entryName(connector, dn), address)
}

// entryName is the key name of directory entry dn of connector: DNs match
// case-insensitively.
func entryName(connector, dn string) []string {
	return []string{"ldap-entry", connector, strings.ToLower(dn)}
}

// nameKeys returns the user counters of name (none when name is nil) and,
// when address is not empty, name's counter from it and its own.
func nameKeys(name []string, address string) []storage.AttemptKey {
	var out []storage.AttemptKey
	if name != nil {
		out = append(out, attemptKey(KindUser, name...), attemptKey(KindSlow, name...))
		if address != "" {
			out = append(out, attemptKey(KindUserAddress, append(slices.Clip(name), NormalizeAddress(address))...))
		}
	}
	if address != "" {
		out = append(out, attemptKey(KindAddress, NormalizeAddress(address)))
	}
	return out
}

// FormatAttemptKey and ParseAttemptKey turn a counter key into hex and
// back, for the CLI and the admin API.
func FormatAttemptKey(k storage.AttemptKey) string { return hex.EncodeToString(k[:]) }

// ParseAttemptKey parses FormatAttemptKey's output.
func ParseAttemptKey(s string) (storage.AttemptKey, error) {
	var k storage.AttemptKey
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(k) || KindName(b[0]) == "unknown" {
		return k, fmt.Errorf("throttle key %q: want %d hex bytes starting with a known kind", s, len(k))
	}
	copy(k[:], b)
	return k, nil
}

// NormalizeAddress is the form a client address is counted under: IPv4
// (also when IPv4-mapped) as is, IPv6 as its /64, since one host commonly
// holds a whole /64. Anything else is kept as given.
func NormalizeAddress(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return s
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// ThrottleError is a password attempt refused by the throttle, before its
// password was checked: 429 with Retry-After.
type ThrottleError struct {
	Kind       byte
	RetryAfter time.Duration
}

func (e *ThrottleError) Error() string {
	return fmt.Sprintf("oauth: too many password attempts (%s limit); retry after %v", KindName(e.Kind), e.RetryAfter)
}

// throttle applies ThrottleLimits through the store's counters.
type throttle struct {
	store    storage.AttemptStore
	limits   ThrottleLimits
	now      func() time.Time
	logger   *slog.Logger
	observer PasswordObserver
}

// reservation is an attempt counted in the store, to be kept (a wrong
// password) or taken back (a success, or no password checked).
type reservation struct {
	counts []storage.AttemptCount
}

// reserve counts one attempt of username (normalised) from addr before its
// password is checked. It returns a *ThrottleError when a limit refuses
// the attempt; the attempt is then not counted.
func (t *throttle) reserve(ctx context.Context, username, addr string) (*reservation, error) {
	return t.reserveName(ctx, addr, true, username)
}

// reserveEntry counts one more attempt against directory entry dn of
// connector (design D5's per-user limits, slow lane included, keyed by the
// entry rather than by the name typed), after the directory found the
// entry and before the password is tried on it: every spelling of a
// username that the directory resolves to the entry (case, insignificant
// spaces, characters RFC 4518 maps away) shares one budget. The address
// counter is not counted again: reserve counted it for the attempt.
func (t *throttle) reserveEntry(ctx context.Context, connector, dn, addr string) (*reservation, error) {
	return t.reserveName(ctx, addr, false, entryName(connector, dn)...)
}

// reserveName counts an attempt against the user counters of name (one or
// more key parts) and, when countAddress, against addr's counter.
func (t *throttle) reserveName(ctx context.Context, addr string, countAddress bool, name ...string) (*reservation, error) {
	now := t.now()
	l := t.limits
	addr = NormalizeAddress(addr)
	var adds []storage.AttemptAdd
	if countAddress {
		adds = append(adds, storage.AttemptAdd{Key: attemptKey(KindAddress, addr), Window: l.Window, Limit: l.PerAddress})
	}
	adds = append(adds,
		storage.AttemptAdd{Key: attemptKey(KindUserAddress, append(slices.Clip(name), addr)...), Window: l.Window, Limit: l.PerUserAddress},
		storage.AttemptAdd{Key: attemptKey(KindUser, name...), Window: l.Window, Limit: l.PerUser},
	)
	counts, err := t.store.AddAttempts(ctx, now, adds)
	if err != nil {
		return nil, fmt.Errorf("throttle: %w", err)
	}
	pc, uc := counts[len(counts)-2], counts[len(counts)-1]
	switch {
	case pc.Count > l.PerUserAddress:
		return nil, t.refuse(ctx, now, counts, pc)
	case countAddress && counts[0].Count > l.PerAddress:
		return nil, t.refuse(ctx, now, counts, counts[0])
	case uc.Count <= l.PerUser:
		t.noteBlocks(ctx, counts)
		return &reservation{counts: counts}, nil
	case pc.Count > 1:
		// Past the username's total, only an address with no attempt
		// against it in this window may use the slow lane.
		return nil, t.refuse(ctx, now, counts, uc)
	}
	slow, err := t.store.AddAttempts(ctx, now, []storage.AttemptAdd{{Key: attemptKey(KindSlow, name...), Window: l.SlowInterval, Limit: 1}})
	if err != nil {
		t.takeBack(ctx, counts)
		return nil, fmt.Errorf("throttle: %w", err)
	}
	counts = append(counts, slow[0])
	if slow[0].Count > 1 {
		return nil, t.refuse(ctx, now, counts, slow[0])
	}
	t.noteBlocks(ctx, counts[:len(counts)-2])
	return &reservation{counts: counts}, nil
}

// refuse takes the attempt back and reports the limit that refused it.
func (t *throttle) refuse(ctx context.Context, now time.Time, counts []storage.AttemptCount, by storage.AttemptCount) error {
	t.takeBack(ctx, counts)
	wait := by.WindowEnd.Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	return &ThrottleError{Kind: by.Key[0], RetryAfter: wait}
}

// release takes back a reserved attempt: the password was right, or was
// never checked.
func (t *throttle) release(ctx context.Context, r *reservation) {
	if r != nil {
		t.takeBack(ctx, r.counts)
	}
}

func (t *throttle) takeBack(ctx context.Context, counts []storage.AttemptCount) {
	// The request may be ending; the take-back is still owed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	if err := t.store.RemoveAttempts(ctx, counts); err != nil {
		// The attempt stays counted: the error is on the safe side.
		t.logger.WarnContext(ctx, "throttle: take back attempt", "err", err)
	}
}

// noteBlocks reports every counter this attempt brought to its limit: from
// now until the window ends, the next attempt on it is refused. The slow
// lane is not reported; it reopens within seconds.
func (t *throttle) noteBlocks(ctx context.Context, counts []storage.AttemptCount) {
	for _, c := range counts {
		if c.Count != c.Limit || c.Key[0] == KindSlow {
			continue
		}
		kind := KindName(c.Key[0])
		t.logger.LogAttrs(ctx, slog.LevelWarn, "audit",
			slog.String("actor", "throttle"), slog.String("action", "throttle.block"),
			slog.String("object_type", "throttle_counter"), slog.String("object_id", FormatAttemptKey(c.Key)),
			slog.String("kind", kind), slog.Int("count", c.Count), slog.Time("until", c.WindowEnd))
		if t.observer != nil {
			t.observer.ThrottleBlocked(kind)
		}
	}
}
