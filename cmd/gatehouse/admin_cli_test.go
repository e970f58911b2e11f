package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/gatehouse/gatehouse/admin"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// adminDB returns the URL of a fresh, migrated database.
func adminDB(t *testing.T) string {
	t.Helper()
	u := pgtest.URL(t)
	s, err := postgres.Open(t.Context(), u, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := postgres.Migrate(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	return u
}

// adminEnv is the environment of the CLI runs: the database and cheap
// password hashing.
func adminEnv(dbURL string) func(string) string {
	env := map[string]string{
		"GATEHOUSE_DATABASE_URL":      dbURL,
		"GATEHOUSE_ARGON2_MEMORY_KIB": "8192",
		"GATEHOUSE_ARGON2_ITERATIONS": "1",
		"GATEHOUSE_LOG_FORMAT":        "json",
		"USER":                        "tester",
	}
	return func(k string) string { return env[k] }
}

// environOf is the environment getenv describes, over the variables the
// command tree knows and USER.
func environOf(getenv func(string) string) []string {
	p, err := newParser(&cli{}, getenv, new([]error), io.Discard, io.Discard)
	if err != nil {
		panic(err)
	}
	var environ []string
	for _, name := range append(knownEnv(p.Model), "USER") {
		if v := getenv(name); v != "" {
			environ = append(environ, name+"="+v)
		}
	}
	return environ
}

type cliResult struct {
	stdout, stderr string
	err            error
}

// runCLI runs a clients or users command in-process.
func runCLI(t *testing.T, getenv func(string) string, stdin string, args ...string) cliResult {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, environOf(getenv), strings.NewReader(stdin), &out, &errOut)
	return cliResult{out.String(), errOut.String(), err}
}

// cliOK runs a command that must succeed.
func cliOK(t *testing.T, getenv func(string) string, stdin string, args ...string) cliResult {
	t.Helper()
	r := runCLI(t, getenv, stdin, args...)
	if r.err != nil {
		t.Fatalf("gatehouse %s: %v\nstderr: %s", strings.Join(args, " "), r.err, r.stderr)
	}
	return r
}

// cliFails runs a command that must fail with a one-line reason containing
// want.
func cliFails(t *testing.T, getenv func(string) string, want string, args ...string) {
	t.Helper()
	r := runCLI(t, getenv, "", args...)
	if r.err == nil {
		t.Fatalf("gatehouse %s succeeded: %s; want an error containing %q", strings.Join(args, " "), r.stdout, want)
	}
	if msg := r.err.Error(); !strings.Contains(msg, want) || strings.Contains(msg, "\n") {
		t.Errorf("gatehouse %s: error %q; want one line containing %q", strings.Join(args, " "), msg, want)
	}
}

// decodeCLIJSON decodes the CLI's JSON into an admin type. The CLI names
// a client's id client_id and a user's user_id, never id (issue 13): it
// fails on an "id" member, and fills the admin types' ID from the name.
func decodeCLIJSON[T any](t *testing.T, s string) T {
	t.Helper()
	var raw any
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		t.Fatalf("output %q is not JSON: %v", s, err)
	}
	objects, ok := raw.([]any)
	if !ok {
		objects = []any{raw}
	}
	for _, o := range objects {
		m, ok := o.(map[string]any)
		if !ok {
			continue
		}
		if _, ok := m["id"]; ok {
			t.Errorf("output %q names an id \"id\"; want client_id or user_id", s)
		}
		for _, name := range []string{"client_id", "user_id"} {
			if id, ok := m[name]; ok {
				m["id"] = id
			}
		}
	}
	b, _ := json.Marshal(raw)
	var v T
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("output %q does not decode: %v", s, err)
	}
	return v
}

func TestClientsCLI(t *testing.T) {
	env := adminEnv(adminDB(t))

	// create --json prints the id and the secret once.
	r := cliOK(t, env, "", "clients", "create", "--name", "billing", "--grant-types", "client_credentials",
		"--scopes", "read,write", "--audiences", "billing-api", "--roles", "service,batch",
		"--claim", "tenant=acme", "--claim-json", "tier=2", "--token-lifetime", "5m", "--json")
	created := decodeCLIJSON[admin.ClientWithSecret](t, r.stdout)
	if created.ID == "" || len(created.ClientSecret) < 43 || created.TokenLifetimeSeconds != 300 ||
		!slices.Equal(created.Roles, []string{"service", "batch"}) || created.Claims["tier"] != float64(2) {
		t.Fatalf("clients create --json = %+v", created)
	}
	// The store holds the digest of the printed secret, and the audit line
	// on stderr holds no secret.
	store, err := openStore(t.Context(), env("GATEHOUSE_DATABASE_URL"), slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	stored, err := store.GetClient(t.Context(), created.ID)
	if err != nil || !bytes.Equal(stored.SecretHash, oauth.HashClientSecret(created.ClientSecret)) {
		t.Fatalf("stored client %v, %v; want the printed secret's digest", stored.ID, err)
	}
	if !strings.Contains(r.stderr, `"msg":"audit"`) || !strings.Contains(r.stderr, `"actor":"cli:tester"`) || strings.Contains(r.stderr, created.ClientSecret) {
		t.Errorf("stderr = %q; want an audit event by cli:tester without the secret", r.stderr)
	}

	// The text form prints key=value lines; flags may follow arguments.
	r = cliOK(t, env, "", "clients", "create", "--id", "svc-2", "--name", "second", "--grant-types", "client_credentials")
	if !strings.Contains(r.stdout, "client_id=svc-2\n") || !strings.Contains(r.stdout, "client_secret=") {
		t.Errorf("clients create output = %q; want client_id= and client_secret= lines", r.stdout)
	}

	// list and show, as tables and JSON.
	r = cliOK(t, env, "", "clients", "list")
	if lines := strings.Split(strings.TrimSpace(r.stdout), "\n"); len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") || !strings.Contains(r.stdout, "billing") {
		t.Errorf("clients list = %q; want a header and two rows", r.stdout)
	}
	list := decodeCLIJSON[[]admin.Client](t, cliOK(t, env, "", "clients", "list", "--json").stdout)
	if len(list) != 2 {
		t.Errorf("clients list --json = %d clients; want 2", len(list))
	}
	if r = cliOK(t, env, "", "clients", "show", "svc-2"); !strings.Contains(r.stdout, "name:") || !strings.Contains(r.stdout, "second") {
		t.Errorf("clients show = %q", r.stdout)
	}
	shown := decodeCLIJSON[admin.Client](t, cliOK(t, env, "", "clients", "show", created.ID, "--json").stdout)
	if shown.Name != "billing" || strings.Contains(cliOK(t, env, "", "clients", "show", created.ID, "--json").stdout, "hash") {
		t.Errorf("clients show --json = %+v", shown)
	}
	// A client is named by name as well as by id (issue 13); an id wins
	// over another client's name.
	if byName := decodeCLIJSON[admin.Client](t, cliOK(t, env, "", "clients", "show", "billing", "--json").stdout); byName.ID != created.ID {
		t.Errorf("clients show billing = %+v; want client %s", byName, created.ID)
	}
	cliOK(t, env, "", "clients", "create", "--id", "billing-2", "--name", created.ID, "--grant-types", "client_credentials")
	if byID := decodeCLIJSON[admin.Client](t, cliOK(t, env, "", "clients", "show", created.ID, "--json").stdout); byID.Name != "billing" {
		t.Errorf("clients show %s = %+v; want the client with that id, not the one with that name", created.ID, byID)
	}
	cliOK(t, env, "", "clients", "delete", "billing-2")

	// update changes only the flags given.
	updated := decodeCLIJSON[admin.Client](t, cliOK(t, env, "", "clients", "update", created.ID, "--roles", "service", "--clear-claims", "--json").stdout)
	if !slices.Equal(updated.Roles, []string{"service"}) || len(updated.Claims) != 0 || !slices.Equal(updated.Scopes, []string{"read", "write"}) {
		t.Errorf("clients update = %+v", updated)
	}
	updated = decodeCLIJSON[admin.Client](t, cliOK(t, env, "", "clients", "update", "--disabled", created.ID, "--json").stdout)
	if !updated.Disabled {
		t.Errorf("clients update --disabled = %+v", updated)
	}

	// rotate-secret with and without grace.
	rot := decodeCLIJSON[admin.RotatedSecret](t, cliOK(t, env, "", "clients", "rotate-secret", created.ID, "--grace", "1h", "--json").stdout)
	if rot.ClientSecret == created.ClientSecret || rot.PreviousSecretExpiresAt == nil {
		t.Errorf("rotate-secret --grace 1h = %+v", rot)
	}
	stored, _ = store.GetClient(t.Context(), created.ID)
	if !bytes.Equal(stored.PreviousSecretHash, oauth.HashClientSecret(created.ClientSecret)) || !bytes.Equal(stored.SecretHash, oauth.HashClientSecret(rot.ClientSecret)) {
		t.Error("after rotation with grace the store does not hold new and previous digests")
	}
	r = cliOK(t, env, "", "clients", "rotate-secret", created.ID)
	if !strings.Contains(r.stdout, "no longer works") {
		t.Errorf("rotate-secret output = %q", r.stdout)
	}
	stored, _ = store.GetClient(t.Context(), created.ID)
	if len(stored.PreviousSecretHash) != 0 {
		t.Error("rotation without grace kept a previous secret")
	}

	// Refusals: non-zero exit, one line naming the flag.
	cliFails(t, env, "--claim sub", "clients", "create", "--name", "x", "--grant-types", "client_credentials", "--claim", "sub=root")
	cliFails(t, env, "--scopes", "clients", "create", "--name", "x", "--grant-types", "client_credentials", "--scopes", "root")
	cliFails(t, env, "--grant-types", "clients", "create", "--name", "x", "--grant-types", "implicit")
	cliFails(t, env, "--token-lifetime", "clients", "create", "--name", "x", "--grant-types", "client_credentials", "--token-lifetime", "25h")
	cliFails(t, env, "--token-lifetime", "clients", "create", "--name", "x", "--grant-types", "client_credentials", "--token-lifetime", "1500ms")
	cliFails(t, env, "--grace", "clients", "rotate-secret", created.ID, "--grace", "1000h")
	cliFails(t, env, "exists", "clients", "create", "--name", "billing", "--grant-types", "client_credentials")
	cliFails(t, env, "not found", "clients", "show", "nope")
	cliFails(t, env, `expected "<client>"`, "clients", "show")
	cliFails(t, env, "unexpected argument frobnicate", "clients", "frobnicate")
	cliFails(t, env, "unknown flag --secret", "clients", "create", "--secret", "x")

	// delete
	r = cliOK(t, env, "", "clients", "delete", "svc-2", "--json")
	if m := decodeCLIJSON[map[string]any](t, r.stdout); m["deleted"] != true {
		t.Errorf("clients delete --json = %q", r.stdout)
	}
	cliFails(t, env, "not found", "clients", "delete", "svc-2")
}

func TestUsersCLI(t *testing.T) {
	env := adminEnv(adminDB(t))
	store, err := openStore(t.Context(), env("GATEHOUSE_DATABASE_URL"), slogDiscard())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	hasher, err := oauth.NewPasswordHasher(oauth.PasswordParams{MemoryKiB: 8192, Iterations: 1})
	if err != nil {
		t.Fatal(err)
	}
	checkPassword := func(id, pw string) bool {
		t.Helper()
		u, err := store.GetUser(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		ok, _, err := hasher.Verify(t.Context(), u.PasswordHash, pw)
		return ok && err == nil
	}

	// The password comes from stdin; the trailing newline is not part of it.
	r := cliOK(t, env, "s3cret-alice-pw\n", "users", "create", "--username", "Alice", "--roles", "user,editor", "--password-stdin", "--json")
	alice := decodeCLIJSON[admin.UserWithPassword](t, r.stdout)
	if alice.Username != "alice" || alice.Password != "" || !slices.Equal(alice.Roles, []string{"user", "editor"}) {
		t.Fatalf("users create = %+v", alice)
	}
	if !checkPassword(alice.ID, "s3cret-alice-pw") {
		t.Error("alice's stored hash does not verify the password given on stdin")
	}
	if strings.Contains(r.stderr, "s3cret-alice-pw") || strings.Contains(r.stderr, "argon2id") {
		t.Error("stderr (audit) contains the password or its hash")
	}

	// Without a password one is generated and printed once.
	r = cliOK(t, env, "", "users", "create", "--username", "bob")
	kv := map[string]string{}
	for _, line := range strings.Split(r.stdout, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			kv[k] = v
		}
	}
	if kv["username"] != "bob" || len(kv["password"]) < 20 || !checkPassword(kv["user_id"], kv["password"]) {
		t.Errorf("users create (generated) = %q", r.stdout)
	}

	// Usernames are unique regardless of case and Unicode form.
	cliFails(t, env, "taken", "users", "create", "--username", "ALICE")
	cliOK(t, env, "", "users", "create", "--username", "jos\u00e9")
	cliFails(t, env, "taken", "users", "create", "--username", "JOSE\u0301")
	cliFails(t, env, "password", "users", "create", "--username", "carol", "--password-stdin") // empty stdin
	cliFails(t, env, "choose one", "users", "create", "--username", "carol", "--password-stdin", "--password-file", "x")

	// list and show, by username or id.
	r = cliOK(t, env, "", "users", "list")
	if !strings.HasPrefix(r.stdout, "ID") || !strings.Contains(r.stdout, "alice") || !strings.Contains(r.stdout, "jos\u00e9") {
		t.Errorf("users list = %q", r.stdout)
	}
	if users := decodeCLIJSON[[]admin.User](t, cliOK(t, env, "", "users", "list", "--json").stdout); len(users) != 3 {
		t.Errorf("users list --json: %d users; want 3", len(users))
	}
	if u := decodeCLIJSON[admin.User](t, cliOK(t, env, "", "users", "show", "ALICE", "--json").stdout); u.ID != alice.ID {
		t.Errorf("users show ALICE = %+v", u)
	}
	if r = cliOK(t, env, "", "users", "show", alice.ID); !strings.Contains(r.stdout, "alice") {
		t.Errorf("users show by id = %q", r.stdout)
	}

	// set-password from a file, then generated.
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("new-alice-pass\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cliOK(t, env, "", "users", "set-password", "alice", "--password-file", file)
	if !checkPassword(alice.ID, "new-alice-pass") || checkPassword(alice.ID, "s3cret-alice-pw") {
		t.Error("set-password --password-file did not replace the password")
	}
	gen := decodeCLIJSON[map[string]string](t, cliOK(t, env, "", "users", "set-password", "alice", "--json").stdout)
	if !checkPassword(alice.ID, gen["password"]) {
		t.Errorf("set-password (generated) = %v; the printed password does not verify", gen)
	}

	// Refresh families die on disable.
	now := time.Now()
	if err := store.CreateRefreshFamily(t.Context(), storage.RefreshFamily{ID: "fam-1", ClientID: "app", Subject: alice.ID,
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), IdleExpiresAt: now.Add(time.Hour), Generation: 1}); err != nil {
		t.Fatal(err)
	}
	if u := decodeCLIJSON[admin.User](t, cliOK(t, env, "", "users", "disable", "alice", "--json").stdout); !u.Disabled {
		t.Errorf("users disable = %+v", u)
	}
	if f, _, _ := store.GetRefreshFamily(t.Context(), "fam-1"); f.RevokedAt.IsZero() {
		t.Error("refresh family not revoked after users disable")
	}
	if denied, _ := store.Denied(t.Context(), now, "fam-1"); !denied {
		t.Error("family not denied after users disable")
	}
	if r = cliOK(t, env, "", "users", "enable", "alice"); !strings.Contains(r.stdout, "enabled") {
		t.Errorf("users enable = %q", r.stdout)
	}

	// roles add / remove
	u := decodeCLIJSON[admin.User](t, cliOK(t, env, "", "users", "roles", "add", "alice", "auditor", "user", "--json").stdout)
	if !slices.Equal(u.Roles, []string{"user", "editor", "auditor"}) {
		t.Errorf("roles add = %v", u.Roles)
	}
	u = decodeCLIJSON[admin.User](t, cliOK(t, env, "", "users", "roles", "remove", "alice", "editor", "--json").stdout)
	if !slices.Equal(u.Roles, []string{"user", "auditor"}) {
		t.Errorf("roles remove = %v", u.Roles)
	}
	cliFails(t, env, "roles", "users", "roles", "add", "alice", "bad role")
	cliFails(t, env, `expected "<roles> ..."`, "users", "roles", "add", "alice")
	cliFails(t, env, "unexpected argument list", "users", "roles", "list")

	// delete
	cliOK(t, env, "", "users", "delete", "bob")
	cliFails(t, env, "not found", "users", "show", "bob")
	cliFails(t, env, "not found", "users", "delete", "bob")
}

// TestAdminCLIHostileArguments: an argument no store can hold is refused
// by the command line itself, with the same one-line error on PostgreSQL
// as on any store, and changes nothing.
func TestAdminCLIHostileArguments(t *testing.T) {
	env := adminEnv(adminDB(t))
	for _, args := range [][]string{
		{"users", "show", "\xff\xfe"},
		{"users", "disable", "bob\xc3"},
		{"clients", "show", "a\x00b"},
		{"clients", "create", "--name", "n\xff", "--grant-types", "client_credentials"},
	} {
		cliFails(t, env, "is not valid UTF-8 or contains a NUL character", args...)
	}
	if r := cliOK(t, env, "", "clients", "list", "--json"); strings.Contains(r.stdout, "n\ufffd") {
		t.Errorf("clients list = %s; the refused client was created", r.stdout)
	}
}

func TestAdminCLIWithoutDatabase(t *testing.T) {
	noDB := func(string) string { return "" }
	for _, args := range [][]string{{"clients", "list"}, {"users", "list"}, {"clients", "create", "--name", "x", "--grant-types", "client_credentials"}} {
		r := runCLI(t, noDB, "", args...)
		if !errors.Is(r.err, errNoDatabase) {
			t.Errorf("gatehouse %s without a database: %v; want %v", strings.Join(args, " "), r.err, errNoDatabase)
		}
	}
}

func TestAdminCLIHelp(t *testing.T) {
	noDB := func(string) string { return "" }
	for _, args := range [][]string{
		{"clients", "create"}, {"clients", "list"}, {"clients", "show"}, {"clients", "update"}, {"clients", "delete"}, {"clients", "rotate-secret"},
		{"users", "create"}, {"users", "list"}, {"users", "show"}, {"users", "set-password"}, {"users", "disable"},
		{"users", "enable"}, {"users", "delete"}, {"users", "roles", "add"}, {"users", "roles", "remove"},
	} {
		r := runCLI(t, noDB, "", append(args, "--help")...)
		if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stdout, "Example:\n  gatehouse ") && !strings.Contains(r.stdout, "Example:\n  printf") {
			t.Errorf("gatehouse %s --help: %v, %q; want flag.ErrHelp and an example", strings.Join(args, " "), r.err, r.stdout)
		}
		if strings.Contains(r.stdout, "-password ") && !strings.Contains(r.stdout, "-password-") {
			t.Errorf("gatehouse %s has a --password flag", strings.Join(args, " "))
		}
	}
	// The group usage lists the commands.
	for _, group := range []string{"clients", "users"} {
		r := runCLI(t, noDB, "", group, "--help")
		if !errors.Is(r.err, flag.ErrHelp) || !strings.Contains(r.stdout, "create") {
			t.Errorf("gatehouse %s help = %v, %q", group, r.err, r.stdout)
		}
	}
}

// TestClientsCLIPrivateKeyJWT: a private_key_jwt client is created from a
// JWKS file (or standard input) with no secret printed or stored, moves to
// a jwks_uri, and a private key in the file is refused naming the flag's
// field.
func TestClientsCLIPrivateKeyJWT(t *testing.T) {
	env := adminEnv(adminDB(t))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pub, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Use: "sig"}}})
	priv, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: k, KeyID: "k1", Use: "sig"}}})
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(file, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	r := cliOK(t, env, "", "clients", "create", "--name", "batch", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-file", file, "--auth-signing-algs", "ES256", "--json")
	created := decodeCLIJSON[admin.ClientWithSecret](t, r.stdout)
	if created.ClientSecret != "" || created.TokenEndpointAuthMethod != "private_key_jwt" || len(created.JWKS) == 0 ||
		!slices.Equal(created.TokenEndpointAuthSigningAlgs, []string{"ES256"}) {
		t.Fatalf("clients create --auth-method private_key_jwt = %s", r.stdout)
	}
	r = cliOK(t, env, string(pub), "clients", "create", "--name", "batch2", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-file", "-")
	if strings.Contains(r.stdout, "client_secret") || !strings.Contains(r.stdout, "no secret") {
		t.Errorf("clients create (text) for a private_key_jwt client printed %q; want no secret", r.stdout)
	}
	r = cliOK(t, env, "", "clients", "update", "batch", "--jwks-uri", "https://batch.example.com/jwks.json", "--json")
	if upd := decodeCLIJSON[admin.Client](t, r.stdout); upd.JWKSURI != "https://batch.example.com/jwks.json" || len(upd.JWKS) != 0 {
		t.Errorf("clients update --jwks-uri = %s", r.stdout)
	}
	if err := os.WriteFile(file, priv, 0o600); err != nil {
		t.Fatal(err)
	}
	cliFails(t, env, "--jwks-file: key 0: has the private", "clients", "create", "--name", "leaky", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-file", file)
	cliFails(t, env, "--jwks-uri", "clients", "create", "--name", "plain", "--grant-types", "client_credentials",
		"--auth-method", "private_key_jwt", "--jwks-uri", "http://keys.example.com/jwks.json")
	cliFails(t, env, "--auth-method: client", "clients", "rotate-secret", "batch")
}
