package oauth

import (
	"context"
	"strings"
	"testing"
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
	} {
		if got := NormalizeUsername(tc.in); got != tc.want {
			t.Errorf("NormalizeUsername(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
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
