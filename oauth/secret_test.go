package oauth

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func TestClientSecretHasher(t *testing.T) {
	secret, digest, err := NewClientSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(secret) < 43 || len(digest) != 32 {
		t.Fatalf("NewClientSecret = %d-char secret, %d-byte digest; want >= 43 chars (256 bits), 32 bytes", len(secret), len(digest))
	}
	s2, _, _ := NewClientSecret()
	if s2 == secret {
		t.Fatal("two generated secrets are equal")
	}
	old, oldDigest, _ := NewClientSecret()
	ctx := context.Background()
	var h secretHasher
	now := time.Now()
	for _, tc := range []struct {
		name   string
		client storage.Client
		try    string
		want   bool
	}{
		{"current", storage.Client{SecretHash: digest}, secret, true},
		{"wrong", storage.Client{SecretHash: digest}, secret + "x", false},
		{"empty", storage.Client{SecretHash: digest}, "", false},
		{"no stored secret", storage.Client{}, "", false},
		{"previous within grace", storage.Client{SecretHash: digest, PreviousSecretHash: oldDigest, PreviousSecretExpiresAt: now.Add(time.Minute)}, old, true},
		{"current during grace", storage.Client{SecretHash: digest, PreviousSecretHash: oldDigest, PreviousSecretExpiresAt: now.Add(time.Minute)}, secret, true},
		{"previous after grace", storage.Client{SecretHash: digest, PreviousSecretHash: oldDigest, PreviousSecretExpiresAt: now.Add(-time.Second)}, old, false},
	} {
		c := newClient(tc.client, now, "https://issuer")
		err := h.Compare(ctx, c.GetHashedSecret(), []byte(tc.try))
		if (err == nil) != tc.want {
			t.Errorf("%s: Compare = %v; want match %v", tc.name, err, tc.want)
		}
	}
}

func TestReservedClaims(t *testing.T) {
	for _, name := range []string{"iss", "SUB", "aud", "exp", "nbf", "iat", "jti", "client_id", "scope", "roles", "fid", "cnf", "act"} {
		if !IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = false; want true", name)
		}
	}
	for _, name := range []string{"tenant", "department", "tier"} {
		if IsReservedClaim(name) {
			t.Errorf("IsReservedClaim(%q) = true; want false", name)
		}
	}
}

func BenchmarkClientSecretCompare(b *testing.B) {
	secret, digest, _ := NewClientSecret()
	var h secretHasher
	ctx := context.Background()
	for b.Loop() {
		if err := h.Compare(ctx, digest, []byte(secret)); err != nil {
			b.Fatal(err)
		}
	}
}
