package admin

import (
	"context"
	"net/http"
	"net/url"
	"testing"

	"github.com/gatehouse/gatehouse/storage"
)

// TestFindProvisionedUser: users a connector provisioned are named
// "<connector>/<name>", which the username rules for creating users
// refuse; looking them up by username (CLI's FindUser, the admin API's
// ?username=) compares the stored, normalized form only.
func TestFindProvisionedUser(t *testing.T) {
	g := startGatehouse(t)
	ctx := context.Background()
	if err := g.store.CreateUser(ctx, storage.User{ID: "u-corp-1", Username: "corp/alice"}); err != nil {
		t.Fatal(err)
	}
	for _, ref := range []string{"corp/alice", "Corp/Alice"} {
		if u, err := g.svc.FindUser(ctx, ref); err != nil || u.ID != "u-corp-1" {
			t.Errorf("FindUser(%q) = %+v, %v; want u-corp-1", ref, u, err)
		}
	}
	status, body := g.callJSON(t, g.adminToken(t), http.MethodGet, PathPrefix+"/users?username="+url.QueryEscape("corp/alice"), nil)
	if items, _ := body["users"].([]any); status != 200 || len(items) != 1 {
		t.Fatalf("GET users?username=corp/alice: %d %v; want the user", status, body)
	}
	// Creating one is still held to the rules.
	if _, err := g.svc.CreateUser(ctx, UserParams{Username: "corp/bob", Password: "pw-bob-123456789"}); err == nil {
		t.Error("CreateUser(corp/bob) succeeded; want a field error")
	}
}
