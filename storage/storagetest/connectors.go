package storagetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func sampleConnector(id string) storage.Connector {
	t := now()
	return storage.Connector{
		ID:   id,
		Kind: storage.ConnectorOIDC,
		Name: "Corp " + id,
		OIDC: &storage.OIDCSettings{Issuer: "https://idp.example", ClientID: "gatehouse", Scopes: []string{"openid", "email"},
			SubjectClaim: "sub"},
		SecretEnc:    []byte{1, 2, 3},
		Provision:    true,
		RolesClaim:   "realm_access.roles",
		RoleMap:      map[string]string{"idp-admin": "admin", "idp-dev": "developer"},
		EmailDomains: []string{"example.com"},
		Timeout:      5 * time.Second,
		CreatedAt:    t,
		UpdatedAt:    t,
	}
}

// testConnectors checks the connector contract: round trip of every field,
// sentinels, update, and that deleting a connector deletes its links and
// keeps the users.
func testConnectors(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleConnector("corp")
	mustNil(t, "CreateConnector", s.CreateConnector(ctx, c))
	wantErr(t, "CreateConnector(same id)", s.CreateConnector(ctx, c), storage.ErrAlreadyExists)
	got, err := s.GetConnector(ctx, "corp")
	mustNil(t, "GetConnector", err)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("GetConnector = %+v; want %+v", got, c)
	}
	_, err = s.GetConnector(ctx, "nope")
	wantErr(t, "GetConnector(unknown)", err, storage.ErrNotFound)

	l := ldapConnector("dir")
	mustNil(t, "CreateConnector(ldap)", s.CreateConnector(ctx, l))
	got, err = s.GetConnector(ctx, "dir")
	mustNil(t, "GetConnector(ldap)", err)
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("GetConnector(ldap) = %+v; want %+v", got, l)
	}

	mustNil(t, "UpdateConnector", s.UpdateConnector(ctx, "corp", func(c storage.Connector) (storage.Connector, error) {
		c.Disabled, c.RoleMap, c.EmailDomains = true, nil, nil
		c.ID = "renamed" // ignored: the id never changes
		return c, nil
	}))
	got, err = s.GetConnector(ctx, "corp")
	mustNil(t, "GetConnector after update", err)
	if !got.Disabled || got.RoleMap != nil || got.EmailDomains != nil {
		t.Fatalf("after update: Disabled=%v RoleMap=%v EmailDomains=%v; want true, nil, nil", got.Disabled, got.RoleMap, got.EmailDomains)
	}
	boom := errors.New("boom")
	if err := s.UpdateConnector(ctx, "corp", func(c storage.Connector) (storage.Connector, error) { return c, boom }); !errors.Is(err, boom) {
		t.Fatalf("UpdateConnector(fn fails) = %v; want %v", err, boom)
	}
	wantErr(t, "UpdateConnector(unknown)", s.UpdateConnector(ctx, "nope", func(c storage.Connector) (storage.Connector, error) { return c, nil }), storage.ErrNotFound)

	list, err := s.ListConnectors(ctx)
	mustNil(t, "ListConnectors", err)
	if len(list) != 2 || list[0].ID != "corp" || list[1].ID != "dir" {
		t.Fatalf("ListConnectors = %v; want corp, dir", list)
	}

	u := sampleUser("u1", "alice")
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	mustNil(t, "CreateIdentityLink", s.CreateIdentityLink(ctx, sampleLink("corp", "sub-1", u.ID), nil))
	mustNil(t, "DeleteConnector", s.DeleteConnector(ctx, "corp"))
	wantErr(t, "DeleteConnector(again)", s.DeleteConnector(ctx, "corp"), storage.ErrNotFound)
	_, err = s.GetIdentityLink(ctx, "corp", "sub-1")
	wantErr(t, "GetIdentityLink after connector deleted", err, storage.ErrNotFound)
	if _, err := s.GetUser(ctx, u.ID); err != nil {
		t.Fatalf("GetUser after connector deleted: %v; want the user kept", err)
	}
}

func ldapConnector(id string) storage.Connector {
	t := now()
	return storage.Connector{
		ID: id, Kind: storage.ConnectorLDAP, Name: "Directory",
		LDAP: &storage.LDAPSettings{URL: "ldaps://ldap.example", BindDN: "cn=gatehouse,dc=example,dc=com",
			UserBaseDN: "ou=people,dc=example,dc=com", UserFilter: "(uid={username})", SubjectAttribute: "entryUUID",
			GroupBaseDN: "ou=groups,dc=example,dc=com", GroupFilter: "(member={dn})", GroupNameAttribute: "cn"},
		CreatedAt: t, UpdatedAt: t,
	}
}

func sampleLink(connector, subject, user string) storage.IdentityLink {
	t := now()
	return storage.IdentityLink{ConnectorID: connector, Subject: subject, UserID: user, CreatedAt: t, LastLoginAt: t}
}

// testIdentityLinks checks links: one per (connector, subject), a
// provisioned user created with its link or not at all, updates, lookups,
// and that deleting a user deletes its links.
func testIdentityLinks(t *testing.T, s storage.Store) {
	ctx := context.Background()
	mustNil(t, "CreateConnector", s.CreateConnector(ctx, sampleConnector("corp")))
	mustNil(t, "CreateConnector(dir)", s.CreateConnector(ctx, ldapConnector("dir")))
	alice := sampleUser("u1", "alice")
	mustNil(t, "CreateUser", s.CreateUser(ctx, alice))

	l := sampleLink("corp", "sub-1", alice.ID)
	l.RefreshTokenEnc = []byte("sealed")
	mustNil(t, "CreateIdentityLink", s.CreateIdentityLink(ctx, l, nil))
	wantErr(t, "CreateIdentityLink(same pair)", s.CreateIdentityLink(ctx, sampleLink("corp", "sub-1", alice.ID), nil), storage.ErrAlreadyExists)
	wantErr(t, "CreateIdentityLink(unknown user)", s.CreateIdentityLink(ctx, sampleLink("corp", "sub-x", "nobody"), nil), storage.ErrNotFound)
	wantErr(t, "CreateIdentityLink(unknown connector)", s.CreateIdentityLink(ctx, sampleLink("nope", "sub-1", alice.ID), nil), storage.ErrNotFound)
	// The same subject at another connector is another identity.
	mustNil(t, "CreateIdentityLink(other connector)", s.CreateIdentityLink(ctx, sampleLink("dir", "sub-1", alice.ID), nil))
	got, err := s.GetIdentityLink(ctx, "corp", "sub-1")
	mustNil(t, "GetIdentityLink", err)
	if !reflect.DeepEqual(got, l) {
		t.Fatalf("GetIdentityLink = %+v; want %+v", got, l)
	}

	// A provisioned user is created with its link, or not at all.
	bob := sampleUser("u2", "bob")
	bob.PasswordHash = ""
	pl := sampleLink("corp", "sub-2", bob.ID)
	pl.Provisioned = true
	mustNil(t, "CreateIdentityLink(provision)", s.CreateIdentityLink(ctx, pl, &bob))
	if _, err := s.GetUser(ctx, bob.ID); err != nil {
		t.Fatalf("GetUser(provisioned) = %v", err)
	}
	taken := sampleUser("u3", "alice") // username taken
	wantErr(t, "CreateIdentityLink(username taken)", s.CreateIdentityLink(ctx, sampleLink("corp", "sub-3", taken.ID), &taken), storage.ErrAlreadyExists)
	_, err = s.GetIdentityLink(ctx, "corp", "sub-3")
	wantErr(t, "GetIdentityLink after refused provision", err, storage.ErrNotFound)
	_, err = s.GetUser(ctx, taken.ID)
	wantErr(t, "GetUser after refused provision", err, storage.ErrNotFound)
	other := sampleUser("u4", "carol")
	wantErr(t, "CreateIdentityLink(linked pair, provision)", s.CreateIdentityLink(ctx, sampleLink("corp", "sub-2", other.ID), &other), storage.ErrAlreadyExists)
	_, err = s.GetUser(ctx, other.ID)
	wantErr(t, "GetUser after refused provision of a linked pair", err, storage.ErrNotFound)

	later := now().Add(time.Hour)
	mustNil(t, "UpdateIdentityLink", s.UpdateIdentityLink(ctx, "corp", "sub-1", func(l storage.IdentityLink) (storage.IdentityLink, error) {
		l.LastLoginAt, l.RefreshTokenEnc = later, nil
		l.UserID = "someone-else" // ignored: a link's user never changes
		return l, nil
	}))
	got, err = s.GetIdentityLink(ctx, "corp", "sub-1")
	mustNil(t, "GetIdentityLink after update", err)
	if !got.LastLoginAt.Equal(later) || len(got.RefreshTokenEnc) != 0 || got.UserID != alice.ID {
		t.Fatalf("after update: %+v; want LastLoginAt %v, no refresh token, user %s", got, later, alice.ID)
	}
	wantErr(t, "UpdateIdentityLink(unknown)", s.UpdateIdentityLink(ctx, "corp", "nope", func(l storage.IdentityLink) (storage.IdentityLink, error) { return l, nil }), storage.ErrNotFound)

	links, err := s.ListUserIdentityLinks(ctx, alice.ID)
	mustNil(t, "ListUserIdentityLinks", err)
	if len(links) != 2 || links[0].ConnectorID != "corp" || links[1].ConnectorID != "dir" {
		t.Fatalf("ListUserIdentityLinks = %+v; want corp and dir", links)
	}
	for id, want := range map[string]bool{"corp": true, "dir": true, "none": false, "cor": false} {
		has, err := s.ConnectorHasIdentityLinks(ctx, id)
		mustNil(t, "ConnectorHasIdentityLinks", err)
		if has != want {
			t.Fatalf("ConnectorHasIdentityLinks(%q) = %v; want %v", id, has, want)
		}
	}
	users, err := s.FindUsersByEmail(ctx, "alice@example.com")
	mustNil(t, "FindUsersByEmail", err)
	if len(users) != 1 || users[0].ID != alice.ID {
		t.Fatalf("FindUsersByEmail = %+v; want alice", users)
	}
	for _, e := range []string{"", "ALICE@example.com", "nobody@example.com"} {
		users, err := s.FindUsersByEmail(ctx, e)
		mustNil(t, "FindUsersByEmail", err)
		if len(users) != 0 {
			t.Fatalf("FindUsersByEmail(%q) = %+v; want none", e, users)
		}
	}

	// A family's read says whether its user is linked.
	dave := sampleUser("u5", "dave")
	mustNil(t, "CreateUser(dave)", s.CreateUser(ctx, dave))
	for _, c := range []struct {
		user   string
		linked bool
	}{{alice.ID, true}, {dave.ID, false}} {
		mustNil(t, "CreateRefreshFamily", s.CreateRefreshFamily(ctx, sampleFamily("fam-"+c.user, c.user)))
		f, _, err := s.GetRefreshFamily(ctx, "fam-"+c.user)
		mustNil(t, "GetRefreshFamily", err)
		if f.SubjectLinked != c.linked {
			t.Fatalf("GetRefreshFamily(family of %s).SubjectLinked = %v; want %v", c.user, f.SubjectLinked, c.linked)
		}
	}

	mustNil(t, "DeleteUser", s.DeleteUser(ctx, alice.ID))
	links, err = s.ListUserIdentityLinks(ctx, alice.ID)
	mustNil(t, "ListUserIdentityLinks after delete", err)
	if len(links) != 0 {
		t.Fatalf("links after user deleted = %+v; want none", links)
	}
	_, err = s.GetIdentityLink(ctx, "dir", "sub-1")
	wantErr(t, "GetIdentityLink after user deleted", err, storage.ErrNotFound)
	if has, err := s.ConnectorHasIdentityLinks(ctx, "dir"); err != nil || has {
		t.Fatalf("ConnectorHasIdentityLinks(dir) after its user was deleted = %v, %v; want false", has, err)
	}
}

// testIdentityLinkRace runs concurrent first logins of one upstream
// identity, each provisioning its own user: exactly one link and one user
// may result.
func testIdentityLinkRace(t *testing.T, s storage.Store) {
	const identities, racers = 10, 6
	ctx := context.Background()
	mustNil(t, "CreateConnector", s.CreateConnector(ctx, sampleConnector("corp")))
	wins := race(t, "CreateIdentityLink", identities, racers, storage.ErrAlreadyExists, func(i, r int) error {
		sub := fmt.Sprintf("sub-%d", i)
		u := sampleUser(fmt.Sprintf("u-%d-%d", i, r), fmt.Sprintf("corp/%s/%d", sub, r))
		return s.CreateIdentityLink(ctx, sampleLink("corp", sub, u.ID), &u)
	})
	users, err := s.ListUsers(ctx)
	mustNil(t, "ListUsers", err)
	if len(users) != identities {
		t.Errorf("%d users after %d racing first logins of %d identities; want %d", len(users), identities*racers, identities, identities)
	}
	for i := range identities {
		sub := fmt.Sprintf("sub-%d", i)
		if wins[i] != 1 {
			t.Errorf("%s: %d logins linked; want exactly 1", sub, wins[i])
		}
		l, err := s.GetIdentityLink(ctx, "corp", sub)
		mustNil(t, "GetIdentityLink", err)
		if _, err := s.GetUser(ctx, l.UserID); err != nil {
			t.Errorf("%s: linked user %s: %v", sub, l.UserID, err)
		}
	}
}

// testIdentityLinkOnePerUser links several upstream identities of one
// connector to one existing user at once (link by email with a recycled
// address): exactly one links; another connector may still link the user.
func testIdentityLinkOnePerUser(t *testing.T, s storage.Store) {
	const racers = 8
	ctx := context.Background()
	mustNil(t, "CreateConnector", s.CreateConnector(ctx, sampleConnector("corp")))
	mustNil(t, "CreateConnector", s.CreateConnector(ctx, sampleConnector("other")))
	u := sampleUser("u-shared", "shared")
	mustNil(t, "CreateUser", s.CreateUser(ctx, u))
	wins := race(t, "CreateIdentityLink", 1, racers, storage.ErrAlreadyExists, func(_, r int) error {
		return s.CreateIdentityLink(ctx, sampleLink("corp", fmt.Sprintf("sub-%d", r), u.ID), nil)
	})
	if wins[0] != 1 {
		t.Fatalf("%d concurrent links of different identities to one user: %d linked; want exactly 1", racers, wins[0])
	}
	mustNil(t, "CreateIdentityLink(another connector)", s.CreateIdentityLink(ctx, sampleLink("other", "sub-x", u.ID), nil))
	links, err := s.ListUserIdentityLinks(ctx, u.ID)
	mustNil(t, "ListUserIdentityLinks", err)
	if len(links) != 2 {
		t.Fatalf("links of the user = %+v; want one per connector", links)
	}
}
