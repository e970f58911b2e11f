package admin

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/discovery"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// TestUserChangesEndLoginSessions: setting a password, disabling and
// deleting a user each end every login session of that user (design D13),
// and no one else's.
func TestUserChangesEndLoginSessions(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	for _, tt := range []struct {
		name string
		op   func(svc *Service, id string) error
	}{
		{"set password", func(svc *Service, id string) error {
			_, err := svc.SetPassword(ctx, id, PasswordParams{Password: "pw-new-12345"})
			return err
		}},
		{"disable", func(svc *Service, id string) error { _, err := svc.DisableUser(ctx, id); return err }},
		{"delete", func(svc *Service, id string) error { return svc.DeleteUser(ctx, id) }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			store := memory.New()
			svc := newService(t, store, func() time.Time { return now }, &syncBuffer{})
			u, err := svc.CreateUser(ctx, UserParams{Username: "gil", Password: "pw-gil-12345"})
			if err != nil {
				t.Fatal(err)
			}
			sessions := map[string]string{"s1": u.ID, "s2": u.ID, "s-other": "u-someone-else"}
			for id, user := range sessions {
				err := store.CreateLoginSession(ctx, storage.LoginSession{ID: id, Digest: []byte("digest-" + id),
					UserID: user, AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(time.Hour)})
				if err != nil {
					t.Fatal(err)
				}
			}
			if err := tt.op(svc, u.ID); err != nil {
				t.Fatalf("%s: %v", tt.name, err)
			}
			for id, user := range sessions {
				_, err := store.GetLoginSession(ctx, []byte("digest-"+id), now)
				if ended := errors.Is(err, storage.ErrNotFound); ended != (user == u.ID) {
					t.Errorf("after %s, session %s of %s: GetLoginSession = %v; want ended = %v", tt.name, id, user, err, user == u.ID)
				}
			}
		})
	}
}

func TestAPIBrowserClient(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	pw := []string{"password"}

	// A public client gets no secret and keeps the fields as registered;
	// web origins are stored as browsers send them.
	code, created := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients", map[string]any{
		"name": "spa", "grant_types": pw, "public": true, "third_party": true,
		"redirect_uris":             []string{"https://spa.example/cb", "http://127.0.0.1/callback", "com.example.app:/cb"},
		"post_logout_redirect_uris": []string{"https://spa.example/"},
		"web_origins":               []string{"HTTPS://SPA.example:443", "http://localhost:3000"},
	})
	if code != 201 {
		t.Fatalf("create public client: %d %v", code, created)
	}
	if _, has := created["client_secret"]; has {
		t.Errorf("public client created with a client_secret: %v", created)
	}
	id := created["id"].(string)
	if created["public"] != true || created["third_party"] != true ||
		!slices.Equal(toStrings(created["redirect_uris"]), []string{"https://spa.example/cb", "http://127.0.0.1/callback", "com.example.app:/cb"}) ||
		!slices.Equal(toStrings(created["post_logout_redirect_uris"]), []string{"https://spa.example/"}) ||
		!slices.Equal(toStrings(created["web_origins"]), []string{"https://spa.example", "http://localhost:3000"}) {
		t.Errorf("created public client = %v", created)
	}
	stored, err := g.store.GetClient(context.Background(), id)
	if err != nil || len(stored.SecretHash) != 0 || !stored.Public {
		t.Fatalf("stored public client: secret hash %x, public %v, %v; want no secret", stored.SecretHash, stored.Public, err)
	}
	// It cannot authenticate with a secret, an empty one included.
	for _, secret := range []string{"", "guess"} {
		code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {"x"}, "password": {"y"}}, id, secret)
		if code != http.StatusUnauthorized {
			t.Errorf("public client with secret %q: %d %v; want 401", secret, code, body)
		}
	}
	// It has no secret to rotate.
	if code, body := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients/"+id+"/rotate-secret", nil); code != 400 || body["field"] != "public" {
		t.Errorf("rotate-secret of a public client: %d %v; want 400 naming public", code, body)
	}

	// A client registered without the new fields is confidential and
	// first-party with no URIs; making it public drops its secret.
	cid, secret := g.client(t, ClientParams{Name: "conf", GrantTypes: []string{"client_credentials"}})
	code, got := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/clients/"+cid, nil)
	if code != 200 || got["public"] != false || got["third_party"] != false || len(toStrings(got["redirect_uris"])) != 0 ||
		got["redirect_uris"] == nil || got["web_origins"] == nil || got["post_logout_redirect_uris"] == nil {
		t.Errorf("GET confidential client = %d %v; want public false, third_party false, empty lists", code, got)
	}
	g.token(t, cid, secret) // the secret works
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+cid, map[string]any{"public": true}); code != 400 || body["field"] != "grant_types" {
		t.Errorf("PATCH public on a client_credentials client: %d %v; want 400 naming grant_types", code, body)
	}
	code, got = g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+cid, map[string]any{"grant_types": pw, "public": true,
		"redirect_uris": []string{"http://[::1]/cb"}, "third_party": true})
	if code != 200 || got["public"] != true || got["third_party"] != true || !slices.Equal(toStrings(got["redirect_uris"]), []string{"http://[::1]/cb"}) {
		t.Fatalf("PATCH to public: %d %v", code, got)
	}
	if code, body := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {"x"}, "password": {"y"}}, cid, secret); code != http.StatusUnauthorized {
		t.Errorf("old secret of a client made public: %d %v; want 401", code, body)
	}
	// Made confidential again, it has no secret until rotate-secret.
	if code, got := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+cid, map[string]any{"public": false}); code != 200 || got["public"] != false {
		t.Fatalf("PATCH to confidential: %d %v", code, got)
	}
	code, rotated := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/clients/"+cid+"/rotate-secret", nil)
	if s, _ := rotated["client_secret"].(string); code != 200 || len(s) < 43 {
		t.Fatalf("rotate-secret after making the client confidential: %d %v", code, rotated)
	}
	if code, body := g.callJSON(t, tok, http.MethodPatch, PathPrefix+"/clients/"+cid, map[string]any{"redirect_uris": []string{"http://localhost/cb"}}); code != 400 || body["field"] != "redirect_uris" {
		t.Errorf("PATCH redirect_uris to localhost: %d %v; want 400 naming redirect_uris", code, body)
	}
}

func TestAPIUserProfile(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	code, u := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/users", UserParams{Username: "hal", Email: "hal@example.com",
		EmailVerified: true, Name: "Hal Jordan"})
	if code != 201 || u["email"] != "hal@example.com" || u["email_verified"] != true || u["name"] != "Hal Jordan" {
		t.Fatalf("create user with profile = %d %v", code, u)
	}
	path := PathPrefix + "/users/" + u["id"].(string)
	patch := func(body any) (int, map[string]any) {
		t.Helper()
		return g.callJSON(t, tok, http.MethodPatch, path, body)
	}
	// A new email without email_verified is unverified.
	if code, got := patch(map[string]any{"email": "hal@corp.example"}); code != 200 || got["email"] != "hal@corp.example" ||
		got["email_verified"] != false || got["name"] != "Hal Jordan" {
		t.Errorf("PATCH email = %d %v; want the new email, unverified, name kept", code, got)
	}
	if code, got := patch(map[string]any{"email_verified": true, "name": ""}); code != 200 || got["email_verified"] != true || got["name"] != "" {
		t.Errorf("PATCH email_verified, name = %d %v", code, got)
	}
	// Removing the email while it stays verified is refused; with it, fine.
	if code, body := patch(map[string]any{"email": "", "email_verified": true}); code != 400 || body["field"] != "email_verified" {
		t.Errorf("PATCH verified without email = %d %v; want 400 naming email_verified", code, body)
	}
	if code, body := patch(map[string]any{"email": "not an address"}); code != 400 || body["field"] != "email" {
		t.Errorf("PATCH bad email = %d %v; want 400 naming email", code, body)
	}
	if code, got := patch(map[string]any{"email": ""}); code != 200 || got["email"] != "" || got["email_verified"] != false {
		t.Errorf("PATCH email removed = %d %v; want no email, unverified", code, got)
	}
	code, got := g.callJSON(t, tok, http.MethodGet, path, nil)
	if code != 200 || got["email"] != "" || got["name"] != "" || got["email_verified"] != false {
		t.Errorf("GET user = %d %v", code, got)
	}
	if !strings.Contains(g.audit.String(), `"action":"user.update"`) {
		t.Error("no user.update audit event")
	}
}
