package directory

import (
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// FuzzUserFilter: whatever the username, the user filter keeps its shape
// (an AND of the template's two equality matches) and the username is
// the second one's value byte for byte: no input adds a wildcard, a
// clause or a closing parenthesis (RFC 4515 section 3).
func FuzzUserFilter(f *testing.F) {
	for _, s := range []string{"alice", "*", "al*", "admin)(uid=*", "*)(|(uid=*", `\2a`, "a\x00b", "é", ")(", "\xff"} {
		f.Add(s)
	}
	const tmpl = "(&(objectClass=inetOrgPerson)(uid={username}))"
	f.Fuzz(func(t *testing.T, username string) {
		filter := fill(tmpl, ldap.EscapeFilter(username), "")
		p, err := ldap.CompileFilter(filter)
		if err != nil {
			t.Fatalf("filter for %q = %q does not compile: %v", username, filter, err)
		}
		if p.Tag != ldap.FilterAnd || len(p.Children) != 2 {
			t.Fatalf("filter for %q = %q: not an AND of two clauses", username, filter)
		}
		eq := p.Children[1]
		if eq.Tag != ldap.FilterEqualityMatch || len(eq.Children) != 2 {
			t.Fatalf("filter for %q = %q: second clause is not an equality match", username, filter)
		}
		if attr, value := eq.Children[0].Data.String(), eq.Children[1].Data.String(); attr != "uid" || value != username {
			t.Fatalf("filter for %q matches %s=%q; want uid=%q", username, attr, value, username)
		}
	})
}
