package oauth_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

func linkConnector(provision, byEmail bool) storage.Connector {
	return storage.Connector{ID: "corp", Kind: storage.ConnectorOIDC, Name: "Corp",
		OIDC:      &storage.OIDCSettings{Issuer: "https://idp.example", ClientID: "gh"},
		Provision: provision, LinkByEmail: byEmail,
		RoleMap: map[string]string{"idp-admin": "admin", "idp-dev": "developer", "idp-dev2": "developer"}}
}

func newLinkStore(t *testing.T, c storage.Connector) *memory.Store {
	t.Helper()
	st := memory.New()
	if err := st.CreateConnector(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	local := storage.User{ID: "u-local", Username: "alice", PasswordHash: "x", Email: "alice@example.com", EmailVerified: true,
		Roles: []string{"local-role"}}
	if err := st.CreateUser(t.Context(), local); err != nil {
		t.Fatal(err)
	}
	return st
}

// TestLinkIdentityPolicy checks each branch of the linking policy: the
// defaults refuse an unknown identity, provisioning creates one user with
// mapped roles (an allow-list), link by email needs the email verified on
// both sides, and email domains admit only verified addresses in them.
func TestLinkIdentityPolicy(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	alice := oauth.UpstreamIdentity{Subject: "up-1", Email: "alice@example.com", EmailVerified: true, Name: "Alice",
		PreferredUsername: "alice", Roles: []string{"idp-admin", "idp-dev", "idp-dev2", "idp-root"}}
	unverified := alice
	unverified.EmailVerified = false
	tests := []struct {
		name              string
		provision, byMail bool
		domains           []string
		id                oauth.UpstreamIdentity
		wantErr           error
		wantUser          string // "" = a provisioned user
	}{
		{"defaults refuse an unknown identity", false, false, nil, alice, oauth.ErrNotProvisioned, ""},
		{"defaults do not link by email", true, false, nil, alice, nil, ""},
		{"link by email", false, true, nil, alice, nil, "u-local"},
		{"link by email refused without email_verified", true, true, nil, unverified, oauth.ErrLinkRefused, ""},
		{"provision", true, false, nil, alice, nil, ""},
		{"domain allowed", true, false, []string{"example.com"}, alice, nil, ""},
		{"domain refused", true, false, []string{"corp.example"}, alice, oauth.ErrLinkRefused, ""},
		{"domain needs a verified email", true, false, []string{"example.com"}, unverified, oauth.ErrLinkRefused, ""},
		{"empty subject", true, false, nil, oauth.UpstreamIdentity{}, oauth.ErrLinkRefused, ""},
		{"NUL in subject", true, false, nil, oauth.UpstreamIdentity{Subject: "a\x00b"}, oauth.ErrLinkRefused, ""},
		{"invalid UTF-8 name", true, false, nil, oauth.UpstreamIdentity{Subject: "s", Name: "\xff"}, oauth.ErrLinkRefused, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := linkConnector(tt.provision, tt.byMail)
			c.EmailDomains = tt.domains
			st := newLinkStore(t, c)
			u, link, err := oauth.LinkIdentity(t.Context(), st, c, tt.id, now)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("LinkIdentity = %v; want %v", err, tt.wantErr)
				}
				if users, _ := st.ListUsers(t.Context()); len(users) != 1 {
					t.Fatalf("%d users after a refused link; want 1", len(users))
				}
				return
			}
			if err != nil {
				t.Fatalf("LinkIdentity = %v", err)
			}
			if tt.wantUser != "" && u.ID != tt.wantUser {
				t.Fatalf("linked user %s; want %s", u.ID, tt.wantUser)
			}
			if tt.wantUser == "" && (u.ID == "u-local" || !link.Provisioned || u.PasswordHash != "" || u.Username != "corp/alice") {
				t.Fatalf("provisioned %+v, link %+v; want a new user corp/alice without a password", u, link)
			}
			if want := []string{"admin", "developer"}; !slices.Equal(u.Roles, want) {
				t.Fatalf("roles %v; want %v (mapped, allow-list)", u.Roles, want)
			}
			// The second login finds the link, and re-reads roles.
			again := tt.id
			again.Roles = []string{"idp-dev"}
			u2, _, err := oauth.LinkIdentity(t.Context(), st, c, again, now.Add(time.Hour))
			if err != nil || u2.ID != u.ID || !slices.Equal(u2.Roles, []string{"developer"}) {
				t.Fatalf("second login = %+v, %v; want user %s with [developer]", u2, err, u.ID)
			}
			stored, _ := st.GetUser(t.Context(), u.ID)
			if !slices.Equal(stored.Roles, []string{"developer"}) {
				t.Fatalf("stored roles %v; want [developer]", stored.Roles)
			}
			l, _ := st.GetIdentityLink(t.Context(), "corp", tt.id.Subject)
			if !l.LastLoginAt.Equal(now.Add(time.Hour)) {
				t.Fatalf("LastLoginAt %v; want %v", l.LastLoginAt, now.Add(time.Hour))
			}
		})
	}
}

// TestLinkIdentityRefusals covers a disabled connector, a disabled linked
// user, an ambiguous email, a username already taken by a local user, and
// a connector without role map leaving roles alone.
func TestLinkIdentityRefusals(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	c := linkConnector(true, true)
	st := newLinkStore(t, c)
	id := oauth.UpstreamIdentity{Subject: "s1", Email: "alice@example.com", EmailVerified: true}

	off := c
	off.Disabled = true
	if _, _, err := oauth.LinkIdentity(ctx, st, off, id, now); !errors.Is(err, oauth.ErrConnectorDisabled) {
		t.Fatalf("disabled connector: %v; want ErrConnectorDisabled", err)
	}
	noMap := c
	noMap.RoleMap = nil
	u, _, err := oauth.LinkIdentity(ctx, st, noMap, id, now)
	if err != nil || u.ID != "u-local" || !slices.Equal(u.Roles, []string{"local-role"}) {
		t.Fatalf("no role map: %+v, %v; want u-local keeping [local-role]", u, err)
	}
	st.UpdateUser(ctx, "u-local", func(u storage.User) (storage.User, error) { u.Disabled = true; return u, nil })
	if _, _, err := oauth.LinkIdentity(ctx, st, c, id, now); !errors.Is(err, oauth.ErrUserDisabled) {
		t.Fatalf("disabled user: %v; want ErrUserDisabled", err)
	}

	st.CreateUser(ctx, storage.User{ID: "u-2", Username: "alice2", Email: "twin@example.com", EmailVerified: true})
	st.CreateUser(ctx, storage.User{ID: "u-3", Username: "alice3", Email: "twin@example.com", EmailVerified: true})
	twin := oauth.UpstreamIdentity{Subject: "s2", Email: "twin@example.com", EmailVerified: true}
	if _, _, err := oauth.LinkIdentity(ctx, st, c, twin, now); !errors.Is(err, oauth.ErrLinkRefused) {
		t.Fatalf("ambiguous email: %v; want ErrLinkRefused", err)
	}

	// "corp/bob" taken by a local user: the provisioned one is named by subject.
	st.CreateUser(ctx, storage.User{ID: "u-4", Username: "corp/bob", PasswordHash: "x"})
	u, _, err = oauth.LinkIdentity(ctx, st, c, oauth.UpstreamIdentity{Subject: "s3", PreferredUsername: "bob"}, now)
	if err != nil || u.ID == "u-4" || u.Username != "corp/s3" {
		t.Fatalf("taken username: %+v, %v; want a new user corp/s3", u, err)
	}
}

// TestLinkByEmailRefusedWhenAlreadyLinked: a provider that recycles an
// address must not hand the old user's account to the new upstream
// account; a user linked through this connector is never linked again
// by email (as Keycloak refuses), even with provisioning on.
func TestLinkByEmailRefusedWhenAlreadyLinked(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, provision := range []bool{false, true} {
		c := linkConnector(provision, true)
		st := newLinkStore(t, c)
		old := oauth.UpstreamIdentity{Subject: "up-old", Email: "alice@example.com", EmailVerified: true}
		if u, _, err := oauth.LinkIdentity(t.Context(), st, c, old, now); err != nil || u.ID != "u-local" {
			t.Fatalf("first link: %v %v; want u-local", u.ID, err)
		}
		recycled := oauth.UpstreamIdentity{Subject: "up-new", Email: "alice@example.com", EmailVerified: true}
		if u, _, err := oauth.LinkIdentity(t.Context(), st, c, recycled, now); !errors.Is(err, oauth.ErrLinkRefused) {
			t.Fatalf("provision=%v: recycled address linked to %q, %v; want ErrLinkRefused", provision, u.ID, err)
		}
		if links, _ := st.ListUserIdentityLinks(t.Context(), "u-local"); len(links) != 1 {
			t.Fatalf("provision=%v: %d links of u-local; want 1", provision, len(links))
		}
		// The old identity still signs in.
		if u, _, err := oauth.LinkIdentity(t.Context(), st, c, old, now); err != nil || u.ID != "u-local" {
			t.Fatalf("old identity: %v %v; want u-local", u.ID, err)
		}
	}
}

// TestProvisionedUsernames: an upstream's preferred_username that the
// username rules refuse (bidi, control or format characters, too long) is
// not used; and when the chosen name and the subject's are both taken
// (squatted), the first login still provisions, under the user's own id,
// instead of failing on every try.
func TestProvisionedUsernames(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	c := linkConnector(true, false)
	st := newLinkStore(t, c)
	for i, tc := range []struct {
		preferred, email, want string
	}{
		{"ev\u202eil", "eve@example.com", "corp/eve@example.com"},
		{"zero\u200bwidth", "", "corp/s-1"},
		{"tab\tname", "", "corp/s-2"},
		{strings.Repeat("a", 200), "", "corp/s-3"},
		{"Mallory", "", "corp/mallory"},
	} {
		id := oauth.UpstreamIdentity{Subject: fmt.Sprintf("s-%d", i), PreferredUsername: tc.preferred, Email: tc.email}
		u, _, err := oauth.LinkIdentity(ctx, st, c, id, now)
		if err != nil || u.Username != tc.want {
			t.Errorf("preferred_username %q: %q, %v; want %q", tc.preferred, u.Username, err, tc.want)
		}
	}
	// Both "corp/carol" and "corp/s-9" are held by others.
	for _, u := range []storage.User{{ID: "u-sq1", Username: "corp/carol"}, {ID: "u-sq2", Username: "corp/s-9"}} {
		if err := st.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	u, link, err := oauth.LinkIdentity(ctx, st, c, oauth.UpstreamIdentity{Subject: "s-9", PreferredUsername: "carol"}, now)
	if err != nil || u.ID == "u-sq1" || u.ID == "u-sq2" || u.Username != "corp/"+u.ID || link.UserID != u.ID {
		t.Fatalf("squatted names: %+v, %v; want a new user named corp/<its id>", u, err)
	}
	// The next login finds the link.
	if again, _, err := oauth.LinkIdentity(ctx, st, c, oauth.UpstreamIdentity{Subject: "s-9", PreferredUsername: "carol"}, now); err != nil || again.ID != u.ID {
		t.Fatalf("second login: %v, %v; want %s", again.ID, err, u.ID)
	}
}
