package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// FuzzAdminAPIPostgres drives every admin route with arbitrary ids, query
// values and bodies against PostgreSQL, which refuses bytes the memory
// store keeps: client input never causes a 5xx (design D9).
//
//	go test ./cmd/gatehouse -run XXX -fuzz FuzzAdminAPIPostgres -fuzztime 1m
func FuzzAdminAPIPostgres(f *testing.F) {
	ts := startServer(f, withPostgres(pgtest.URL(f)))
	_, token := adminAPI(f, ts)
	h := ts.app.adminHandler
	for _, seed := range []struct {
		route           uint8
		id, query, body string
	}{
		{0, "", "alice", ""},
		{1, "", "", `{"name":"a","grant_types":["client_credentials"],"claims":{"tenant":"x"}}`},
		{1, "", "", `{"name":"a","grant_types":["client_credentials"],"claims":{"tenant":"a\u0000"}}`},
		{1, "", "", "{\"name\":\"\xff\",\"grant_types\":[\"client_credentials\"]}"},
		{2, "c\x00", "", ""},
		{3, "\xff", "", `{"name":"b"}`},
		{5, "u-\x00", "", ""},
		{6, "", "", `{"username":"bob\u0000","password":"password-1"}`},
		{7, "u-1", "", `{"password":"pass\u0000word"}`},
		{9, "x", "", `{"roles":["a","b\u0000"]}`},
		{10, "u-1", "a\x00", ""},
		{4, strings.Repeat("a", 1000), "", `{"grace_seconds":1}`},
		{13, "", "", `{"id":"corp","kind":"oidc","name":"Corp","oidc":{"issuer":"https://idp.example","client_id":"g\u0000"}}`},
		{13, "", "", "{\"id\":\"dir\",\"kind\":\"ldap\",\"name\":\"D\",\"ldap\":{\"url\":\"ldaps://h\",\"user_base_dn\":\"\xff\",\"user_filter\":\"(uid={username})\"}}"},
		{14, "corp", "", `{"role_map":{"a\u0000":"admin"}}`},
		{15, "c\x00", "", ""},
	} {
		f.Add(seed.route, seed.id, seed.query, seed.body)
	}
	routes := []struct{ method, path string }{
		{http.MethodGet, "/users?username={q}"},
		{http.MethodPost, "/clients"},
		{http.MethodGet, "/clients/{id}"},
		{http.MethodPatch, "/clients/{id}"},
		{http.MethodPost, "/clients/{id}/rotate-secret"},
		{http.MethodGet, "/users/{id}"},
		{http.MethodPost, "/users"},
		{http.MethodPut, "/users/{id}/password"},
		{http.MethodPost, "/users/{id}/disable"},
		{http.MethodPost, "/users/{id}/roles"},
		{http.MethodDelete, "/users/{id}/roles/{q}"},
		{http.MethodDelete, "/clients/{id}"},
		{http.MethodDelete, "/users/{id}"},
		{http.MethodPost, "/connectors"},
		{http.MethodPatch, "/connectors/{id}"},
		{http.MethodGet, "/connectors/{id}"},
		{http.MethodDelete, "/connectors/{id}"},
	}
	f.Fuzz(func(t *testing.T, route uint8, id, query, body string) {
		rt := routes[int(route)%len(routes)]
		path := strings.NewReplacer("{id}", url.PathEscape(id), "{q}", url.QueryEscape(query)).Replace(rt.path)
		if strings.HasPrefix(rt.path, "/users/{id}/roles/") {
			path = strings.Replace(path, url.QueryEscape(query), url.PathEscape(query), 1)
		}
		// A request that hangs shows as a 503 at the deadline.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, rt.method, admin.PathPrefix+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s with %q = %d %s", rt.method, path, body, rec.Code, rec.Body)
		}
	})
}
