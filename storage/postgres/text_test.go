package postgres

import (
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// TestValidTextIsWhatPostgresHolds shows why storage.ValidText is the
// input boundary's rule: PostgreSQL holds unchanged exactly the values it
// accepts. Others fail in text and in jsonb (NUL), or come back altered
// from jsonb (invalid UTF-8 becomes U+FFFD), where the memory store would
// keep them as they are.
func TestValidTextIsWhatPostgresHolds(t *testing.T) {
	s := newStore(t)
	now := time.Now().UTC()
	for i, v := range []string{"a\x00b", "a\xffb", "\xc3", "ok\x01", "ok\uFFFD"} {
		for _, field := range []string{"name", "claim"} {
			c := storage.Client{ID: "c" + string(rune('a'+i)) + field, Name: "n" + string(rune('a'+i)) + field, SecretHash: []byte("0123456789abcdef0123456789abcdef"),
				GrantTypes: []string{"client_credentials"}, CreatedAt: now, UpdatedAt: now}
			if field == "name" {
				c.Name += v
			} else {
				c.Claims = map[string]any{"x": v}
			}
			err := s.CreateClient(t.Context(), c)
			held := err == nil
			if held {
				got, err := s.GetClient(t.Context(), c.ID)
				if err != nil {
					t.Fatal(err)
				}
				held = got.Name == c.Name && (c.Claims == nil || got.Claims["x"] == v)
			}
			if held != storage.ValidText(v) {
				t.Errorf("client with %s %q: held unchanged %v (err %v); ValidText says %v", field, v, held, err, storage.ValidText(v))
			}
		}
	}
}
