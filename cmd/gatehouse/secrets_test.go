package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
)

// TestNoSecretInOutput runs serve and every CLI command with a database
// password and a master secret in the environment, successfully and
// failing, with --help and with bad flags, and greps everything they
// print and return for each secret (issue 11, point 2). serve must print
// no client secret outside dev mode; the admin client's secret appears
// only in the output of `gatehouse bootstrap`, which exists to show it.
func TestNoSecretInOutput(t *testing.T) {
	const (
		dbPassword     = "db-pass-7f3a91c2e5"
		masterSecret   = "master-secret-4b8d0e6f1a2c3b4d5e6f7a8b9c0d"
		upstreamSecret = "upstream-client-secret-0c1d2e3f4a5b"
		bindPassword   = "ldap-bind-password-9e8d7c6b5a"
	)
	u, err := url.Parse(adminDB(t))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword)
	badDB := *u
	badDB.Path = "/no_such_database"
	environ := []string{
		"GATEHOUSE_DATABASE_URL=" + u.String(),
		"GATEHOUSE_SECRETS=" + masterSecret,
		"GATEHOUSE_ISSUER=https://id.example.test",
		"GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_LOG_LEVEL=debug",
		"GATEHOUSE_ARGON2_MEMORY_KIB=8192", "GATEHOUSE_ARGON2_ITERATIONS=1",
		"USER=tester",
	}
	withEnv := func(extra ...string) []string { return append(extra, environ...) } // the first entry of a name wins

	secrets := map[string]string{"database password": dbPassword, "master secret": masterSecret,
		"connector client secret": upstreamSecret, "LDAP bind password": bindPassword}
	var adminSecret string
	check := func(what, output string) {
		t.Helper()
		for name, s := range secrets {
			if strings.Contains(output, s) {
				t.Errorf("%s printed the %s:\n%s", what, name, output)
			}
		}
		if adminSecret != "" && strings.Contains(output, adminSecret) {
			t.Errorf("%s printed the admin client's secret:\n%s", what, output)
		}
	}
	runAll := func(env []string, stdin string, args ...string) (string, error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out, errOut bytes.Buffer
		err := run(ctx, args, env, strings.NewReader(stdin), &out, &errOut)
		all := out.String() + errOut.String()
		if err != nil {
			all += "\nerror: " + err.Error()
		}
		check("gatehouse "+strings.Join(args, " "), all)
		return out.String(), err
	}
	mustRun := func(stdin string, args ...string) string {
		t.Helper()
		out, err := runAll(environ, stdin, args...)
		if err != nil {
			t.Fatalf("gatehouse %s: %v", strings.Join(args, " "), err)
		}
		return out
	}

	// serve on a fresh database: it creates no admin client and prints
	// no secret of any kind.
	rs := startServe(t, withEnv("GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_ADMIN_ADDR=localhost:0", "GATEHOUSE_INSECURE_HTTP_ISSUER=true"), 2)
	healthOut, err := runAll(withEnv("GATEHOUSE_ADDR="+rs.addrs["token service"]), "", "healthcheck")
	if err != nil {
		t.Errorf("healthcheck of the running server: %v %s", err, healthOut)
	}
	if err := rs.stop(); err != nil {
		t.Errorf("serve stopped with %v", err)
	}
	serveOut := rs.stdout.String() + rs.stderr.String()
	check("gatehouse serve", serveOut)
	if strings.Contains(serveOut, "client_secret") || rs.stdout.String() != "" {
		t.Errorf("serve outside dev mode printed credentials:\n%s", serveOut)
	}
	if !strings.Contains(serveOut, "gatehouse bootstrap") {
		t.Errorf("serve did not say how to create the first admin client:\n%s", serveOut)
	}

	// bootstrap prints the admin secret to its own stdout, once.
	boot := keyValues(mustRun("", "bootstrap"))
	if boot["admin_client_id"] == "" || len(boot["admin_client_secret"]) < 32 {
		t.Fatalf("bootstrap printed %v; want admin_client_id and admin_client_secret", boot)
	}
	adminSecret = boot["admin_client_secret"]
	if out := mustRun("", "bootstrap"); out != "" {
		t.Errorf("second bootstrap printed %q; want nothing on stdout", out)
	}
	rs = startServe(t, withEnv("GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_ADMIN_ADDR=localhost:0", "GATEHOUSE_INSECURE_HTTP_ISSUER=true"), 2)
	rs.stop()
	check("gatehouse serve after bootstrap", rs.stdout.String()+rs.stderr.String())

	// Every command, succeeding.
	mustRun("", "migrate")
	mustRun("", "migrate", "status")
	var created struct {
		ID string `json:"client_id"`
	}
	if err := json.Unmarshal([]byte(mustRun("", "clients", "create", "--name", "svc", "--grant-types", "client_credentials,password", "--scopes", "read", "--json")), &created); err != nil || created.ID == "" {
		t.Fatalf("clients create --json: %v", err)
	}
	for _, args := range [][]string{
		{"clients", "list"}, {"clients", "list", "--json"}, {"clients", "show", created.ID},
		{"clients", "update", created.ID, "--scopes", "read,write"}, {"clients", "rotate-secret", created.ID},
		{"users", "list"},
	} {
		mustRun("", args...)
	}
	mustRun("a-user-password-123\n", "users", "create", "--username", "alice", "--password-stdin")
	for _, args := range [][]string{
		{"users", "show", "alice"}, {"users", "list", "--json"}, {"users", "disable", "alice"}, {"users", "enable", "alice"},
		{"users", "roles", "add", "alice", "editor"}, {"users", "roles", "remove", "alice", "editor"},
	} {
		mustRun("", args...)
	}
	mustRun("another-password-456\n", "users", "set-password", "alice", "--password-stdin")
	var list []keys.Info
	if err := json.Unmarshal([]byte(mustRun("", "keys", "list", "--json")), &list); err != nil || len(list) == 0 {
		t.Fatalf("keys list --json: %v", err)
	}
	mustRun("", "keys", "list")
	mustRun("", "keys", "rotate")
	mustRun("", "keys", "reencrypt")
	mustRun("", "keys", "revoke", "--", list[0].ID) // a kid may start with "-"
	mustRun("", "users", "delete", "alice")
	mustRun("", "clients", "delete", created.ID)
	mustRun(upstreamSecret+"\n", "connectors", "create", "--id", "corp", "--kind", "oidc", "--name", "Corp",
		"--issuer", "https://corp.example.com", "--client-id", "gh", "--secret-stdin")
	mustRun(bindPassword+"\n", "connectors", "create", "--id", "dir", "--kind", "ldap", "--name", "Directory",
		"--url", "ldaps://ldap.example.com", "--user-base-dn", "ou=people,dc=example,dc=com", "--user-filter", "(uid={username})",
		"--bind-dn", "cn=gh,dc=example,dc=com", "--secret-stdin", "--json")
	for _, args := range [][]string{
		{"connectors", "list"}, {"connectors", "list", "--json"}, {"connectors", "show", "corp"}, {"connectors", "show", "dir", "--json"},
		{"connectors", "update", "corp", "--provision", "--json"},
	} {
		mustRun("", args...)
	}
	mustRun(upstreamSecret+"-new\n", "connectors", "update", "dir", "--secret-stdin")
	mustRun("", "connectors", "delete", "corp")

	// Every command with --help, with a bad flag, and against a database
	// that refuses it, where errors carry the URL.
	commands := [][]string{
		{"serve"}, {"migrate"}, {"migrate", "status"}, {"bootstrap"}, {"healthcheck"},
		{"clients", "create"}, {"clients", "list"}, {"clients", "show", "x"}, {"clients", "update", "x"},
		{"clients", "delete", "x"}, {"clients", "rotate-secret", "x"},
		{"users", "create", "--username", "bob"}, {"users", "list"}, {"users", "show", "x"}, {"users", "set-password", "x"},
		{"users", "disable", "x"}, {"users", "enable", "x"}, {"users", "delete", "x"},
		{"users", "roles", "add", "x", "r"}, {"users", "roles", "remove", "x", "r"},
		{"keys", "list"}, {"keys", "rotate"}, {"keys", "revoke", "x"}, {"keys", "reencrypt"},
		{"connectors", "list"}, {"connectors", "show", "x"}, {"connectors", "delete", "x"},
		{"connectors", "create", "--id", "x", "--kind", "oidc", "--name", "X", "--issuer", "https://x.example", "--client-id", "x", "--secret-stdin"},
	}
	// withFlag puts a flag after the command's words, before its
	// arguments, where every command parses flags.
	withFlag := func(args []string, f string) []string {
		n := 1
		switch {
		case args[0] == "users" && args[1] == "roles":
			n = 3
		case args[0] == "clients" || args[0] == "users" || args[0] == "keys" || args[0] == "connectors":
			n = 2
		}
		return append(append(append([]string{}, args[:n]...), f), args[n:]...)
	}
	for _, args := range commands {
		if _, err := runAll(environ, "", withFlag(args, "--help")...); !isHelp(err) {
			t.Errorf("gatehouse %s --help: %v; want help", strings.Join(args, " "), err)
		}
		if _, err := runAll(environ, "", withFlag(args, "--no-such-flag")...); err == nil {
			t.Errorf("gatehouse %s --no-such-flag succeeded", strings.Join(args, " "))
		}
		if args[0] == "healthcheck" {
			continue
		}
		env := withEnv("GATEHOUSE_DATABASE_URL="+badDB.String(), "GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_ADMIN_ADDR=localhost:0")
		if _, err := runAll(env, "pw-for-nobody-123\n", args...); err == nil {
			t.Errorf("gatehouse %s on a missing database succeeded", strings.Join(args, " "))
		}
	}
	for _, args := range [][]string{{"help"}, {}, {"no-such-command"}, {"clients"}, {"users"}, {"keys"}} {
		runAll(environ, "", args...)
	}
	// A misspelt variable next to the secrets.
	runAll(withEnv("GATEHOUSE_DATABASE_URI="+u.String()), "", "serve")
	// The password in the keyword/value form of a connection string.
	runAll(withEnv("GATEHOUSE_DATABASE_URL=host=/nonexistent dbname=x user=postgres password="+dbPassword), "", "clients", "list")
}

func isHelp(err error) bool { return errors.Is(err, flag.ErrHelp) }
