package admin

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/discovery"
)

// TestThrottleAPI: an operator sees a login block through the admin API,
// looks it up by username and address, and clears it; the clear is
// audited without the username.
func TestThrottleAPI(t *testing.T) {
	g := startGatehouse(t)
	tok := g.adminToken(t)
	appID, appSecret := g.client(t, ClientParams{Name: "app", GrantTypes: []string{"password"}, Scopes: []string{"read"}})
	if _, err := g.svc.CreateUser(context.Background(), UserParams{Username: "Zoë", Password: "right-password-1"}); err != nil {
		t.Fatal(err)
	}
	login := func(pw string) int {
		code, _ := g.form(t, discovery.TokenPath, url.Values{"grant_type": {"password"}, "username": {"ZOË"}, "password": {pw}}, appID, appSecret)
		return code
	}
	for range 10 {
		if code := login("wrong"); code != http.StatusBadRequest {
			t.Fatalf("wrong password: %d; want 400", code)
		}
	}
	if code := login("right-password-1"); code != http.StatusTooManyRequests {
		t.Fatalf("right password from the blocked address: %d; want 429", code)
	}

	code, body := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/throttle", nil)
	cs, _ := body["counters"].([]any)
	if code != 200 || len(cs) != 1 || cs[0].(map[string]any)["kind"] != "user_address" || cs[0].(map[string]any)["blocked"] != true {
		t.Fatalf("GET /throttle = %d %v; want one blocked user_address counter", code, body)
	}
	key := cs[0].(map[string]any)["key"].(string)
	code, body = g.callJSON(t, tok, http.MethodGet, PathPrefix+"/throttle?username=zo%C3%AB&address=127.0.0.1", nil)
	if cs, _ := body["counters"].([]any); code != 200 || len(cs) != 3 {
		t.Fatalf("GET /throttle?username&address = %d %v; want the user, user_address and address counters", code, body)
	}
	if code, _ := g.callJSON(t, tok, http.MethodPost, PathPrefix+"/throttle/clear", map[string]string{}); code != 400 {
		t.Fatalf("clear with nothing named: %d; want 400", code)
	}
	// A directory entry is a connector and a DN, never with a username.
	for _, q := range []string{"connector=corp", "dn=uid%3Dzoe", "connector=corp&dn=uid%3Dzoe&username=zoe"} {
		if code, _ := g.callJSON(t, tok, http.MethodGet, PathPrefix+"/throttle?"+q, nil); code != 400 {
			t.Errorf("GET /throttle?%s = %d; want 400", q, code)
		}
	}
	code, body = g.callJSON(t, tok, http.MethodGet, PathPrefix+"/throttle?connector=corp&dn=uid%3Dzoe", nil)
	if cs, ok := body["counters"].([]any); code != 200 || !ok || len(cs) != 0 {
		t.Errorf("GET /throttle for an entry with no attempts = %d %v; want 200 and no counters", code, body)
	}
	if code, _ := g.callJSON(t, "", http.MethodPost, PathPrefix+"/throttle/clear", map[string]string{"key": key}); code != 401 {
		t.Fatalf("clear without a token: %d; want 401", code)
	}
	code, body = g.callJSON(t, tok, http.MethodPost, PathPrefix+"/throttle/clear", map[string]string{"key": key})
	if code != 200 || body["cleared"] != float64(1) {
		t.Fatalf("clear = %d %v; want 1 cleared", code, body)
	}
	if code := login("right-password-1"); code != http.StatusOK {
		t.Fatalf("right password after the clear: %d; want 200", code)
	}
	log := g.audit.String()
	if !strings.Contains(log, `"action":"throttle.clear"`) || !strings.Contains(log, key) {
		t.Errorf("audit log lacks the throttle.clear of %s:\n%s", key, log)
	}
	for _, line := range strings.Split(log, "\n") {
		if strings.Contains(line, "throttle.clear") && strings.Contains(strings.ToLower(line), "zo\u00eb") {
			t.Errorf("throttle.clear audit event names the username: %s", line)
		}
	}
}
