package directory_test

import (
	"context"
	"errors"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/directory"
	"github.com/gatehouse/gatehouse/directory/ldaptest"
)

// people holds alice (admins, developers, an unmapped group), bob
// (developers), carol (no group), a user whose uid holds filter
// metacharacters, and "admin", the name an injection would aim at.
const people = `dn: uid=alice,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: alice
cn: Alice Liddell
sn: Liddell
mail: alice@example.org
userPassword: alice-pw

dn: uid=bob,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bob
cn: Bob
sn: Bob
userPassword: bob-pw

dn: uid=carol,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: carol
cn: Carol
sn: Carol
userPassword: carol-pw

dn: uid=admin,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: admin
cn: Admin
sn: Admin
userPassword: admin-pw

dn: uid=st\2Ar(x)\5C,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: st*r(x)\
cn: Star
sn: Star
userPassword: star-pw

dn: cn=admins,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: admins
member: uid=alice,ou=people,dc=example,dc=org

dn: cn=developers,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: developers
member: uid=alice,ou=people,dc=example,dc=org
member: uid=bob,ou=people,dc=example,dc=org

dn: cn=lunch,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: lunch
member: uid=alice,ou=people,dc=example,dc=org
`

func config(s *ldaptest.Server) directory.Config {
	return directory.Config{
		URL:    s.URL,
		BindDN: ldaptest.ServiceDN, BindPassword: ldaptest.ServicePassword,
		UserBase: ldaptest.UserBase, UserFilter: "(&(objectClass=inetOrgPerson)(uid={username}))",
		GroupBase: ldaptest.GroupBase, GroupFilter: "(&(objectClass=groupOfNames)(member={dn}))",
		Timeout: 5 * time.Second,
	}
}

func newClient(t *testing.T, cfg directory.Config) *directory.Client {
	t.Helper()
	c, err := directory.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

func TestAuthenticate(t *testing.T) {
	s := ldaptest.Start(t, people)
	c := newClient(t, config(s))
	ctx := context.Background()

	id, err := c.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatalf("Authenticate(alice) = %v", err)
	}
	if !uuidRE.MatchString(id.Subject) || id.DN != "uid=alice,ou=people,dc=example,dc=org" ||
		id.Email != "alice@example.org" || id.Name != "Alice Liddell" {
		t.Errorf("Authenticate(alice) = %+v; want entryUUID subject, DN, mail, cn", id)
	}
	if want := []string{"admins", "developers", "lunch"}; !slices.Equal(id.Groups, want) {
		t.Errorf("groups = %v; want %v", id.Groups, want)
	}
	// The username matches as the directory compares uid: case-insensitively.
	if id2, err := c.Authenticate(ctx, "ALICE", "alice-pw"); err != nil || id2.Subject != id.Subject {
		t.Errorf("Authenticate(ALICE) = %+v, %v; want alice's subject", id2, err)
	}
	if id, err := c.Authenticate(ctx, "carol", "carol-pw"); err != nil || len(id.Groups) != 0 {
		t.Errorf("Authenticate(carol) = %+v, %v; want no groups", id, err)
	}
	// A username made of filter metacharacters is matched literally.
	if _, err := c.Authenticate(ctx, `st*r(x)\`, "star-pw"); err != nil {
		t.Errorf("Authenticate(st*r(x)\\) = %v; want success", err)
	}

	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", "alice", "bob-pw"},
		{"unknown user", "mallory", "alice-pw"},
		{"empty password", "alice", ""},
		{"empty username", "", "alice-pw"},
		{"another user's password", "bob", "alice-pw"},
	} {
		if _, err := c.Authenticate(ctx, tc.username, tc.password); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("%s: Authenticate(%q) = %v; want ErrInvalidCredentials", tc.name, tc.username, err)
		}
	}
}

// TestFilterInjection: a username that would change the filter matches
// nobody, with the password of the user it aims at. Unescaped, "al*"
// finds exactly alice and her password logs in; "*" and "admin)(uid=*"
// widen the search.
func TestFilterInjection(t *testing.T) {
	s := ldaptest.Start(t, people)
	c := newClient(t, config(s))
	for _, tc := range []struct{ username, password string }{
		{"al*", "alice-pw"},
		{"*", "alice-pw"},
		{"*", "admin-pw"},
		{"admin)(uid=*", "admin-pw"},
		{"admin)(|(uid=*", "admin-pw"},
		{"*)(uid=alice", "alice-pw"},
		{"alice)(objectClass=*", "alice-pw"},
		{`\61lice`, "alice-pw"},
		{"alice\x00", "alice-pw"},
		{"st*", "star-pw"},
	} {
		id, err := c.Authenticate(context.Background(), tc.username, tc.password)
		if !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("Authenticate(%q) = %+v, %v; want ErrInvalidCredentials", tc.username, id, err)
		}
	}
}

// TestEmptyPasswordNeverBinds: an empty password is refused before any
// connection, so it cannot become an unauthenticated bind; the client
// points at a port where nothing listens, which would be ErrUnavailable.
func TestEmptyPasswordNeverBinds(t *testing.T) {
	cfg := directory.Config{URL: "ldap://127.0.0.1:1", UserBase: ldaptest.UserBase, UserFilter: "(uid={username})"}
	c := newClient(t, cfg)
	if _, err := c.Authenticate(context.Background(), "alice", ""); !errors.Is(err, directory.ErrInvalidCredentials) {
		t.Errorf("Authenticate(alice, \"\") = %v; want ErrInvalidCredentials", err)
	}
	if _, err := c.Authenticate(context.Background(), "alice", "x"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("Authenticate(alice, x) with nothing listening = %v; want ErrUnavailable", err)
	}
}

// TestLookup: roles follow the directory; a deleted user, or one the
// user filter no longer matches, is gone.
func TestLookup(t *testing.T) {
	s := ldaptest.Start(t, people)
	for _, subjectAttr := range []string{"", directory.SubjectDN} {
		t.Run("subject="+subjectAttr, func(t *testing.T) {
			cfg := config(s)
			cfg.SubjectAttribute = subjectAttr
			c := newClient(t, cfg)
			ctx := context.Background()
			bob, err := c.Authenticate(ctx, "bob", "bob-pw")
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.Lookup(ctx, bob.Subject)
			if err != nil || got.Subject != bob.Subject || !slices.Equal(got.Groups, []string{"developers"}) {
				t.Fatalf("Lookup(bob) = %+v, %v; want bob in developers", got, err)
			}
			for _, subject := range []string{"", "*", "no-such-subject", "uid=nobody,ou=people,dc=example,dc=org",
				"cn=admins,ou=groups,dc=example,dc=org", ldaptest.ServiceDN} {
				if got, err := c.Lookup(ctx, subject); !errors.Is(err, directory.ErrGone) {
					t.Errorf("Lookup(%q) = %+v, %v; want ErrGone", subject, got, err)
				}
			}
		})
	}
	c := newClient(t, config(s))
	ctx := context.Background()
	bob, err := c.Authenticate(ctx, "bob", "bob-pw")
	if err != nil {
		t.Fatal(err)
	}
	s.Modify(t, "cn=developers,ou=groups,dc=example,dc=org", ldap.DeleteAttribute, "member", bob.DN)
	if got, err := c.Lookup(ctx, bob.Subject); err != nil || len(got.Groups) != 0 {
		t.Errorf("Lookup(bob) after leaving developers = %+v, %v; want no groups", got, err)
	}
	s.Delete(t, bob.DN)
	if got, err := c.Lookup(ctx, bob.Subject); !errors.Is(err, directory.ErrGone) {
		t.Errorf("Lookup(bob) after deletion = %+v, %v; want ErrGone", got, err)
	}
	// A filter that excludes a class of entries excludes them at lookup.
	alice, err := c.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config(s)
	cfg.UserFilter = "(&(objectClass=inetOrgPerson)(uid={username})(!(cn=Alice*)))"
	if got, err := newClient(t, cfg).Lookup(ctx, alice.Subject); !errors.Is(err, directory.ErrGone) {
		t.Errorf("Lookup(alice) with a filter that excludes her = %+v, %v; want ErrGone", got, err)
	}
}

// TestUnavailable: a stopped directory, a refused service account, a
// directory that never answers and an untrusted certificate are
// ErrUnavailable, never ErrInvalidCredentials; the silent one is cut off
// at the timeout.
func TestUnavailable(t *testing.T) {
	s := ldaptest.Start(t, people)
	ctx := context.Background()

	bad := config(s)
	bad.BindPassword = "wrong"
	if _, err := newClient(t, bad).Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("wrong service password: Authenticate = %v; want ErrUnavailable", err)
	}
	untrusted := config(s)
	untrusted.URL = s.LDAPSURL
	if _, err := newClient(t, untrusted).Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("untrusted certificate: Authenticate = %v; want ErrUnavailable", err)
	}

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			conn, err := silent.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // held open, never answered
		}
	}()
	slow := config(s)
	slow.URL = "ldap://" + silent.Addr().String()
	slow.ConnectTimeout, slow.Timeout = 200*time.Millisecond, 300*time.Millisecond
	start := time.Now()
	_, err = newClient(t, slow).Authenticate(ctx, "alice", "alice-pw")
	if el := time.Since(start); !errors.Is(err, directory.ErrUnavailable) || el > 2*time.Second {
		t.Errorf("silent directory: Authenticate = %v after %v; want ErrUnavailable within the 300ms timeout", err, el)
	}
	// The context's deadline, when earlier, bounds it too.
	short, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	slow.Timeout = 10 * time.Second
	start = time.Now()
	_, err = newClient(t, slow).Lookup(short, "x")
	if el := time.Since(start); !errors.Is(err, directory.ErrUnavailable) || el > 2*time.Second {
		t.Errorf("silent directory, 100ms context: Lookup = %v after %v; want ErrUnavailable", err, el)
	}

	c := newClient(t, config(s))
	alice, err := c.Authenticate(ctx, "alice", "alice-pw")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authenticate(ctx, "alice", "alice-pw"); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("stopped directory: Authenticate = %v; want ErrUnavailable", err)
	}
	if _, err := c.Lookup(ctx, alice.Subject); !errors.Is(err, directory.ErrUnavailable) {
		t.Errorf("stopped directory: Lookup = %v; want ErrUnavailable", err)
	}
}

// TestTLS: ldaps:// and StartTLS with the directory's CA.
func TestTLS(t *testing.T) {
	s := ldaptest.Start(t, people)
	for _, tc := range []struct {
		name     string
		url      string
		startTLS bool
	}{{"ldaps", s.LDAPSURL, false}, {"starttls", s.URL, true}} {
		cfg := config(s)
		cfg.URL, cfg.StartTLS, cfg.RootCAs = tc.url, tc.startTLS, s.CA
		if _, err := newClient(t, cfg).Authenticate(context.Background(), "alice", "alice-pw"); err != nil {
			t.Errorf("%s: Authenticate = %v", tc.name, err)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	base := directory.Config{URL: "ldaps://ldap.example.org", UserBase: "ou=people,dc=example,dc=org", UserFilter: "(uid={username})"}
	for _, tc := range []struct {
		name   string
		change func(*directory.Config)
		want   string // "" for valid
	}{
		{"ldaps", func(*directory.Config) {}, ""},
		{"starttls", func(c *directory.Config) { c.URL, c.StartTLS = "ldap://ldap.example.org:389", true }, ""},
		{"plain on loopback", func(c *directory.Config) { c.URL = "ldap://127.0.0.1:3389" }, ""},
		{"plain on ::1", func(c *directory.Config) { c.URL = "ldap://[::1]:3389" }, ""},
		{"plain, insecure flag", func(c *directory.Config) { c.URL, c.InsecureNoTLS = "ldap://ldap.example.org", true }, ""},
		{"plain elsewhere", func(c *directory.Config) { c.URL = "ldap://ldap.example.org" }, "clear"},
		{"plain on localhost", func(c *directory.Config) { c.URL = "ldap://localhost" }, "clear"},
		{"ldaps with starttls", func(c *directory.Config) { c.StartTLS = true }, "StartTLS"},
		{"http", func(c *directory.Config) { c.URL = "http://ldap.example.org" }, "scheme"},
		{"a DN in the URL", func(c *directory.Config) { c.URL = "ldaps://ldap.example.org/dc=example" }, "want ldaps"},
		{"no placeholder", func(c *directory.Config) { c.UserFilter = "(uid=alice)" }, "{username}"},
		{"bad filter", func(c *directory.Config) { c.UserFilter = "(uid={username}" }, "parse"},
		{"no user base", func(c *directory.Config) { c.UserBase = "" }, "user search base"},
		{"bad base", func(c *directory.Config) { c.UserBase = "not a dn" }, "not a DN"},
		{"bind DN without password", func(c *directory.Config) { c.BindDN = "cn=x,dc=example,dc=org" }, "together"},
		{"group filter without base", func(c *directory.Config) { c.GroupFilter = "(member={dn})" }, "group search base"},
		{"group filter placeholder", func(c *directory.Config) { c.GroupBase, c.GroupFilter = "ou=g,dc=x", "(cn=x)" }, "{dn}"},
		{"posix groups", func(c *directory.Config) { c.GroupBase, c.GroupFilter = "ou=g,dc=x", "(memberUid={username})" }, ""},
		{"bad attribute", func(c *directory.Config) { c.SubjectAttribute = "uid)(x" }, "attribute name"},
		{"timeouts", func(c *directory.Config) { c.ConnectTimeout, c.Timeout = 2*time.Second, time.Second }, "timeout"},
	} {
		cfg := base
		tc.change(&cfg)
		err := cfg.Validate()
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: Validate() = %v; want %q", tc.name, err, tc.want)
		}
	}
}

// posixPeople: alice and bob in posixGroups by memberUid, whose matching
// rule (caseExactIA5Match) is exact: only the entry's own uid finds them.
const posixPeople = people + `
dn: cn=ops,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: ops
gidNumber: 1001
memberUid: alice
memberUid: bob

dn: cn=oncall,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: oncall
gidNumber: 1002
memberUid: alice
`

// TestGroupsByUsername: a group filter with {username} is filled with the
// entry's username attribute, so the groups are the same whatever case was
// typed at login, and at Lookup (a refresh, which has no username).
func TestGroupsByUsername(t *testing.T) {
	s := ldaptest.Start(t, posixPeople)
	cfg := config(s)
	cfg.GroupFilter = "(&(objectClass=posixGroup)(memberUid={username}))"
	c := newClient(t, cfg)
	ctx := context.Background()
	want := []string{"oncall", "ops"}
	var subject string
	for _, typed := range []string{"alice", "ALICE", "Alice"} {
		id, err := c.Authenticate(ctx, typed, "alice-pw")
		if err != nil || !slices.Equal(id.Groups, want) || id.Username != "alice" {
			t.Errorf("Authenticate(%q) = %+v, %v; want username alice in groups %v", typed, id, err, want)
		}
		subject = id.Subject
	}
	if id, err := c.Lookup(ctx, subject); err != nil || !slices.Equal(id.Groups, want) {
		t.Errorf("Lookup(alice) = %+v, %v; want groups %v as at login", id, err, want)
	}
	// Another attribute can fill {username}: cn holds "Bob" for bob, who
	// is in ops as "bob" only, so with cn he is in no group.
	cfg.UsernameAttribute = "cn"
	bob, err := newClient(t, cfg).Authenticate(ctx, "bob", "bob-pw")
	if err != nil || len(bob.Groups) != 0 || bob.Username != "Bob" {
		t.Errorf("Authenticate(bob) with username attribute cn = %+v, %v; want username Bob, no group", bob, err)
	}
	// An entry without the attribute is in no group found by {username}.
	cfg.UsernameAttribute = "mail"
	if bob, err := newClient(t, cfg).Authenticate(ctx, "bob", "bob-pw"); err != nil || len(bob.Groups) != 0 {
		t.Errorf("Authenticate(bob) without a mail attribute = %+v, %v; want no group", bob, err)
	}
}

// TestAuthenticateGuarded: the guard sees the one entry's DN for every
// spelling the directory resolves to it (RFC 4518: case, insignificant
// spaces), and an error from it ends the attempt before the password is
// tried; for a name no entry has, it is not called.
func TestAuthenticateGuarded(t *testing.T) {
	s := ldaptest.Start(t, people)
	c := newClient(t, config(s))
	ctx := context.Background()
	var seen []string
	guard := func(dn string) error { seen = append(seen, dn); return nil }
	for _, name := range []string{"alice", "alice ", "  alice", " ALICE  "} {
		if _, err := c.AuthenticateGuarded(ctx, name, "wrong", guard); !errors.Is(err, directory.ErrInvalidCredentials) {
			t.Errorf("AuthenticateGuarded(%q, wrong) = %v; want ErrInvalidCredentials", name, err)
		}
	}
	want := slices.Repeat([]string{"uid=alice,ou=people,dc=example,dc=org"}, 4)
	if !slices.Equal(seen, want) {
		t.Errorf("guard saw %q; want alice's DN for each spelling", seen)
	}
	seen = nil
	if _, err := c.AuthenticateGuarded(ctx, "nobody", "x", guard); !errors.Is(err, directory.ErrInvalidCredentials) || len(seen) != 0 {
		t.Errorf("AuthenticateGuarded(nobody) = %v, guard saw %q; want ErrInvalidCredentials, guard not called", err, seen)
	}
	stop := errors.New("limit reached")
	if id, err := c.AuthenticateGuarded(ctx, "alice", "alice-pw", func(string) error { return stop }); !errors.Is(err, stop) || id.Subject != "" {
		t.Errorf("AuthenticateGuarded with a refusing guard and the right password = %+v, %v; want the guard's error", id, err)
	}
}
