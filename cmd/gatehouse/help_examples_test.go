package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/keys"
)

// exampleOldSecret is the master secret the examples' keys are sealed
// under: the second (old) secret of the `keys reencrypt` example.
const exampleOldSecret = "base64:b2xkLW1hc3Rlci1zZWNyZXQtb2YtMzItYnl0ZXMtMDEyMzQ="

// helpPages walks the command tree and returns, for every command (the
// root included), its path and the examples its --help prints.
func helpPages(t *testing.T) map[string][]string {
	t.Helper()
	p, err := newParser(&cli{}, func(string) string { return "" }, new([]error), io.Discard, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	pages := map[string][]string{}
	var walk func(n *kong.Node, path []string)
	walk = func(n *kong.Node, path []string) {
		var out bytes.Buffer
		err := run(t.Context(), append(append([]string{}, path...), "--help"), nil, nil, &out, io.Discard)
		name := strings.Join(append([]string{"gatehouse"}, path...), " ")
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s --help: %v; want help (exit status 0)", name, err)
		}
		_, ex, ok := strings.Cut(out.String(), "\nExample:\n")
		if !ok {
			t.Errorf("%s --help has no example:\n%s", name, out.String())
		}
		for _, line := range strings.Split(strings.TrimRight(ex, "\n"), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				pages[name] = append(pages[name], line)
			}
		}
		if ok && len(pages[name]) == 0 {
			t.Errorf("%s --help prints an empty example section", name)
		}
		for _, c := range n.Children {
			if c.Type == kong.CommandNode {
				walk(c, append(append([]string{}, path...), c.Name))
			}
		}
	}
	walk(p.Model.Node, nil)
	return pages
}

// TestHelpExamples runs every example every --help prints, each against its
// own copy of a PostgreSQL database holding what the examples name
// (exampleFixture); serve and healthcheck run a dev server on a free port.
// Each example must succeed, and print JSON where it says --json.
func TestHelpExamples(t *testing.T) {
	pages := helpPages(t)
	if len(pages) < 30 {
		t.Fatalf("found %d commands; the walk missed some", len(pages))
	}
	dir := t.TempDir()
	files := map[string]string{
		"/run/secrets/gatehouse":      exampleOldSecret + "\n",
		"/run/secrets/bob-password":   "bob-password-123\n",
		"/run/secrets/alice-password": "alice-password-456\n",
		"/etc/gatehouse/billing-jwks.json": `{"keys":[{"kty":"EC","crv":"P-256","kid":"billing-1","use":"sig",` +
			`"x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]}`,
		"/run/secrets/sso-client-secret": "sso-client-secret-789\n",
	}
	var replacer []string
	for name, content := range files {
		local := filepath.Join(dir, filepath.Base(name))
		if err := os.WriteFile(local, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		replacer = append(replacer, name, local)
	}
	paths := strings.NewReplacer(replacer...)
	fixture := newExampleFixture(t)

	for page, exs := range pages {
		for _, ex := range exs {
			t.Run(page+": "+ex, func(t *testing.T) {
				t.Parallel() // each example has its own copy of the fixture
				words := strings.Fields(paths.Replace(ex))
				assign := map[string]string{}
				for len(words) > 0 && strings.Contains(words[0], "=") && words[0] != "gatehouse" {
					k, v, _ := strings.Cut(words[0], "=")
					assign[k] = v
					words = words[1:]
				}
				if len(words) < 2 || words[0] != "gatehouse" {
					t.Fatalf("example %q does not run gatehouse", ex)
				}
				args := words[1:]
				switch args[0] {
				case "serve":
					runServeExample(t, args, assign)
				case "healthcheck":
					rs := startServe(t, devEnviron(), 2)
					for i, a := range args {
						args[i] = strings.ReplaceAll(a, "127.0.0.1:8080", rs.addrs["token service"])
					}
					runExample(t, devEnviron(), args)
				default:
					if args[0] == "keys" && args[1] == "revoke" {
						args[len(args)-1] = fixture.kid // the example's kid stands for the active key's
					}
					runExample(t, fixture.store(t, assign), args)
				}
			})
		}
	}
}

func devEnviron() []string {
	return []string{"GATEHOUSE_ADDR=127.0.0.1:0", "GATEHOUSE_ADMIN_ADDR=localhost:0", "GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_ARGON2_MEMORY_KIB=8192", "GATEHOUSE_ARGON2_ITERATIONS=1"}
}

// runServeExample starts serve on free ports and stops it: it must have
// listened and stop cleanly.
func runServeExample(t *testing.T, args []string, assign map[string]string) {
	t.Helper()
	for i, a := range args {
		switch a {
		case "127.0.0.1:8080":
			args[i] = "127.0.0.1:0"
		case "127.0.0.1:8081":
			args[i] = "localhost:0"
		}
	}
	if len(assign) > 0 {
		t.Fatalf("serve example sets %v; the test knows none", assign)
	}
	rs := startServe(t, devEnviron(), 2, args[1:]...)
	if err := rs.stop(); err != nil {
		t.Fatalf("gatehouse %s: %v\n%s", strings.Join(args, " "), err, rs.stderr.String())
	}
	if out := rs.stdout.String(); slices.Contains(args, "--json") && (!json.Valid([]byte(out)) || !strings.Contains(out, `"client_id"`)) {
		t.Errorf("gatehouse %s printed %q; want the dev credentials as JSON", strings.Join(args, " "), out)
	}
}

func runExample(t *testing.T, environ, args []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	if err := run(ctx, args, environ, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("gatehouse %s: %v\nstdout: %s\nstderr: %s", strings.Join(args, " "), err, out.String(), errOut.String())
	}
	if slices.Contains(args, "--json") && !json.Valid(out.Bytes()) {
		t.Errorf("gatehouse %s printed %q; want JSON", strings.Join(args, " "), out.String())
	}
}

// exampleFixture is a migrated database holding what the examples name
// (the clients billing and -legacy, the user alice, signing keys sealed
// under exampleOldSecret), copied for each example.
type exampleFixture struct {
	url string // the fixture database; never used but as a template
	kid string // the active signing key
	// copies numbers the copies.
	copies *atomic.Int64
}

func newExampleFixture(t *testing.T) exampleFixture {
	t.Helper()
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":      adminDB(t),
		"GATEHOUSE_SECRETS":           exampleOldSecret,
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
		"USER":                        "tester",
	}
	getenv := func(k string) string { return env[k] }
	cliOK(t, getenv, "", "clients", "create", "--name", "billing", "--grant-types", "client_credentials", "--scopes", "read")
	cliOK(t, getenv, "", "clients", "create", "--name=-legacy", "--grant-types", "client_credentials")
	cliOK(t, getenv, "alice-first-password\n", "users", "create", "--username", "alice", "--roles", "user,editor", "--password-stdin")
	cliOK(t, getenv, "", "keys", "rotate")
	cliOK(t, getenv, "", "issuers", "create", "--id", "keycloak", "--issuer", "https://kc.example/realms/acme",
		"--roles-claim", "realm_access.roles", "--role-map", "api-admin=admin")
	cliOK(t, getenv, "corp-client-secret\n", "connectors", "create", "--id", "corp", "--kind", "oidc", "--name", "Corp",
		"--issuer", "https://corp.example.com", "--client-id", "gatehouse", "--secret-stdin")
	f := exampleFixture{url: env["GATEHOUSE_DATABASE_URL"], copies: new(atomic.Int64)}
	for _, k := range listJSON(t, env) {
		if k.State == "active" {
			f.kid = k.ID
		}
	}
	return f
}

// store copies the fixture into a fresh database (CREATE DATABASE ...
// TEMPLATE, much cheaper than migrating and filling one) and returns the
// environment of an example with the assignments it makes; an example
// that sets one of the master-secret variables replaces both.
func (f exampleFixture) store(t *testing.T, assign map[string]string) []string {
	t.Helper()
	u, err := url.Parse(f.url)
	if err != nil {
		t.Fatal(err)
	}
	template := strings.TrimPrefix(u.Path, "/")
	name := fmt.Sprintf("%s_%d", template, f.copies.Add(1))
	u.Path = "/postgres"
	exec := func(sql string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, u.String())
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		_, err = conn.Exec(ctx, sql)
		return err
	}
	if err := exec("CREATE DATABASE " + name + " TEMPLATE " + template); err != nil {
		t.Fatalf("copy the fixture database: %v", err)
	}
	t.Cleanup(func() { exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	u.Path = "/" + name
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":      u.String(),
		"GATEHOUSE_SECRETS":           exampleOldSecret,
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
		"GATEHOUSE_LOG_FORMAT":        "json",
	}
	for k, v := range assign {
		if strings.HasPrefix(k, keys.EnvSecrets) {
			delete(env, keys.EnvSecrets)
			delete(env, keys.EnvSecretsFile)
		}
		env[k] = v
	}
	environ := []string{"USER=tester"}
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	return environ
}
