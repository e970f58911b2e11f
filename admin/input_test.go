package admin

import (
	"strings"
	"testing"
)

func TestBadJSONText(t *testing.T) {
	deep := func(n int, leaf string) string {
		return strings.Repeat(`{"a":`, n) + leaf + strings.Repeat("}", n)
	}
	for _, tt := range []struct {
		name, body string
		wantField  string
		wantBad    bool
	}{
		{"clean", `{"name":"x","claims":{"t":["a","b"]}}`, "", false},
		{"escaped backslash before u0000 is text", `{"name":"a\\u0000"}`, "", false},
		{"not JSON", `{"name":`, "", false},
		{"NUL value", `{"name":"a\u0000"}`, "name", true},
		{"NUL in nested list", `{"claims":{"org":{"ids":["x","\u0000"]}}}`, "claims.org.ids", true},
		{"NUL in member name", `{"claims":{"a\u0000":1}}`, "claims", true},
		{"invalid UTF-8 value", "{\"claims\":{\"t\":\"\xff\"}}", "claims.t", true},
		{"invalid UTF-8 member name", "{\"claims\":{\"\xff\":\"x\"}}", "claims", true},
		{"top-level string", `"\u0000"`, "", true},
		{"deep and clean", deep(5000, `"x"`), "", false},
		{"deep NUL is named by its subtree", deep(5000, `"\u0000"`), strings.TrimSuffix(strings.Repeat("a.", maxTextDepth), "."), true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			field, bad := badJSONText("", []byte(tt.body))
			if field != tt.wantField || bad != tt.wantBad {
				t.Errorf("badJSONText(%.60q) = %q, %v; want %q, %v", tt.body, field, bad, tt.wantField, tt.wantBad)
			}
		})
	}
}
