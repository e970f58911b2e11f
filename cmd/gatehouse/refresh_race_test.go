package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// refreshRaces is how many families each revocation kind races.
const refreshRaces = 200

// TestRefreshRevocationRacesPostgres races a client that refreshes in a
// tight loop, through the token endpoint on PostgreSQL, against one
// revocation of its family (design D3): RFC 7009 revocation of the token it
// holds, reuse of the family's first token (RFC 9700 section 4.14.2), and a
// password reset by the administrator. Once the revocation has returned, no
// refresh of the family may succeed: the token the client holds at the end
// must be refused and inactive at introspection.
func TestRefreshRevocationRacesPostgres(t *testing.T) {
	ts := startServer(t, func(c *Config) {
		withPostgres(pgtest.URL(t))(c)
		c.Argon2MemoryKiB = 64 // 600 logins and 200 password resets
	})
	secret := ts.addClient(t, appClient)
	ctx := context.Background()

	refresh := func(rt string) (string, int) {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
		next, _ := body["refresh_token"].(string)
		return next, resp.StatusCode
	}
	login := func(username, password string) string {
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"password"}, "username": {username},
			"password": {password}, "scope": {"read offline_access"}}, "app", secret)
		if resp.StatusCode != 200 {
			t.Fatalf("password grant for %s: %d %v", username, resp.StatusCode, body)
		}
		return body["refresh_token"].(string)
	}

	kinds := []struct {
		name string
		// revoke revokes the family; first is its first refresh token,
		// current the one the client holds right now.
		revoke func(t *testing.T, userID, first, current string)
	}{
		{"rfc7009", func(t *testing.T, _, _, current string) {
			if resp, body := ts.post(t, "/oauth2/revoke", url.Values{"token": {current}}, "app", secret); resp.StatusCode != 200 {
				t.Errorf("revoke: %d %v", resp.StatusCode, body)
			}
		}},
		{"reuse", func(t *testing.T, _, first, _ string) {
			// The client has rotated at least once, so first is old:
			// presenting it is reuse and revokes the family.
			if _, code := refresh(first); code != 400 {
				t.Errorf("reuse of the first token: %d; want 400", code)
			}
		}},
		{"password-reset", func(t *testing.T, userID, _, _ string) {
			if _, err := ts.app.admin.SetPassword(ctx, userID, admin.PasswordParams{Password: "new-password-" + userID}); err != nil {
				t.Errorf("SetPassword: %v", err)
			}
		}},
	}
	for _, kind := range kinds {
		t.Run(kind.name, func(t *testing.T) {
			var survivors, lateWins atomic.Int64
			sem := make(chan struct{}, 8)
			var wg sync.WaitGroup
			for i := range refreshRaces {
				userID := fmt.Sprintf("u-%s-%d", kind.name, i)
				username := fmt.Sprintf("user-%s-%d", kind.name, i)
				password := "pw-" + username
				ts.addUser(t, userID, username, password, "user")
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer func() { <-sem; wg.Done() }()
					first := login(username, password)
					// One rotation first, so that the first token is old.
					current, code := refresh(first)
					if code != 200 {
						t.Errorf("first refresh: %d", code)
						return
					}
					var (
						mu      sync.Mutex
						revoked atomic.Bool
						done    = make(chan struct{})
					)
					go func() {
						defer close(done)
						for range 200 {
							mu.Lock()
							rt := current
							mu.Unlock()
							after := revoked.Load()
							next, code := refresh(rt)
							if code != 200 {
								return
							}
							if after {
								// This refresh started after the
								// revocation had returned.
								lateWins.Add(1)
							}
							mu.Lock()
							current = next
							mu.Unlock()
						}
					}()
					time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
					mu.Lock()
					held := current
					mu.Unlock()
					kind.revoke(t, userID, first, held)
					revoked.Store(true)
					<-done
					mu.Lock()
					last := current
					mu.Unlock()
					if _, code := refresh(last); code == 200 {
						survivors.Add(1)
						return
					}
					if _, body := ts.post(t, "/oauth2/introspect", url.Values{"token": {last}}, "app", secret); body["active"] != false {
						survivors.Add(1)
					}
				}()
			}
			wg.Wait()
			if n, late := survivors.Load(), lateWins.Load(); n != 0 || late != 0 {
				t.Errorf("%d of %d families kept an active refresh token after %s; %d refreshes succeeded after the revocation returned; want 0 and 0",
					n, refreshRaces, kind.name, late)
			}
		})
	}
}
