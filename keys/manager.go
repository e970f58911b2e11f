package keys

import (
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/storage"
)

// KeyStore is what the manager needs from storage: the shared keys and an
// atomic read-modify-write over them (storage.KeyStore).
type KeyStore interface {
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	UpdateSigningKeys(ctx context.Context, fn func(old []storage.SigningKey) ([]storage.SigningKey, error)) error
}

// Defaults for zero Options fields.
const (
	DefaultRotationPeriod   = 24 * time.Hour
	DefaultJWKSMaxAge       = 5 * time.Minute
	DefaultRefreshInterval  = 10 * time.Second
	DefaultMaxTokenLifetime = 10 * time.Minute
	DefaultLeeway           = time.Minute
)

// Options configures a Manager. Zero fields take the defaults above.
type Options struct {
	// Algorithm of new keys: ES256 (default), RS256 or EdDSA. Changing it
	// takes effect with the next key generated; existing keys finish their
	// lifecycle.
	Algorithm string
	// Secrets seal and open the private keys. Required for everything but
	// List.
	Secrets *Secrets
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RotationPeriod is how long a key signs before it is replaced. The
	// effective period is at least PublishLead.
	RotationPeriod time.Duration
	// JWKSMaxAge is the Cache-Control max-age the JWKS is served with.
	JWKSMaxAge time.Duration
	// RefreshInterval is how often each instance rereads the keys from
	// the store (Run).
	RefreshInterval time.Duration
	// PublishLead is how long a new key is published before it may sign.
	// It must be at least JWKSMaxAge + RefreshInterval, so that by the time
	// any instance signs with a key, every JWKS a verifier still caches
	// was fetched after every instance published it. Default JWKSMaxAge +
	// RefreshInterval + Leeway.
	PublishLead time.Duration
	// MaxTokenLifetime is the longest lifetime of any access token signed,
	// per-client overrides included. A retired key stays published for
	// RefreshInterval + MaxTokenLifetime + Leeway.
	MaxTokenLifetime time.Duration
	// Leeway covers clock skew between instances and verifiers' own
	// leeway on "exp". Default DefaultLeeway.
	Leeway time.Duration
	// Logger receives rotations and refresh failures; never key material.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Algorithm == "" {
		o.Algorithm = ES256
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.RotationPeriod == 0 {
		o.RotationPeriod = DefaultRotationPeriod
	}
	if o.JWKSMaxAge == 0 {
		o.JWKSMaxAge = DefaultJWKSMaxAge
	}
	if o.RefreshInterval == 0 {
		o.RefreshInterval = DefaultRefreshInterval
	}
	if o.MaxTokenLifetime == 0 {
		o.MaxTokenLifetime = DefaultMaxTokenLifetime
	}
	if o.Leeway == 0 {
		o.Leeway = DefaultLeeway
	}
	if o.PublishLead == 0 {
		o.PublishLead = o.JWKSMaxAge + o.RefreshInterval + o.Leeway
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Validate reports every problem with o (after defaults) at once.
func (o Options) Validate() error {
	var errs []error
	if !slices.Contains(Algorithms, o.Algorithm) {
		errs = append(errs, fmt.Errorf("algorithm %q: want one of %v", o.Algorithm, Algorithms))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"rotation period", o.RotationPeriod}, {"JWKS max-age", o.JWKSMaxAge}, {"refresh interval", o.RefreshInterval},
		{"publish lead", o.PublishLead}, {"max token lifetime", o.MaxTokenLifetime}, {"leeway", o.Leeway}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if min := o.JWKSMaxAge + o.RefreshInterval; o.PublishLead < min {
		errs = append(errs, fmt.Errorf("publish lead %v is shorter than JWKS max-age %v + refresh interval %v: verifiers could meet tokens of a key their cached JWKS lacks",
			o.PublishLead, o.JWKSMaxAge, o.RefreshInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keys: options: %w", err)
	}
	return nil
}

// retention is how long a retired key stays published: an instance may
// sign with it until its next refresh, and a token lives MaxTokenLifetime
// plus the verifiers' leeway.
func (o Options) retention() time.Duration {
	return o.RefreshInterval + o.MaxTokenLifetime + o.Leeway
}

// errNoChange aborts an update that finds nothing to do, so that nothing
// is written.
var errNoChange = errors.New("keys: nothing to change")

// Manager keeps an instance's key ring in step with the keys in the store,
// and rotates, revokes and re-encrypts them there (design D6).
type Manager struct {
	store KeyStore
	opts  Options
	log   *slog.Logger
	ring  *Ring

	installMu sync.Mutex // serialises snapshot swaps; guards shown
	shown     string     // what the ring's snapshot holds

	mu     sync.Mutex      // guards parsed
	parsed map[string]*Key // opened keys by kid; never re-opened
}

// NewManager returns a manager with an empty ring; it does no I/O. Use
// Open to load the keys, or call List only.
func NewManager(store KeyStore, opts Options) (*Manager, error) {
	opts = opts.withDefaults()
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	empty, err := NewSet(nil)
	if err != nil {
		return nil, err
	}
	return &Manager{store: store, opts: opts, log: opts.Logger, ring: NewRing(empty), parsed: map[string]*Key{}}, nil
}

// Open loads the keys from store, creating the first active and next
// keys on first start, and returns a manager whose ring signs. If a stored
// key cannot be opened with any of opts.Secrets it fails with
// ErrWrongSecret before writing anything.
func Open(ctx context.Context, store KeyStore, opts Options) (*Manager, error) {
	m, err := NewManager(store, opts)
	if err != nil {
		return nil, err
	}
	if m.opts.Secrets == nil {
		return nil, ErrNoSecrets
	}
	stored, err := store.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("keys: load: %w", err)
	}
	if err := m.openAll(stored); err != nil {
		return nil, fmt.Errorf("%w; check %s (stored keys were left untouched)", err, EnvSecrets)
	}
	if err := m.Refresh(ctx); err != nil {
		return nil, err
	}
	if m.ring.Set().Active == nil {
		return nil, ErrNoActiveKey
	}
	return m, nil
}

// Ring returns the ring that signs and verifies; its snapshot changes as
// the manager refreshes.
func (m *Manager) Ring() *Ring { return m.ring }

func (m *Manager) now() time.Time { return m.opts.Now().UTC().Truncate(time.Microsecond) }

// Run refreshes the ring every RefreshInterval, rotating when due, until
// ctx is done. A failed refresh is logged and the ring keeps its last
// snapshot.
func (m *Manager) Run(ctx context.Context) error {
	t := time.NewTicker(m.opts.RefreshInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
				m.log.WarnContext(ctx, "refresh signing keys", "err", err)
			}
		}
	}
}

// Refresh rereads the keys, carries out whatever the schedule says is due
// (activate the next key, retire the active one, delete expired ones,
// generate a next key) as a compare-and-swap in the store, and swaps the
// ring's snapshot if it changed.
func (m *Manager) Refresh(ctx context.Context) error {
	stored, err := m.store.ListSigningKeys(ctx)
	if err != nil {
		return fmt.Errorf("keys: refresh: %w", err)
	}
	now := m.now()
	if _, due, _ := m.plan(stored, now, false, dryRun); due && m.opts.Secrets != nil {
		err := m.store.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
			if err := m.openAll(old); err != nil {
				return nil, err
			}
			out, changed, err := m.plan(old, now, false, m.generate)
			if err == nil && !changed {
				err = errNoChange // another instance did it first
			}
			return out, err
		})
		if err != nil && !errors.Is(err, errNoChange) {
			return fmt.Errorf("keys: scheduled rotation: %w", err)
		}
		if stored, err = m.store.ListSigningKeys(ctx); err != nil {
			return fmt.Errorf("keys: refresh: %w", err)
		}
	}
	return m.install(stored, now)
}

// install builds the snapshot of stored keys in force at now and stores it
// in the ring unless it holds the same keys already.
func (m *Manager) install(stored []storage.SigningKey, now time.Time) error {
	m.installMu.Lock()
	defer m.installMu.Unlock()
	var active *storage.SigningKey
	var published []storage.SigningKey
	for i, k := range stored {
		if !publishedAt(k, now) {
			continue
		}
		published = append(published, k)
		if k.State == storage.KeyActive && (active == nil || k.ActivatedAt.After(active.ActivatedAt)) {
			active = &stored[i]
		}
	}
	// Newest first: next, active, retired.
	slices.SortStableFunc(published, func(a, b storage.SigningKey) int { return b.CreatedAt.Compare(a.CreatedAt) })
	var desc strings.Builder
	if active != nil {
		desc.WriteString(active.ID + "@" + active.RetireAt.String())
	}
	for _, k := range published {
		desc.WriteString(" " + k.ID + ":" + k.State)
	}
	if desc.String() == m.shown {
		return nil
	}
	var activeKey *Key
	var keys []*Key
	var errs []error
	for _, k := range published {
		parsed, err := m.open(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c := *parsed
		c.State, c.CreatedAt = State(k.State), k.CreatedAt
		c.ActivatedAt, c.RetireAt = k.ActivatedAt, k.RetireAt
		keys = append(keys, &c)
		if active != nil && k.ID == active.ID {
			activeKey = &c
		}
	}
	if active != nil && activeKey == nil {
		// Keep signing with the key we have rather than stop.
		return fmt.Errorf("keys: active key %s: %w", active.ID, errors.Join(errs...))
	}
	set, err := NewSet(activeKey, keys...)
	if err != nil {
		return err
	}
	m.ring.Store(set)
	if len(errs) == 0 {
		m.shown = desc.String()
	} // else try the keys that failed again on the next refresh
	kid := ""
	if activeKey != nil {
		kid = activeKey.ID
	}
	m.log.Info("signing keys loaded", "active_kid", kid, "published", len(keys))
	return errors.Join(errs...)
}

// publishedAt reports whether k belongs in the JWKS at now.
func publishedAt(k storage.SigningKey, now time.Time) bool {
	switch k.State {
	case storage.KeyNext, storage.KeyActive:
		return true
	case storage.KeyRetired:
		return k.DeleteAfter.IsZero() || now.Before(k.DeleteAfter)
	}
	return false
}

// dryRun stands in for key generation when plan only asks whether
// anything is due.
func dryRun(string, time.Time) (storage.SigningKey, error) {
	return storage.SigningKey{ID: "pending"}, nil
}

// plan returns the keys as they should be at now: expired keys deleted, an
// active key (promoting the next key when the active one is due and the
// next one has been published long enough), and a next key. With force the
// active key is due now (a rotation on demand). changed reports whether
// anything differs from old.
func (m *Manager) plan(old []storage.SigningKey, now time.Time, force bool,
	generate func(state string, now time.Time) (storage.SigningKey, error)) (out []storage.SigningKey, changed bool, err error) {
	o := m.opts
	out = make([]storage.SigningKey, 0, len(old)+1)
	active, next := -1, -1
	for _, k := range old {
		if (k.State == storage.KeyRetired || k.State == storage.KeyRevoked) && !k.DeleteAfter.IsZero() && !now.Before(k.DeleteAfter) {
			changed = true // deleted
			continue
		}
		out = append(out, k)
		i := len(out) - 1
		switch k.State {
		case storage.KeyActive:
			if active < 0 || k.ActivatedAt.After(out[active].ActivatedAt) {
				active = i
			}
		case storage.KeyNext:
			if next < 0 || k.CreatedAt.Before(out[next].CreatedAt) {
				next = i
			}
		}
	}
	retire := func(i int) {
		out[i].State, out[i].RetiredAt, out[i].DeleteAfter, out[i].UpdatedAt = storage.KeyRetired, now, now.Add(o.retention()), now
	}
	promote := func(i int) {
		out[i].State, out[i].ActivatedAt, out[i].RetireAt, out[i].UpdatedAt = storage.KeyActive, now, now.Add(o.RotationPeriod), now
	}
	// More than one active key (never written by this code): keep the
	// newest signing and retire the others.
	for i, k := range out {
		if k.State == storage.KeyActive && i != active {
			retire(i)
			changed = true
		}
	}
	if active >= 0 && force && out[active].RetireAt.After(now) {
		out[active].RetireAt, out[active].UpdatedAt = now, now
		changed = true
	}
	switch {
	case active < 0 && next >= 0:
		// Nothing signs: the next key takes over whatever its age.
		promote(next)
		active, next, changed = next, -1, true
	case active < 0:
		k, err := generate(storage.KeyActive, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, k)
		active, changed = len(out)-1, true
	case !now.Before(out[active].RetireAt) && next >= 0 && !now.Before(out[next].ActivateAt):
		retire(active)
		promote(next)
		active, next, changed = next, -1, true
	}
	if next < 0 {
		k, err := generate(storage.KeyNext, now)
		if err != nil {
			return nil, false, err
		}
		out = append(out, k)
		changed = true
	}
	return out, changed, nil
}

// generate makes a new key in state, sealed under the current secret.
func (m *Manager) generate(state string, now time.Time) (storage.SigningKey, error) {
	if m.opts.Secrets == nil {
		return storage.SigningKey{}, ErrNoSecrets
	}
	k, err := Generate(m.opts.Algorithm)
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
}

// Rotate replaces the active key on demand: the next key signs at once if
// it has been published for PublishLead, or as soon as it has; either way
// a new next key is published. Calling it again before a pending rotation
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
		out, changed, err := m.plan(old, now, true, m.generate)
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
			if j := slices.IndexFunc(out, func(k storage.SigningKey) bool { return k.State == storage.KeyNext }); j >= 0 {
				rev.Immature = now.Before(out[j].ActivateAt)
			} else {
				rev.Immature = true
			}
		}
		// With the active key gone, plan promotes the next key (or makes
		// one) and publishes a new next key.
		out, _, err := m.plan(out, now, false, m.generate)
		if err != nil {
			return nil, err
		}
		for _, k := range out {
			if k.State == storage.KeyActive {
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
	ID          string    `json:"kid"`
	Algorithm   string    `json:"alg"`
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
			ID: k.ID, Algorithm: k.Algorithm, State: k.State, Published: publishedAt(k, now),
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
