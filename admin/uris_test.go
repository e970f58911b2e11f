package admin

import (
	"errors"
	"strings"
	"testing"
)

// TestRedirectURIRules checks registration against RFC 6749 section 3.1.2
// (absolute, no fragment), RFC 9700 section 4.1.3 (exact: no wildcard, no
// user information) and RFC 8252 sections 7.1, 7.3 and 8.3 (native apps:
// reverse-domain private-use schemes, loopback IP literals over http,
// localhost refused).
func TestRedirectURIRules(t *testing.T) {
	for _, tt := range []struct {
		uri string
		ok  bool
	}{
		{"https://app.example/cb", true},
		{"https://app.example:8443/cb?tenant=1", true},
		{"http://127.0.0.1/callback", true},
		{"http://127.0.0.1:51004/callback", true},
		{"http://[::1]/cb", true},
		{"http://[::1]:8080/cb", true},
		{"com.example.app:/oauth2redirect/provider", true},
		{"com.example.app://callback", true},
		{"", false},
		{"/cb", false},
		{"app.example/cb", false},
		{"https://app.example/cb#frag", false},
		{"https://app.example/cb#", false},
		{"https://*.app.example/cb", false},
		{"https://app.example/*", false},
		{"https://user:pw@app.example/cb", false},
		{"https://user@app.example/cb", false},
		{"http://app.example/cb", false},
		{"http://localhost/cb", false},
		{"http://localhost:3000/cb", false},
		{"http://127.0.0.2/cb", false},
		{"myapp:/cb", false},
		{"javascript:alert(1)", false},
		{"data:text/html,hi", false},
		{"com.example.app:cb", false},
		{"com.example.app:", false},
		{"HTTPS://app.example/cb", false},
		{"https:///cb", false},
		{"https://app.example/c b", false},
		{"https://app.example/cb\n", false},
		{"https://app.example:99999/cb", false},
		{"https://app.example:0/cb", false},
	} {
		err := checkRedirectURI("redirect_uris", tt.uri)
		if (err == nil) != tt.ok {
			t.Errorf("checkRedirectURI(%q) = %v; want ok = %v", tt.uri, err, tt.ok)
		}
		var fe *FieldError
		if err != nil && (!errors.As(err, &fe) || fe.Field != "redirect_uris") {
			t.Errorf("checkRedirectURI(%q) = %v; want a FieldError naming redirect_uris", tt.uri, err)
		}
	}
}

// TestWebOriginRules checks origins (RFC 6454 section 6.2: scheme, host,
// port, nothing after) and their stored form, which is what browsers send
// in Origin: lower case, no default port.
func TestWebOriginRules(t *testing.T) {
	for _, tt := range []struct {
		in, want string // want "" means refused
	}{
		{"https://app.example", "https://app.example"},
		{"HTTPS://App.Example:443", "https://app.example"},
		{"https://app.example:8443", "https://app.example:8443"},
		{"http://localhost:3000", "http://localhost:3000"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"http://[::1]:3000", "http://[::1]:3000"},
		{"http://localhost:80", "http://localhost"},
		{"https://app.example/", ""},
		{"https://app.example/app", ""},
		{"https://app.example?x=1", ""},
		{"https://app.example?", ""},
		{"https://app.example#x", ""},
		{"http://app.example", ""},
		{"ftp://app.example", ""},
		{"app.example", ""},
		{"https://*.app.example", ""},
		{"https://u@app.example", ""},
		{"null", ""},
		{"https://bücher.example", ""},
		{"https://app.example:70000", ""},
		{"", ""},
	} {
		got, err := cleanWebOrigin(tt.in)
		if tt.want == "" {
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != "web_origins" {
				t.Errorf("cleanWebOrigin(%q) = %q, %v; want a FieldError naming web_origins", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("cleanWebOrigin(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
	got, err := cleanWebOrigins([]string{"https://a.example", "HTTPS://A.EXAMPLE:443", "https://b.example"})
	if err != nil || len(got) != 2 {
		t.Errorf("cleanWebOrigins(duplicates after normalisation) = %v, %v; want 2 origins", got, err)
	}
}

// TestProfileRules checks the user profile fields: an email is an address
// only (net/mail, RFC 5322 addr-spec), at most 254 bytes (RFC 5321
// section 4.5.3.1.3).
func TestProfileRules(t *testing.T) {
	long := strings.Repeat("a", 243) // 243 + len("@example.com") = 255 bytes
	for _, tt := range []struct {
		email    string
		verified bool
		name     string
		field    string // "" means accepted
	}{
		{"alice@example.com", true, "Alice Liddell", ""},
		{"", false, "", ""},
		{"a.b+tag@sub.example.org", false, "Ålice Ünïcode", ""},
		{strings.Repeat("a", 242) + "@example.com", false, strings.Repeat("é", 256), ""},
		{"Alice <alice@example.com>", false, "", "email"},
		{"alice@example.com (home)", false, "", "email"},
		{" alice@example.com", false, "", "email"},
		{"alice", false, "", "email"},
		{"alice@", false, "", "email"},
		{"alice@example.com, bob@example.com", false, "", "email"},
		{long + "@example.com", false, "", "email"},
		{"", true, "", "email_verified"},
		{"", false, " Alice", "name"},
		{"", false, "Al\x07ice", "name"},
		{"", false, strings.Repeat("é", 257), "name"},
	} {
		err := checkProfile(tt.email, tt.verified, tt.name)
		var fe *FieldError
		switch {
		case tt.field == "" && err != nil:
			t.Errorf("checkProfile(%q, %v, %q) = %v; want nil", tt.email, tt.verified, tt.name, err)
		case tt.field != "" && (!errors.As(err, &fe) || fe.Field != tt.field):
			t.Errorf("checkProfile(%q, %v, %q) = %v; want a FieldError naming %s", tt.email, tt.verified, tt.name, err, tt.field)
		}
	}
}
