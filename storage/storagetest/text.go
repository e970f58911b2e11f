package storagetest

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

// edgeTexts are values storage.ValidText accepts that are easy to get
// wrong: control characters other than NUL, the replacement character, the
// last code point, combining marks, quotes and escapes, percent signs, and
// long values. Every store must hold them unchanged (design D9: what the
// input boundary lets through, both stores agree on).
func edgeTexts() []string {
	return []string{
		"ctl\x01\x1f\x7f",
		"repl\uFFFD",
		"max\U0010FFFF",
		"e\u0301 \u00e9 \u4e16\u754c \U0001F600",
		`q'"\` + "`$(x)",
		"pct%00%FF",
		strings.Repeat("\u00e9", 2048),
	}
}

// testValidText stores every edge text in each kind of field, reads it back
// unchanged, and finds nothing under a key that differs only after a NUL or
// an invalid byte would have been dropped.
func testValidText(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i, v := range edgeTexts() {
		if !storage.ValidText(v) {
			t.Fatalf("ValidText(%q) = false; want true", v)
		}
		c := sampleClient(fmt.Sprintf("text-client-%d", i))
		c.Name = fmt.Sprintf("%d-%s", i, v)
		c.Audiences = []string{v}
		c.Claims = map[string]any{"v": v, "nested": map[string]any{"list": []any{v}}}
		c.RedirectURIs, c.PostLogoutRedirectURIs, c.WebOrigins = []string{v}, []string{v, "x"}, []string{v}
		mustNil(t, fmt.Sprintf("CreateClient(name %q)", c.Name), s.CreateClient(ctx, c))
		got, err := s.GetClient(ctx, c.ID)
		mustNil(t, "GetClient", err)
		if !equalClient(got, c) {
			t.Errorf("GetClient(%q) = %+v; want %+v", c.ID, got, c)
		}
		u := sampleUser(fmt.Sprintf("text-user-%d", i), fmt.Sprintf("%d-%s", i, v))
		u.Email, u.Name = v, v
		mustNil(t, fmt.Sprintf("CreateUser(username %q)", u.Username), s.CreateUser(ctx, u))
		gu, err := s.GetUserByUsername(ctx, u.Username)
		mustNil(t, fmt.Sprintf("GetUserByUsername(%q)", u.Username), err)
		if !equalUser(gu, u) {
			t.Errorf("GetUserByUsername(%q) = %+v; want %+v", u.Username, gu, u)
		}
		code := sampleCode(fmt.Sprint("text-", i))
		code.RedirectURI, code.Nonce, code.CodeChallenge, code.GrantedScopes = v, v, v, []string{v}
		mustNil(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, code))
		gc, err := s.GetAuthorizationCode(ctx, code.Digest)
		mustNil(t, "GetAuthorizationCode", err)
		if !equalCode(gc, code) {
			t.Errorf("GetAuthorizationCode = %+v; want %+v", gc, code)
		}
		_, err = s.GetUser(ctx, v)
		wantErr(t, fmt.Sprintf("GetUser(%q)", v), err, storage.ErrNotFound)
		_, err = s.GetClient(ctx, v)
		wantErr(t, fmt.Sprintf("GetClient(%q)", v), err, storage.ErrNotFound)
	}
	for _, v := range []string{"a\x00b", "a\xffb", "\xc3"} {
		if storage.ValidText(v) {
			t.Errorf("ValidText(%q) = true; want false", v)
		}
	}
}
