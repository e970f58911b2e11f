package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

const (
	cliSecretOld = "cli-test-master-secret-old-0123456789"
	cliSecretNew = "cli-test-master-secret-new-0123456789"
)

// keysCLI runs `gatehouse keys args...` with env and returns stdout.
func keysCLI(t *testing.T, env map[string]string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	err := run(t.Context(), append([]string{"keys"}, args...), environ, nil, &stdout, &stderr)
	out := stdout.String() + stderr.String()
	for _, secret := range []string{cliSecretOld, cliSecretNew} {
		if strings.Contains(out, secret) || err != nil && strings.Contains(err.Error(), secret) {
			t.Fatalf("keys %v printed a master secret: %s %v", args, out, err)
		}
	}
	if strings.Contains(out, `"d"`) || strings.Contains(out, "PRIVATE KEY") {
		t.Fatalf("keys %v printed private key material: %s", args, out)
	}
	return stdout.String(), stderr.String(), err
}

func listJSON(t *testing.T, env map[string]string) []keys.Info {
	t.Helper()
	out, _, err := keysCLI(t, env, "list", "--json")
	if err != nil {
		t.Fatalf("keys list --json: %v", err)
	}
	var l []keys.Info
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatalf("keys list --json output %q: %v", out, err)
	}
	return l
}

func TestKeysCommand(t *testing.T) {
	// A cluster of its own: this package has no TestMain for pgtest.Main.
	url := pgtest.NewCluster(t).URL(t)
	s, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.Migrate(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	s.Close()
	env := map[string]string{"GATEHOUSE_DATABASE_URL": url, "GATEHOUSE_SECRETS": cliSecretOld}

	out, _, err := keysCLI(t, env, "list")
	if err != nil || strings.TrimSpace(out) != strings.TrimSpace(strings.Split(out, "\n")[0]) || !strings.HasPrefix(out, "KID") {
		t.Fatalf("keys list on an empty store = %q, %v; want the header only", out, err)
	}

	// rotate on an empty store makes the first keys; the next one is young.
	out, _, err = keysCLI(t, env, "rotate")
	if err != nil || !strings.HasPrefix(out, "rotation pending") {
		t.Fatalf("keys rotate = %q, %v; want a pending rotation", out, err)
	}
	l := listJSON(t, env)
	if len(l) != 4 {
		t.Fatalf("keys list --json = %+v; want an active and a next key for access tokens (ES256) and for ID tokens (RS256)", l)
	}
	var active string
	for _, k := range l {
		if k.State == "active" && k.Signs == "access_token" {
			active = k.ID
		}
		want := map[string]string{keys.ES256: "access_token", keys.RS256: "id_token"}[k.Algorithm]
		if k.PublicJWK == nil || !k.PublicJWK.IsPublic() || want == "" || k.Signs != want {
			t.Fatalf("listed key %+v: want a public JWK, ES256 for access tokens or RS256 for ID tokens", k)
		}
	}
	out, _, err = keysCLI(t, env, "list")
	if err != nil || !strings.Contains(out, active) || !strings.Contains(out, "active") {
		t.Fatalf("keys list = %q, %v; want a row for %s", out, err, active)
	}

	// Emergency: revoke the active key.
	out, _, err = keysCLI(t, env, "revoke", "--", active) // a kid may start with "-"
	if err != nil || !strings.HasPrefix(out, "revoked "+active) || !strings.Contains(out, "warning:") {
		t.Fatalf("keys revoke = %q, %v; want the revocation and a warning about the young key", out, err)
	}
	states := map[string]int{}
	for _, k := range listJSON(t, env) {
		states[k.State]++
		if k.ID == active && (k.State != "revoked" || k.Published) {
			t.Fatalf("revoked key listed as %+v", k)
		}
	}
	if states["revoked"] != 1 || states["active"] != 2 || states["next"] != 2 {
		t.Fatalf("states after revoke = %v", states)
	}
	if _, _, err := keysCLI(t, env, "revoke", "no-such-kid"); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Fatalf("keys revoke no-such-kid = %v; want no key", err)
	}

	// Master-secret rotation: new in front, reencrypt, then old dropped.
	wrong := map[string]string{"GATEHOUSE_DATABASE_URL": url, "GATEHOUSE_SECRETS": cliSecretNew}
	if _, _, err := keysCLI(t, wrong, "rotate"); !errors.Is(err, keys.ErrWrongSecret) {
		t.Fatalf("keys rotate with the wrong secret = %v; want ErrWrongSecret", err)
	}
	both := map[string]string{"GATEHOUSE_DATABASE_URL": url, "GATEHOUSE_SECRETS": cliSecretNew + "," + cliSecretOld}
	if out, _, err := keysCLI(t, both, "reencrypt"); err != nil || !strings.HasPrefix(out, "re-encrypted 4 key(s)") {
		t.Fatalf("keys reencrypt = %q, %v; want 4 keys (the revoked one has no private part left)", out, err)
	}
	if _, _, err := keysCLI(t, wrong, "rotate"); err != nil {
		t.Fatalf("keys rotate with only the new secret after reencrypt = %v", err)
	}

	// Refusals: no secret, short secret, no database, bad usage.
	for _, tt := range []struct {
		env  map[string]string
		args []string
		want string
	}{
		{map[string]string{"GATEHOUSE_DATABASE_URL": url}, []string{"rotate"}, "no master secret"},
		{map[string]string{"GATEHOUSE_DATABASE_URL": url, "GATEHOUSE_SECRETS": "short"}, []string{"reencrypt"}, "too short"},
		{map[string]string{"GATEHOUSE_SECRETS": cliSecretOld}, []string{"list"}, "no database configured"},
		{env, []string{"revoke"}, `expected "<kid>"`},
		{env, []string{"frobnicate"}, "unexpected argument frobnicate"},
		{env, nil, `expected one of "list"`},
	} {
		if _, _, err := keysCLI(t, tt.env, tt.args...); err == nil || !strings.Contains(err.Error(), tt.want) ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("keys %v = %v; want a one-line error containing %q", tt.args, err, tt.want)
		}
	}
}

func TestKeysHelp(t *testing.T) {
	for _, cmd := range []string{"list", "rotate", "revoke", "reencrypt"} {
		stdout, _, err := keysCLI(t, nil, cmd, "--help")
		if !errors.Is(err, flag.ErrHelp) || !strings.Contains(stdout, "Example:\n  gatehouse keys "+cmd) &&
			!strings.Contains(stdout, "gatehouse keys "+cmd) {
			t.Errorf("keys %s --help = %v, %q; want usage with an example", cmd, err, stdout)
		}
	}
	out, _, err := keysCLI(t, nil, "--help")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "GATEHOUSE_SECRETS") {
		t.Errorf("keys help = %q, %v", out, err)
	}
}

// TestMasterSecretRotationKeepsTokens follows the README's procedure on
// PostgreSQL with the CLI: put the new master secret first (servers
// restart with both), `keys reencrypt`, then drop the old one. No refresh
// token, access token or signing key is invalidated on the way.
func TestMasterSecretRotationKeepsTokens(t *testing.T) {
	dbURL := pgtest.URL(t)
	withSecrets := func(issuer, secrets string) func(*Config) {
		return func(c *Config) {
			withPostgres(dbURL)(c)
			c.Secrets = secrets
			if issuer != "" {
				c.Issuer = issuer
			}
		}
	}
	old := startServer(t, withSecrets("", cliSecretOld))
	secret := old.addClient(t, appClient)
	old.addUser(t, "u-1", "frank", "pw-frank-123", "user")
	login := passwordLogin(t, old, "app", secret)
	// A session that stays idle through the whole procedure.
	idle := passwordLogin(t, old, "app", secret)
	kidBefore := jwtKid(t, login["access_token"].(string))
	old.Close()

	refresh := func(ts *testServer, rt string) map[string]any {
		t.Helper()
		resp, body := ts.post(t, "/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, "app", secret)
		if resp.StatusCode != 200 {
			t.Fatalf("refresh: %d %v", resp.StatusCode, body)
		}
		return body
	}
	// 1. The new secret goes first; the old one still opens the keys.
	both := startServer(t, withSecrets(old.issuer, cliSecretNew+","+cliSecretOld))
	mid := refresh(both, login["refresh_token"].(string))
	// 2. Re-encrypt every stored key under the new secret.
	if out, _, err := keysCLI(t, map[string]string{"GATEHOUSE_DATABASE_URL": dbURL, "GATEHOUSE_SECRETS": cliSecretNew + "," + cliSecretOld}, "reencrypt"); err != nil {
		t.Fatalf("keys reencrypt = %q, %v", out, err)
	}
	both.Close()
	// 3. The old secret is dropped.
	ts := startServer(t, withSecrets(old.issuer, cliSecretNew))
	for _, at := range []string{login["access_token"].(string), mid["access_token"].(string)} {
		if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {at}}, "app", secret); ib["active"] != true {
			t.Errorf("access token from before the rotation: introspection %v; want active", ib)
		}
	}
	last := refresh(ts, mid["refresh_token"].(string))
	refresh(ts, idle["refresh_token"].(string))
	if kid := jwtKid(t, last["access_token"].(string)); kid != kidBefore {
		t.Errorf("signing key after the rotation: kid %q; want the same key %q", kid, kidBefore)
	}
	if _, ib := ts.post(t, "/oauth2/introspect", url.Values{"token": {last["refresh_token"].(string)}}, "app", secret); ib["active"] != true {
		t.Errorf("refresh token after the rotation: introspection %v; want active", ib)
	}
}

func jwtKid(t *testing.T, tok string) string {
	t.Helper()
	header, _ := jwtParts(t, tok)
	kid, _ := header["kid"].(string)
	return kid
}
