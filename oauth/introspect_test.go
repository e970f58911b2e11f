package oauth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// Introspection judges an access token's times by verifier.ValidateClaims
// with Config.Leeway, the rule every Gatehouse verifier applies: a token
// from an instance whose clock runs ahead by less than the leeway is
// active, by more it is not (RFC 7519 section 4.1.5, 4.1.6), and a token
// past exp plus the leeway is not (section 4.1.4).
func TestIntrospectTimesWithLeeway(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	ring, err := keys.NewEphemeralRing(keys.ES256)
	if err != nil {
		t.Fatal(err)
	}
	issued := time.Now().UTC().Truncate(time.Second)
	now := issued
	s, err := New(Config{Issuer: "https://issuer.example", Leeway: 30 * time.Second, Now: func() time.Time { return now },
		Password: PasswordParams{MemoryKiB: 64, Iterations: 1}}, store, ring)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.CreateClient(ctx, storage.Client{ID: "c", Name: "c", SecretHash: HashClientSecret("s"),
		GrantTypes: []string{"client_credentials"}, Scopes: []string{"read"}, CreatedAt: issued}); err != nil {
		t.Fatal(err)
	}
	code, body := tokenRequest(ctx, s, url.Values{"grant_type": {"client_credentials"}})
	tok, _ := body["access_token"].(string)
	if code != http.StatusOK || tok == "" {
		t.Fatalf("client_credentials = %d %v; want 200 and a token", code, body)
	}
	tests := []struct {
		name   string
		at     time.Time
		active bool
	}{
		{"at issue", issued, true},
		{"clock 29s behind the issuer", issued.Add(-29 * time.Second), true},
		{"clock 31s behind the issuer", issued.Add(-31 * time.Second), false},
		{"past exp and leeway", issued.Add(DefaultAccessTokenLifetime + 31*time.Second), false},
	}
	for _, tt := range tests {
		now = tt.at
		form := url.Values{"token": {tok}}
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/introspect", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("c", "s")
		w := httptest.NewRecorder()
		s.Introspect(w, req)
		var got map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || w.Code != http.StatusOK {
			t.Fatalf("%s: introspect = %d %s; want 200", tt.name, w.Code, w.Body)
		}
		if got["active"] != tt.active {
			t.Errorf("%s: introspect active = %v; want %v", tt.name, got["active"], tt.active)
		}
	}
}
