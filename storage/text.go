package storage

import (
	"strings"
	"unicode/utf8"
)

// ValidText reports whether every store can hold s: valid UTF-8 with no NUL
// byte. PostgreSQL's text refuses NUL and invalid UTF-8 (SQLSTATE 22021) and
// its jsonb refuses \u0000 (22P05), where the memory store would keep them;
// callers refuse such input at their boundary (design D9), so that no store
// sees it and both stores answer alike.
func ValidText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}
