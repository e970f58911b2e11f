package storagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// keyStoreTests are the signing-key part of the suite, which Run runs.
func keyStoreTests() []struct {
	name string
	fn   func(t *testing.T, s storage.KeyStore)
} {
	return []struct {
		name string
		fn   func(t *testing.T, s storage.KeyStore)
	}{
		{"Empty", testKeysEmpty},
		{"RoundTrip", testKeysRoundTrip},
		{"UpdateAndDelete", testKeysUpdateAndDelete},
		{"FuncErrorWritesNothing", testKeysFuncError},
		{"DuplicateID", testKeysDuplicate},
		{"ConcurrentRotationOnce", testKeysConcurrentRotation},
		{"ConcurrentUpdatesSerialised", testKeysConcurrentAppend},
	}
}

func sampleKey(id, state string, created time.Time) storage.SigningKey {
	return storage.SigningKey{
		ID:            id,
		Algorithm:     "ES256",
		State:         state,
		PrivateKeyEnc: []byte("sealed-" + id),
		PublicJWK:     []byte(fmt.Sprintf(`{"kty":"EC","crv":"P-256","kid":%q,"x":"eA","y":"eQ"}`, id)),
		CreatedAt:     created,
		ActivateAt:    created.Add(10 * time.Minute),
		UpdatedAt:     created,
	}
}

// sameKey compares keys field by field, the JWK as JSON (a store may
// normalise its spelling).
func sameKey(a, b storage.SigningKey) bool {
	var ja, jb any
	if json.Unmarshal(a.PublicJWK, &ja) != nil || json.Unmarshal(b.PublicJWK, &jb) != nil || !reflect.DeepEqual(ja, jb) {
		return false
	}
	return a.ID == b.ID && a.Algorithm == b.Algorithm && a.State == b.State &&
		string(a.PrivateKeyEnc) == string(b.PrivateKeyEnc) &&
		a.CreatedAt.Equal(b.CreatedAt) && a.ActivateAt.Equal(b.ActivateAt) && a.ActivatedAt.Equal(b.ActivatedAt) &&
		a.RetireAt.Equal(b.RetireAt) && a.RetiredAt.Equal(b.RetiredAt) && a.DeleteAfter.Equal(b.DeleteAfter) &&
		a.UpdatedAt.Equal(b.UpdatedAt)
}

func ids(ks []storage.SigningKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = k.ID + ":" + k.State
	}
	return out
}

func put(ks ...storage.SigningKey) func([]storage.SigningKey) ([]storage.SigningKey, error) {
	return func(old []storage.SigningKey) ([]storage.SigningKey, error) { return append(old, ks...), nil }
}

func testKeysEmpty(t *testing.T, s storage.KeyStore) {
	got, err := s.ListSigningKeys(context.Background())
	mustNil(t, "ListSigningKeys", err)
	if len(got) != 0 {
		t.Fatalf("ListSigningKeys on an empty store = %v; want none", ids(got))
	}
	called := false
	err = s.UpdateSigningKeys(context.Background(), func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		called = true
		if len(old) != 0 {
			t.Errorf("UpdateSigningKeys on an empty store passed %v; want none", ids(old))
		}
		return old, nil
	})
	mustNil(t, "UpdateSigningKeys(no change)", err)
	if !called {
		t.Fatal("UpdateSigningKeys did not call fn")
	}
}

func testKeysRoundTrip(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	t0 := now()
	a := sampleKey("kid-a", storage.KeyActive, t0)
	a.ActivatedAt, a.RetireAt = t0, t0.Add(24*time.Hour)
	b := sampleKey("kid-b", storage.KeyNext, t0.Add(time.Second))
	mustNil(t, "UpdateSigningKeys(insert)", s.UpdateSigningKeys(ctx, put(b, a)))
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if len(got) != 2 || !sameKey(got[0], a) || !sameKey(got[1], b) {
		t.Fatalf("ListSigningKeys = %+v; want %+v then %+v (ordered by creation)", got, a, b)
	}
	// The slice handed out is a copy.
	got[0].PrivateKeyEnc[0] ^= 0xff
	again, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if !sameKey(again[0], a) {
		t.Fatalf("changing a listed key changed the store: %q", again[0].PrivateKeyEnc)
	}
}

func testKeysUpdateAndDelete(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	t0 := now()
	a, b, c := sampleKey("kid-a", storage.KeyRetired, t0), sampleKey("kid-b", storage.KeyActive, t0.Add(time.Second)),
		sampleKey("kid-c", storage.KeyNext, t0.Add(2*time.Second))
	mustNil(t, "UpdateSigningKeys(insert)", s.UpdateSigningKeys(ctx, put(a, b, c)))
	t1 := t0.Add(time.Hour)
	err := s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		if got := ids(old); !reflect.DeepEqual(got, []string{"kid-a:retired", "kid-b:active", "kid-c:next"}) {
			t.Errorf("fn got %v", got)
		}
		var out []storage.SigningKey
		for _, k := range old {
			switch k.ID {
			case "kid-a":
				continue // deleted
			case "kid-b":
				k.State, k.RetiredAt, k.DeleteAfter, k.UpdatedAt = storage.KeyRetired, t1, t1.Add(time.Hour), t1
			case "kid-c":
				k.State, k.ActivatedAt, k.UpdatedAt = storage.KeyActive, t1, t1
			}
			out = append(out, k)
		}
		return append(out, sampleKey("kid-d", storage.KeyNext, t1)), nil
	})
	mustNil(t, "UpdateSigningKeys(rotate)", err)
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if g := ids(got); !reflect.DeepEqual(g, []string{"kid-b:retired", "kid-c:active", "kid-d:next"}) {
		t.Fatalf("after rotation ListSigningKeys = %v; want [kid-b:retired kid-c:active kid-d:next]", g)
	}
	if !got[0].RetiredAt.Equal(t1) || !got[0].DeleteAfter.Equal(t1.Add(time.Hour)) || !got[1].ActivatedAt.Equal(t1) {
		t.Fatalf("times not kept: %+v %+v", got[0], got[1])
	}
}

func testKeysFuncError(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	mustNil(t, "UpdateSigningKeys(insert)", s.UpdateSigningKeys(ctx, put(sampleKey("kid-a", storage.KeyActive, now()))))
	errGiveWay := errors.New("already rotated")
	err := s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
		return append(old[:0:0], sampleKey("kid-z", storage.KeyNext, now())), errGiveWay
	})
	if err != errGiveWay {
		t.Fatalf("UpdateSigningKeys(fn fails) = %v; want fn's error unchanged", err)
	}
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if g := ids(got); !reflect.DeepEqual(g, []string{"kid-a:active"}) {
		t.Fatalf("after a failed update ListSigningKeys = %v; want [kid-a:active]", g)
	}
}

func testKeysDuplicate(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	k := sampleKey("kid-a", storage.KeyActive, now())
	err := s.UpdateSigningKeys(ctx, put(k, k))
	wantErr(t, "UpdateSigningKeys(same kid twice)", err, storage.ErrAlreadyExists)
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if len(got) != 0 {
		t.Fatalf("after a refused update ListSigningKeys = %v; want none", ids(got))
	}
}

// Many instances decide at once that the active key is due: exactly one
// rotates, the others see its result and give way.
func testKeysConcurrentRotation(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	t0 := now()
	mustNil(t, "UpdateSigningKeys(insert)", s.UpdateSigningKeys(ctx, put(sampleKey("kid-0", storage.KeyActive, t0))))
	errAlreadyRotated := errors.New("already rotated")
	const n = 20
	var wins, gaveWay atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			err := s.UpdateSigningKeys(ctx, func(old []storage.SigningKey) ([]storage.SigningKey, error) {
				out := make([]storage.SigningKey, 0, len(old)+1)
				for _, k := range old {
					if k.State == storage.KeyActive {
						if k.ID != "kid-0" {
							return nil, errAlreadyRotated
						}
						k.State = storage.KeyRetired
					}
					out = append(out, k)
				}
				return append(out, sampleKey(fmt.Sprintf("kid-%d", i+1), storage.KeyActive, t0.Add(time.Second))), nil
			})
			switch {
			case err == nil:
				wins.Add(1)
			case errors.Is(err, errAlreadyRotated):
				gaveWay.Add(1)
			default:
				t.Errorf("UpdateSigningKeys: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if wins.Load() != 1 || gaveWay.Load() != n-1 {
		t.Fatalf("%d concurrent rotations: %d rotated, %d gave way; want 1 and %d", n, wins.Load(), gaveWay.Load(), n-1)
	}
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if len(got) != 2 || got[0].State != storage.KeyRetired || got[1].State != storage.KeyActive {
		t.Fatalf("after concurrent rotation ListSigningKeys = %v; want kid-0 retired and one new active key", ids(got))
	}
}

// Concurrent read-modify-write calls never lose each other's changes.
func testKeysConcurrentAppend(t *testing.T, s storage.KeyStore) {
	ctx := context.Background()
	t0 := now()
	const n = 10
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k := sampleKey(fmt.Sprintf("kid-%02d", i), storage.KeyNext, t0.Add(time.Duration(i)*time.Second))
			if err := s.UpdateSigningKeys(ctx, put(k)); err != nil {
				t.Errorf("UpdateSigningKeys: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.ListSigningKeys(ctx)
	mustNil(t, "ListSigningKeys", err)
	if len(got) != n {
		t.Fatalf("after %d concurrent inserts ListSigningKeys has %d keys (%v); want %d", n, len(got), ids(got), n)
	}
}
