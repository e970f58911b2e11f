package keys

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	rawSecret = "a-raw-master-secret-of-36-bytes-long"
	oldSecret = "an-older-master-secret-0123456789abcdef"
)

func TestParseSecrets(t *testing.T) {
	b32 := bytes.Repeat([]byte{0xab}, 32)
	tests := []struct {
		entries []string
		n       int
		wantErr error
	}{
		{[]string{rawSecret}, 1, nil},
		{[]string{"base64:" + base64.StdEncoding.EncodeToString(b32)}, 1, nil},
		{[]string{"base64:" + base64.RawURLEncoding.EncodeToString(b32), " ", oldSecret}, 2, nil},
		{[]string{"too-short"}, 0, ErrWeakSecret},
		{[]string{"base64:" + base64.StdEncoding.EncodeToString(b32[:31])}, 0, ErrWeakSecret},
		{[]string{"base64:!!not base64!!"}, 0, nil},
		{[]string{"", "  "}, 0, ErrNoSecrets},
	}
	for _, tt := range tests {
		s, err := ParseSecrets(tt.entries)
		switch {
		case tt.n > 0 && (err != nil || s.Len() != tt.n):
			t.Errorf("ParseSecrets(%q) = %v, %v; want %d secrets", tt.entries, s, err, tt.n)
		case tt.n == 0 && err == nil:
			t.Errorf("ParseSecrets(%q) = %v; want an error", tt.entries, s)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Errorf("ParseSecrets(%q) error = %v; want %v", tt.entries, err, tt.wantErr)
		}
		if err != nil {
			for _, e := range tt.entries {
				if strings.TrimSpace(e) != "" && strings.Contains(err.Error(), strings.TrimPrefix(e, "base64:")) {
					t.Errorf("ParseSecrets error %q quotes the secret", err)
				}
			}
		}
	}
}

func TestLoadSecrets(t *testing.T) {
	file := filepath.Join(t.TempDir(), "secrets")
	if err := os.WriteFile(file, []byte("# newest first\n"+rawSecret+"\n\n"+oldSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	s, err := LoadSecrets(env(map[string]string{EnvSecretsFile: file}))
	if err != nil || s.Len() != 2 {
		t.Fatalf("LoadSecrets(file) = %v, %v; want 2 secrets", s, err)
	}
	fromList, err := LoadSecrets(env(map[string]string{EnvSecrets: rawSecret + "," + oldSecret}))
	if err != nil || fromList.Len() != 2 {
		t.Fatalf("LoadSecrets(list) = %v, %v; want 2 secrets", fromList, err)
	}
	sealed, err := s.seal("kid", []byte("key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _, err := fromList.open("kid", sealed); err != nil || !bytes.Equal(got, []byte("key")) {
		t.Fatalf("the same secrets from a file and from the list: open = %q, %v; want what the other sealed", got, err)
	}
	if _, err := LoadSecrets(env(nil)); !errors.Is(err, ErrNoSecrets) {
		t.Fatalf("LoadSecrets(nothing) = %v; want ErrNoSecrets", err)
	}
	if _, err := LoadSecrets(env(map[string]string{EnvSecrets: rawSecret, EnvSecretsFile: file})); err == nil {
		t.Fatal("LoadSecrets(both set) succeeded; want an error")
	}
	if _, err := LoadSecrets(env(map[string]string{EnvSecrets: "short"})); !errors.Is(err, ErrWeakSecret) ||
		!strings.Contains(err.Error(), EnvSecrets) {
		t.Fatalf("LoadSecrets(short) = %v; want ErrWeakSecret naming %s", err, EnvSecrets)
	}
}

func TestSealOpen(t *testing.T) {
	s, _ := ParseSecrets([]string{rawSecret, oldSecret})
	old, _ := ParseSecrets([]string{oldSecret})
	sealed, err := old.seal("kid-1", []byte("private key"))
	if err != nil {
		t.Fatal(err)
	}
	pt, which, err := s.open("kid-1", sealed)
	if err != nil || string(pt) != "private key" || which != 1 {
		t.Fatalf("open = %q, %d, %v; want the plaintext from secret 1", pt, which, err)
	}
	// The kid is the additional data: a sealed key cannot move to another kid.
	if _, _, err := s.open("kid-2", sealed); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("open(other kid) = %v; want ErrWrongSecret", err)
	}
	other, _ := ParseSecrets([]string{rawSecret})
	if _, _, err := other.open("kid-1", sealed); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("open(wrong secret) = %v; want ErrWrongSecret", err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, _, err := s.open("kid-1", sealed); !errors.Is(err, ErrWrongSecret) {
		t.Fatalf("open(tampered) = %v; want ErrWrongSecret", err)
	}
}

// Secrets never reach output through fmt or slog.
func TestSecretsRedacted(t *testing.T) {
	s, _ := ParseSecrets([]string{rawSecret})
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("x", "secrets", s)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s", s, s, s, s)
	if strings.Contains(out, rawSecret) || strings.Contains(out, "master-secret") {
		t.Fatalf("secret in output: %s", out)
	}
}

func TestSealData(t *testing.T) {
	s, err := ParseSecrets([]string{strings.Repeat("a", 32)})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealData("connector", "corp", []byte("client-secret"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("client-secret")) {
		t.Fatal("sealed value holds the plaintext")
	}
	if pt, err := s.OpenData("connector", "corp", sealed); err != nil || string(pt) != "client-secret" {
		t.Fatalf("OpenData = %q, %v; want client-secret", pt, err)
	}
	for _, c := range []struct{ purpose, id string }{{"connector", "other"}, {"connector-refresh", "corp"}, {"", "connector\x00corp"}} {
		if _, err := s.OpenData(c.purpose, c.id, sealed); !errors.Is(err, ErrWrongSecret) {
			t.Errorf("OpenData(%q, %q) = %v; want ErrWrongSecret", c.purpose, c.id, err)
		}
	}
	if _, _, err := s.open("corp", sealed); err == nil {
		t.Error("a sealed value opened as a signing key")
	}
	// An older secret still opens what it sealed.
	rotated, err := ParseSecrets([]string{strings.Repeat("b", 32), strings.Repeat("a", 32)})
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := rotated.OpenData("connector", "corp", sealed); err != nil || string(pt) != "client-secret" {
		t.Fatalf("OpenData after rotation = %q, %v", pt, err)
	}
}

// An OpenData error names the purpose only: the id (a connector id and an
// upstream subject, for refresh tokens) would reach logs with NUL bytes.
func TestOpenDataErrorNamesPurposeOnly(t *testing.T) {
	s, err := ParseSecrets([]string{strings.Repeat("a", 32)})
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := s.SealData("connector-refresh", "corp\x00alice-subject", []byte("rt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{"wrong id": sealed, "truncated": sealed[:5], "unknown format": {9, 1, 2}} {
		_, err := s.OpenData("connector-refresh", "corp\x00bob-subject", in)
		if err == nil {
			t.Fatalf("%s: opened", name)
		}
		msg := err.Error()
		if strings.Contains(msg, "subject") || strings.Contains(msg, "corp") || strings.ContainsRune(msg, 0) || !strings.Contains(msg, "connector-refresh") {
			t.Errorf("%s: error %q carries the id or lacks the purpose", name, msg)
		}
		if name == "wrong id" && !errors.Is(err, ErrWrongSecret) {
			t.Errorf("wrong id: %v; want ErrWrongSecret", err)
		}
	}
}
