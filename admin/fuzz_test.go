package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage/memory"
)

// FuzzAdminBodies feeds arbitrary JSON bodies to the endpoints that parse
// them: client input never causes a 500.
func FuzzAdminBodies(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a","grant_types":["client_credentials"],"claims":{"tenant":"x"}}`,
		`{"name":"a","grant_types":["password","refresh_token"],"scopes":["read"],"token_lifetime_seconds":60}`,
		`{"claims":{"sub":1},"roles":["a:b"],"disabled":true}`,
		`{"roles":["x","y"]}`, `{"grace_seconds":3600}`, `{"name":null}`, `[]`, `"x"`, `{"a":`, "",
		`{"name":"\u0000","grant_types":[1]}`, `{"claims":{"x":{"y":[1,2,{"z":null}]}}}`,
		`{"name":"spa","grant_types":["password"],"public":true,"redirect_uris":["http://[::1]:0/cb","com.x.y:/z"]}`,
		`{"redirect_uris":["https://a.example/%zz"],"web_origins":["HTTPS://A.EXAMPLE:443","http://[::1"]}`,
		`{"post_logout_redirect_uris":["x:"],"third_party":true,"public":false}`,
		`{"email":"a@b.c","email_verified":true,"name":"Ä"}`, `{"email":"<a@b>"}`,
	} {
		f.Add(seed)
	}
	store := memory.New()
	svc := newService(f, store, time.Now, &syncBuffer{})
	if _, err := svc.CreateClient(context.Background(), ClientParams{ID: "c1", Name: "c1", GrantTypes: []string{"client_credentials"}}); err != nil {
		f.Fatal(err)
	}
	if _, err := svc.CreateUser(context.Background(), UserParams{Username: "u1", Password: "password-u1"}); err != nil {
		f.Fatal(err)
	}
	users, _ := svc.ListUsers(context.Background())
	h := NewHandler(svc, func(next http.Handler) http.Handler { return next })
	targets := []struct{ method, path string }{
		{http.MethodPost, PathPrefix + "/clients"},
		{http.MethodPatch, PathPrefix + "/clients/c1"},
		{http.MethodPost, PathPrefix + "/clients/c1/rotate-secret"},
		{http.MethodPost, PathPrefix + "/users/" + users[0].ID + "/roles"},
		{http.MethodPatch, PathPrefix + "/users/" + users[0].ID},
		{http.MethodPost, PathPrefix + "/users"},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, tg := range targets {
			req := httptest.NewRequest(tg.method, tg.path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s with %q = %d %s", tg.method, tg.path, body, rec.Code, rec.Body)
			}
		}
	})
}
