package oauth

import (
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

// FuzzUnverifiedIssuer: whatever the token, reading its unverified "iss"
// never panics, and an issuer it returns is text every store can hold,
// within the bound, before any store sees it.
func FuzzUnverifiedIssuer(f *testing.F) {
	for _, seed := range []string{
		"eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJodHRwczovL2lkcC5leGFtcGxlIn0.c2ln",
		"a.eyJpc3MiOiJodHRwczovL3hcdTAwMDAifQ.b", // iss with \u0000
		"a.eyJpc3MiOjd9.b",                       // iss a number
		"a.bm90IGpzb24.b", "a..b", "", "....", "a.e30.b",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, token string) {
		iss, err := unverifiedIssuer(token)
		if err != nil {
			return
		}
		if iss == "" || len(iss) > maxExternalText || !storage.ValidText(iss) {
			t.Fatalf("unverifiedIssuer(%q) = %q; want usable text", token, iss)
		}
	})
}
