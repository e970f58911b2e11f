package memory

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"
)

type txKey struct{}

type tx struct {
	mu   sync.Mutex
	undo []func()
	done bool
}

// BeginTX starts a transaction carried by the returned context.
func (s *Store) BeginTX(ctx context.Context) (context.Context, error) {
	if _, ok := ctx.Value(txKey{}).(*tx); ok {
		return nil, errors.New("memory: transaction already open in context")
	}
	return context.WithValue(ctx, txKey{}, &tx{}), nil
}

// Commit ends the context's transaction, keeping its writes.
func (s *Store) Commit(ctx context.Context) error {
	t, err := openTx(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.done, t.undo = true, nil
	return nil
}

// Rollback ends the context's transaction, undoing its writes.
func (s *Store) Rollback(ctx context.Context) error {
	t, err := openTx(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i]()
	}
	t.done, t.undo = true, nil
	return nil
}

func openTx(ctx context.Context) (*tx, error) {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return nil, errors.New("memory: no transaction in context")
	}
	if t.done {
		return nil, errors.New("memory: transaction already ended")
	}
	return t, nil
}

// record registers an undo step for the context's transaction, if any.
// Callers hold s.mu.
func record(ctx context.Context, undo func()) error {
	t, ok := ctx.Value(txKey{}).(*tx)
	if !ok {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.done {
		return errors.New("memory: transaction already ended")
	}
	t.undo = append(t.undo, undo)
	return nil
}

// setMap writes m[k] = v and records how to restore the previous state.
func setMap[K comparable, V any](ctx context.Context, m map[K]V, k K, v V) error {
	old, had := m[k]
	if err := record(ctx, func() {
		if had {
			m[k] = old
		} else {
			delete(m, k)
		}
	}); err != nil {
		return err
	}
	m[k] = v
	return nil
}

func deleteMap[K comparable, V any](ctx context.Context, m map[K]V, k K) error {
	old, had := m[k]
	if !had {
		return nil
	}
	if err := record(ctx, func() { m[k] = old }); err != nil {
		return err
	}
	delete(m, k)
	return nil
}

// sortedValues returns clones of m's values ordered by key: the List
// methods of records kept by id. Callers hold s.mu.
func sortedValues[V any](m map[string]V, clone func(V) V) []V {
	out := make([]V, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, clone(m[k]))
	}
	return out
}
