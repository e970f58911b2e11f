package oauth

import (
	"context"
	"net/url"
	"slices"
	"sync"
	"testing"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage/memory"
)

// recordingStore is the storage adapter with every storage call fosite
// makes recorded, in order.
type recordingStore struct {
	*fositeStore
	mu    sync.Mutex
	calls []string
}

func (r *recordingStore) record(name string) {
	r.mu.Lock()
	r.calls = append(r.calls, name)
	r.mu.Unlock()
}

func (r *recordingStore) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func (r *recordingStore) GetClient(ctx context.Context, id string) (fosite.Client, error) {
	r.record("GetClient")
	return r.fositeStore.GetClient(ctx, id)
}

func (r *recordingStore) Authenticate(ctx context.Context, name, secret string) (string, error) {
	r.record("Authenticate")
	return r.fositeStore.Authenticate(ctx, name, secret)
}

func (r *recordingStore) CreateAccessTokenSession(ctx context.Context, sig string, req fosite.Requester) error {
	r.record("CreateAccessTokenSession")
	return r.fositeStore.CreateAccessTokenSession(ctx, sig, req)
}

func (r *recordingStore) GetAccessTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	r.record("GetAccessTokenSession")
	return r.fositeStore.GetAccessTokenSession(ctx, sig, s)
}

func (r *recordingStore) CreateRefreshTokenSession(ctx context.Context, sig, accessSig string, req fosite.Requester) error {
	r.record("CreateRefreshTokenSession")
	return r.fositeStore.CreateRefreshTokenSession(ctx, sig, accessSig, req)
}

func (r *recordingStore) GetRefreshTokenSession(ctx context.Context, sig string, s fosite.Session) (fosite.Requester, error) {
	r.record("GetRefreshTokenSession")
	return r.fositeStore.GetRefreshTokenSession(ctx, sig, s)
}

func (r *recordingStore) DeleteRefreshTokenSession(ctx context.Context, sig string) error {
	r.record("DeleteRefreshTokenSession")
	return r.fositeStore.DeleteRefreshTokenSession(ctx, sig)
}

func (r *recordingStore) RotateRefreshToken(ctx context.Context, requestID, sig string) error {
	r.record("RotateRefreshToken")
	return r.fositeStore.RotateRefreshToken(ctx, requestID, sig)
}

func (r *recordingStore) RevokeRefreshToken(ctx context.Context, requestID string) error {
	r.record("RevokeRefreshToken")
	return r.fositeStore.RevokeRefreshToken(ctx, requestID)
}

func (r *recordingStore) RevokeAccessToken(ctx context.Context, requestID string) error {
	r.record("RevokeAccessToken")
	return r.fositeStore.RevokeAccessToken(ctx, requestID)
}

func (r *recordingStore) BeginTX(ctx context.Context) (context.Context, error) {
	r.record("BeginTX")
	return r.fositeStore.BeginTX(ctx)
}

func (r *recordingStore) Commit(ctx context.Context) error {
	r.record("Commit")
	return r.fositeStore.Commit(ctx)
}

func (r *recordingStore) Rollback(ctx context.Context) error {
	r.record("Rollback")
	return r.fositeStore.Rollback(ctx)
}

// TestFositeCallOrder pins the order in which fosite v0.49 calls the
// storage adapter, which the adapter relies on: the password grant's user
// is authenticated before its refresh family is created; a refresh reads
// the family before it rotates, and names the old token (RotateRefreshToken)
// before the new one (CreateRefreshTokenSession), both between BeginTX and
// Commit; reuse revokes inside a unit of work. If a fosite upgrade changes
// any of it, this test fails before the adapter silently misbehaves.
func TestFositeCallOrder(t *testing.T) {
	store := memory.New()
	s := refreshServer(t, store)
	rec := &recordingStore{fositeStore: s.adapter}
	s.provider = newProvider(s.cfg, rec, s.ring, s.assertions)
	ctx := context.Background()

	steps := []struct {
		name string
		form url.Values
		// endpoint is "token" or "revoke".
		endpoint string
		want     []string
	}{
		{"password", url.Values{"grant_type": {"password"}, "username": {"alice"}, "password": {"pw"}, "scope": {"read offline_access"}}, "token",
			[]string{"GetClient", "Authenticate", "CreateAccessTokenSession", "CreateRefreshTokenSession"}},
		{"refresh", nil, "token",
			[]string{"GetClient", "GetRefreshTokenSession", "BeginTX", "RotateRefreshToken", "CreateAccessTokenSession", "CreateRefreshTokenSession", "Commit"}},
		{"reuse", nil, "token",
			[]string{"GetClient", "GetRefreshTokenSession", "BeginTX", "DeleteRefreshTokenSession", "RevokeRefreshToken", "RevokeAccessToken", "Commit"}},
		{"revocation", nil, "revoke",
			[]string{"GetClient", "GetRefreshTokenSession", "RevokeRefreshToken", "RevokeAccessToken"}},
	}
	var first, current string
	for _, step := range steps {
		form := step.form
		switch step.name {
		case "refresh":
			form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {current}}
		case "reuse":
			form = url.Values{"grant_type": {"refresh_token"}, "refresh_token": {first}}
		}
		var code int
		var body map[string]any
		if step.endpoint == "revoke" {
			// A live family: the one above was revoked for reuse.
			_, login := tokenRequest(ctx, s, steps[0].form)
			form = url.Values{"token": {login["refresh_token"].(string)}}
			rec.take()
			code, body = revokeRequest(ctx, s, form)
		} else {
			code, body = tokenRequest(ctx, s, form)
		}
		if got := rec.take(); !slices.Equal(got, step.want) {
			t.Errorf("%s: fosite called the adapter %v; want %v", step.name, got, step.want)
		}
		switch step.name {
		case "password":
			first, _ = body["refresh_token"].(string)
			current = first
		case "refresh":
			current, _ = body["refresh_token"].(string)
		}
		if (step.name == "reuse") != (code != 200) {
			t.Fatalf("%s: %d %v", step.name, code, body)
		}
	}
}

func revokeRequest(ctx context.Context, s *Server, form url.Values) (int, map[string]any) {
	return serve(ctx, s.Revoke, form)
}
