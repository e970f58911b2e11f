package main

import (
	"context"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
)

// TestConnectorOIDCKeepsUpstreamRefresh: a later login whose upstream
// answer carries no refresh token keeps the one stored on the link (a
// refresh re-reads the user with it).
func TestConnectorOIDCKeepsUpstreamRefresh(t *testing.T) {
	cs := newConnectorSetup(t, admin.ConnectorParams{Provision: true})
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-devs")
	cs.signIn(t, "alice")
	link, err := cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-alice")
	if err != nil || len(link.RefreshTokenEnc) == 0 {
		t.Fatalf("link %+v, %v; want the upstream refresh token stored", link, err)
	}
	cs.up.dropRefresh.Store(true)
	tok := cs.signIn(t, "alice")
	cs.up.dropRefresh.Store(false)
	link, err = cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-alice")
	if err != nil || len(link.RefreshTokenEnc) == 0 {
		t.Fatalf("after a login without an upstream refresh token: link %+v, %v; want the stored one kept", link, err)
	}
	if status, body := cs.refresh(t, tok.RefreshToken); status != 200 {
		t.Fatalf("refresh: %d %v; want 200 through the kept upstream refresh token", status, body)
	}
}
