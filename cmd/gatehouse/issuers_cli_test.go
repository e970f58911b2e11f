package main

import (
	"encoding/json"
	"testing"
)

// TestIssuersCLI runs the issuers commands against PostgreSQL: create,
// show by id and by URL, update, list, delete, each with --json, and the
// refusals name the flag.
func TestIssuersCLI(t *testing.T) {
	env := adminEnv(adminDB(t))
	r := cliOK(t, env, "", "issuers", "create", "--id", "gha", "--issuer", "https://token.actions.githubusercontent.com",
		"--subject-claim", "repository", "--subject-type", "client", "--roles-claim", "groups",
		"--role-map", "API Admins=admin", "--max-token-age", "10m", "--json")
	var got map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("create --json printed %q: %v", r.stdout, err)
	}
	if got["issuer_id"] != "gha" || got["id"] != nil || got["subject_type"] != "client" || got["max_token_age_seconds"] != float64(600) ||
		got["role_map"].(map[string]any)["API Admins"] != "admin" {
		t.Errorf("create --json = %v", got)
	}
	r = cliOK(t, env, "", "issuers", "show", "https://token.actions.githubusercontent.com", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got["issuer_id"] != "gha" {
		t.Errorf("show by URL = %q, %v", r.stdout, err)
	}
	r = cliOK(t, env, "", "issuers", "update", "gha", "--clear-role-map", "--roles-claim", "", "--disabled", "--json")
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got["disabled"] != true || len(got["role_map"].(map[string]any)) != 0 {
		t.Errorf("update = %q, %v", r.stdout, err)
	}
	cliFails(t, env, "--algorithms: algorithm \"HS256\" is not allowed", "issuers", "update", "gha", "--algorithms", "HS256")
	cliFails(t, env, "--max-token-age", "issuers", "update", "gha", "--max-token-age", "48h")
	cliFails(t, env, "--issuer", "issuers", "create", "--issuer", "http://idp.example")
	cliFails(t, env, "--role-map ops", "issuers", "create", "--issuer", "https://idp.example", "--roles-claim", "groups", "--role-map", "ops=not a role")
	cliFails(t, env, "is already trusted", "issuers", "create", "--issuer", "https://token.actions.githubusercontent.com")
	r = cliOK(t, env, "", "issuers", "list", "--json")
	var list []map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil || len(list) != 1 || list[0]["issuer_id"] != "gha" {
		t.Errorf("list --json = %q, %v", r.stdout, err)
	}
	cliOK(t, env, "", "issuers", "delete", "gha")
	cliFails(t, env, "not found", "issuers", "show", "gha")
}
