package postgres

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// TestLinkIdentityRace runs concurrent first logins of each of several
// upstream identities through oauth.LinkIdentity on PostgreSQL, with
// provisioning and link by email on: every login of one identity must end
// at the same user, and exactly one user per identity may be created.
func TestLinkIdentityRace(t *testing.T) {
	const identities, racers = 8, 8
	s := newStore(t)
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	c := storage.Connector{ID: "corp", Kind: storage.ConnectorOIDC, Name: "Corp", OIDC: &storage.OIDCSettings{Issuer: "https://idp.example", ClientID: "gh"},
		Provision: true, LinkByEmail: true, RoleMap: map[string]string{"idp-dev": "developer"}, CreatedAt: now, UpdatedAt: now}
	if err := s.CreateConnector(ctx, c); err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		users = map[string]map[string]bool{}
		errs  []error
		start = make(chan struct{})
	)
	for i := range identities {
		sub := fmt.Sprintf("sub-%d", i)
		users[sub] = map[string]bool{}
		for range racers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				id := oauth.UpstreamIdentity{Subject: sub, Email: sub + "@example.com", EmailVerified: true,
					PreferredUsername: sub, Roles: []string{"idp-dev"}}
				u, _, err := oauth.LinkIdentity(ctx, s, c, id, now)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				users[sub][u.ID] = true
			}()
		}
	}
	close(start)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("LinkIdentity: %v", err)
	}
	for sub, ids := range users {
		if len(ids) != 1 {
			t.Errorf("%s: logins ended at %d users; want 1", sub, len(ids))
		}
	}
	all, err := s.ListUsers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != identities {
		t.Errorf("%d users after %d racing first logins of %d identities; want %d", len(all), identities*racers, identities, identities)
	}
}
