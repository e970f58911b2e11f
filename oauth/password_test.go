package oauth

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func cheapParams() PasswordParams {
	return PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1, Parallelism: 1}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	ctx := context.Background()
	h, err := NewPasswordHasher(cheapParams())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := h.Hash(ctx, "s3cret pässword")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enc, "$argon2id$v=19$m=8192,t=1,p=1$") {
		t.Fatalf("Hash = %q; want a PHC argon2id string with the configured parameters", enc)
	}
	other, _ := h.Hash(ctx, "s3cret pässword")
	if other == enc {
		t.Fatal("two hashes of one password are equal: salt is not random")
	}
	for _, tc := range []struct {
		password string
		want     bool
	}{
		{"s3cret pässword", true},
		{"s3cret password", false},
		{"", false},
		{"S3cret pässword", false},
	} {
		ok, rehash, err := h.Verify(ctx, enc, tc.password)
		if err != nil || ok != tc.want || rehash {
			t.Errorf("Verify(%q) = %v, %v, %v; want %v, false, nil", tc.password, ok, rehash, err, tc.want)
		}
	}

	// Parameters changed: the old hash still verifies and asks for a rehash.
	stronger := cheapParams()
	stronger.Iterations = 2
	h2, _ := NewPasswordHasher(stronger)
	ok, rehash, err := h2.Verify(ctx, enc, "s3cret pässword")
	if !ok || !rehash || err != nil {
		t.Errorf("Verify with new parameters = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
}

func TestPasswordVerifyRejectsMalformed(t *testing.T) {
	h, _ := NewPasswordHasher(cheapParams())
	for _, enc := range []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=18$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA",
		"$argon2id$v=19$m=8192,t=1,p=1$!!!$aGFzaGhhc2hoYXNoaGFzaA",
		"$2a$12$abcdefghijklmnopqrstuu",
	} {
		if ok, _, err := h.Verify(context.Background(), enc, "x"); ok || err == nil {
			t.Errorf("Verify(%q) = %v, %v; want false and an error", enc, ok, err)
		}
	}
}

func TestPasswordParamsValidate(t *testing.T) {
	if _, err := NewPasswordHasher(PasswordParams{MemoryKiB: 8 * 1024, Iterations: 1, SaltLen: 4}); err == nil {
		t.Error("a 4-byte salt was accepted")
	}
}

func TestNormalizeUsername(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Alice", "alice"},
		{"ALICE", "alice"},
		{"Ame\u0301lie", "am\u00e9lie"}, // decomposed accent -> composed
		{"AM\u00c9LIE", "am\u00e9lie"},
		// Where case folding and lower-casing differ (strings.ToLower
		// leaves the first column as it is, or maps it elsewhere):
		{"Stra\u00dfe", "strasse"}, // ß folds to ss
		{"STRASSE", "strasse"},     // so both spellings are one user
		{"\u1e9e", "ss"},           // capital sharp s: ToLower gives ß
		{"\u039f\u0394\u03a5\u03a3\u03a3\u0395\u03a5\u03a3", "\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c3"}, // ΟΔΥΣΣΕΥΣ
		{"\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2", "\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c3"}, // final sigma ς folds to σ
		{"\ufb01le", "file"},  // the ﬁ ligature
		{"\u0130", "i\u0307"}, // İ: full folding, dotted i
	} {
		if got := NormalizeUsername(tc.in); got != tc.want {
			t.Errorf("NormalizeUsername(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
	// The cases above that differ from lower-casing, so the test tells
	// folding from ToLower.
	for _, in := range []string{"Stra\u00dfe", "\u1e9e", "\u03bf\u03b4\u03c5\u03c3\u03c3\u03b5\u03c5\u03c2", "\ufb01le"} {
		if NormalizeUsername(in) == legacyUsername(in) {
			t.Errorf("NormalizeUsername(%q) = legacyUsername = %q; want case folding to differ from lower case here", in, NormalizeUsername(in))
		}
	}
}

// TestHashQueueBounded: past MaxConcurrent running and MaxQueue waiting, a
// hash fails at once with ErrHashBusy; a waiter whose deadline passes
// gives up with ErrHashBusy; neither holds argon2id memory.
func TestHashQueueBounded(t *testing.T) {
	p := cheapParams()
	p.MaxConcurrent, p.MaxQueue = 1, 1
	obs := &countingObserver{}
	p.Observer = obs
	h, err := NewPasswordHasher(p)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := h.Hash(context.Background(), "pw")
	// Take the only slot.
	if err := h.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	waiterDone := make(chan error, 1)
	waitCtx, cancel := context.WithCancel(context.Background())
	go func() {
		_, _, err := h.Verify(waitCtx, enc, "pw")
		waiterDone <- err
	}()
	for h.waiting.Load() != 1 {
		runtime.Gosched()
	}
	// The queue is full: the next hash is refused without waiting.
	if _, _, err := h.Verify(context.Background(), enc, "pw"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("Verify with slot and queue full = %v; want ErrHashBusy", err)
	}
	if err := h.VerifyDummy(context.Background(), "pw"); !errors.Is(err, ErrHashBusy) {
		t.Fatalf("VerifyDummy with slot and queue full = %v; want ErrHashBusy", err)
	}
	// The waiter's deadline passes.
	cancel()
	if err := <-waiterDone; !errors.Is(err, ErrHashBusy) {
		t.Fatalf("waiter after its deadline = %v; want ErrHashBusy", err)
	}
	h.release()
	if ok, _, err := h.Verify(context.Background(), enc, "pw"); !ok || err != nil {
		t.Fatalf("Verify after the slot is free = %v, %v; want true", ok, err)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if obs.waits["queue_full"] != 2 || obs.waits["deadline"] != 1 || obs.waits["ok"] < 2 {
		t.Errorf("observed hash waits %v; want 2 queue_full, 1 deadline, some ok", obs.waits)
	}
}

type countingObserver struct {
	log              syncBuffer
	mu               sync.Mutex
	blocked, cleared map[string]int
	waits            map[string]int
}

func (o *countingObserver) ThrottleBlocked(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.blocked == nil {
		o.blocked = map[string]int{}
	}
	o.blocked[kind]++
}

func (o *countingObserver) ThrottleCleared(kind string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.cleared == nil {
		o.cleared = map[string]int{}
	}
	o.cleared[kind]++
}

func (o *countingObserver) PasswordHashWait(_ time.Duration, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.waits == nil {
		o.waits = map[string]int{}
	}
	o.waits[outcome]++
}

func BenchmarkPasswordVerify(b *testing.B) {
	h, _ := NewPasswordHasher(PasswordParams{})
	enc, _ := h.Hash(context.Background(), "correct horse battery staple")
	b.ResetTimer()
	for b.Loop() {
		h.Verify(context.Background(), enc, "correct horse battery staple")
	}
}

// BenchmarkPasswordVerifyParallel is "the configured argon2id hash alone"
// on every core: the ceiling the password grant is measured against.
func BenchmarkPasswordVerifyParallel(b *testing.B) {
	h, _ := NewPasswordHasher(PasswordParams{})
	enc, _ := h.Hash(context.Background(), "correct horse battery staple")
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Verify(context.Background(), enc, "correct horse battery staple")
		}
	})
}

// TestFindUserByUsernameLegacy: a user stored before case folding (as NFC
// lower case) is still found by the spellings that found it before, and
// a user stored in the new form by every spelling.
func TestFindUserByUsernameLegacy(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	for _, u := range []storage.User{{ID: "old", Username: "stra\u00dfe"}, {ID: "new", Username: NormalizeUsername("Gro\u00dfmann")}} {
		if err := s.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ in, want string }{
		{"Stra\u00dfe", "old"}, {"STRA\u00dfE", "old"},
		{"Gro\u00dfmann", "new"}, {"GROSSMANN", "new"}, {"grossmann", "new"},
	} {
		u, err := FindUserByUsername(ctx, s, tc.in)
		if err != nil || u.ID != tc.want {
			t.Errorf("FindUserByUsername(%q) = %q, %v; want %q", tc.in, u.ID, err, tc.want)
		}
	}
	if _, err := FindUserByUsername(ctx, s, "nobody"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("FindUserByUsername(nobody) = %v; want ErrNotFound", err)
	}
}

// syncBuffer is a bytes.Buffer safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
