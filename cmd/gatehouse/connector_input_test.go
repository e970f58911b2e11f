package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/storage"
)

// TestHostileInputConnector sends NUL bytes, invalid UTF-8 and over-long
// values to the connector's callback (path, state, code, error) and as the
// login form's connector, on both stores: each is refused with a page
// (400 or 404), never a 500 and never a login.
func TestHostileInputConnector(t *testing.T) {
	hostile := map[string]string{"NUL": "a\x00", "invalid UTF-8": "a\xff", "over-long": strings.Repeat("a", 5000)}
	for store, ts := range hostileServers(t) {
		if _, err := ts.app.admin.CreateConnector(context.Background(), admin.ConnectorParams{ID: "corp", Kind: "oidc", Name: "Corp",
			OIDC: &storage.OIDCSettings{Issuer: "http://127.0.0.1:9/", ClientID: "gatehouse"}}); err != nil {
			t.Fatal(err)
		}
		b := newBrowser(t)
		for what, v := range hostile {
			for _, u := range []string{
				ts.issuer + "/login/connectors/" + url.PathEscape(v) + "/callback?state=s&code=c",
				ts.issuer + "/login/connectors/corp/callback?" + url.Values{"state": {v}, "code": {"c"}}.Encode(),
				ts.issuer + "/login/connectors/corp/callback?" + url.Values{"state": {"s"}, "code": {v}}.Encode(),
				ts.issuer + "/login/connectors/corp/callback?" + url.Values{"state": {"s"}, "error": {v}}.Encode(),
			} {
				if resp, _ := b.get(u); resp.StatusCode != 400 && resp.StatusCode != 404 {
					t.Errorf("%s: callback with %s: %d; want 400 or 404", store, what, resp.StatusCode)
				}
			}
		}
		if resp, _ := b.get(ts.issuer + "/login/connectors/corp/callback"); resp.StatusCode != 400 {
			t.Errorf("%s: callback without state: %d; want 400", store, resp.StatusCode)
		}
		req, _ := http.NewRequest(http.MethodPost, ts.issuer+"/login/connectors/corp/callback?state=s", nil)
		if resp, _ := b.do(req); resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s: POST to the callback: %d; want 405", store, resp.StatusCode)
		}
	}
}
