package keys

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

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
	if _, due, _ := planAll(m.opts, stored, now, false, dryRun); due && m.opts.Secrets != nil {
		err := m.store.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
			if err := m.openAll(old); err != nil {
				return nil, err
			}
			out, changed, err := planAll(m.opts, old, now, false, m.generate)
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
		// The access-token key; NewSet picks the ID-token key.
		if k.State == storage.KeyActive && m.opts.lineageOf(k.Algorithm) == m.opts.Algorithm &&
			(active == nil || k.ActivatedAt.After(active.ActivatedAt)) {
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
