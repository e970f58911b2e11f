// Package pgtest gives tests in any package a fresh, empty PostgreSQL
// database, so that PostgreSQL tests run everywhere instead of skipping.
//
// URL(t) creates a database with a random name and drops it when the test
// ends. The server is the one named by GATEHOUSE_TEST_DATABASE_URL or
// DATABASE_URL (a postgres:// URL of a role that may CREATE DATABASE);
// without one, pgtest starts a throwaway cluster once per test binary from
// the PostgreSQL server binaries (initdb, pg_ctl) found under
// /usr/lib/postgresql/*/bin or in PATH, and Main stops and removes it when
// the tests end:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
// NewCluster starts a dedicated cluster that one test may stop and start to
// simulate an outage without disturbing tests running in parallel.
//
// pgtest never skips: when it can get no database it fails the test and says
// what to install or which variable to set. It owns no schema; callers
// migrate the database they get.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL and EnvFallbackURL name the variables that point pgtest at an
// existing server; EnvURL wins.
const (
	EnvURL         = "GATEHOUSE_TEST_DATABASE_URL"
	EnvFallbackURL = "DATABASE_URL"
)

const install = "install the PostgreSQL server (apt-get install postgresql) or set " +
	EnvURL + " to a postgres:// URL of a role that may CREATE DATABASE"

// shared is the cluster of this test binary. It is process-wide state by
// nature: one cluster serves every test of the binary, started on first use
// and stopped by Main.
var shared struct {
	mu      sync.Mutex
	inMain  bool
	started bool
	cluster *Cluster
	err     error
}

// Main runs the tests, then stops and removes the throwaway cluster if one
// was started, and exits. Call it from TestMain in every package that uses
// URL.
func Main(m *testing.M) {
	shared.mu.Lock()
	shared.inMain = true
	shared.mu.Unlock()

	code := m.Run()

	shared.mu.Lock()
	c := shared.cluster
	shared.mu.Unlock()
	if c != nil {
		if err := c.destroy(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: %v\n", err)
		}
	}
	os.Exit(code)
}

// URL returns the URL of a new, empty database, dropped when t ends.
func URL(t testing.TB) string {
	t.Helper()
	base, err := sharedBaseURL()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	return createDatabase(t, base)
}

func sharedBaseURL() (string, error) {
	for _, env := range []string{EnvURL, EnvFallbackURL} {
		if u := os.Getenv(env); u != "" {
			if !strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
				return "", fmt.Errorf("%s must be a postgres:// URL", env)
			}
			return u, nil
		}
	}
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if !shared.inMain {
		return "", errors.New("no " + EnvURL + " set, and the throwaway cluster needs " +
			"func TestMain(m *testing.M) { pgtest.Main(m) } in this package so that it is stopped when the tests end")
	}
	if !shared.started {
		shared.started = true
		shared.cluster, shared.err = startCluster()
	}
	if shared.err != nil {
		return "", shared.err
	}
	return shared.cluster.baseURL(), nil
}

// Cluster is a throwaway PostgreSQL cluster in a temporary directory,
// listening only on a Unix socket there, tuned for tests (fsync off).
type Cluster struct {
	bin    string // directory holding initdb and pg_ctl
	dir    string // temporary directory: data/, the socket, postgres.log
	asUser string // run the binaries as this user ("postgres" under root), or "" for ourselves

	mu      sync.Mutex
	running bool
}

// NewCluster starts a cluster for t alone and removes it when t ends. Use
// it for tests that Stop and Start the server; take databases on it with
// its URL method. It ignores GATEHOUSE_TEST_DATABASE_URL and DATABASE_URL.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := startCluster()
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(func() {
		if err := c.destroy(); err != nil {
			t.Errorf("pgtest: %v", err)
		}
	})
	return c
}

// URL returns the URL of a new, empty database on c, dropped when t ends
// if c is running then.
func (c *Cluster) URL(t testing.TB) string {
	t.Helper()
	return createDatabase(t, c.baseURL())
}

// Stop shuts the server down (pg_ctl stop -m fast): clients see their
// connections end and new connections refused until Start.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.running {
		return nil
	}
	if err := c.pgctl("stop", "-m", "fast"); err != nil {
		return err
	}
	c.running = false
	return nil
}

// Start starts the server again after Stop and waits until it accepts
// connections.
func (c *Cluster) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.running {
		return nil
	}
	if err := c.pgctl("start"); err != nil {
		return err
	}
	c.running = true
	return nil
}

func (c *Cluster) baseURL() string {
	return "postgres://postgres@/postgres?sslmode=disable&host=" + url.QueryEscape(c.dir)
}

// destroy stops the server without a shutdown checkpoint and removes its
// directory.
func (c *Cluster) destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var err error
	if c.running {
		err = c.pgctl("stop", "-m", "immediate")
		c.running = false
	}
	if rmErr := os.RemoveAll(c.dir); rmErr != nil && err == nil {
		err = rmErr
	}
	return err
}

// startCluster runs initdb into a new temporary directory and starts the
// server.
func startCluster() (*Cluster, error) {
	bin, err := findBinaries()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin}
	var uid, gid = -1, -1
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root.
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("running as root, the server must run as user postgres, which does not exist: %v; %s", err, install)
		}
		if _, err := exec.LookPath("runuser"); err != nil {
			return nil, fmt.Errorf("running as root, pgtest needs runuser (util-linux) to start the server as user postgres")
		}
		c.asUser = u.Username
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	// The socket path must stay under the kernel's ~107-byte limit, so
	// prefer a short temporary directory.
	tmp := os.TempDir()
	if len(tmp) > 60 {
		tmp = "/tmp"
	}
	if c.dir, err = os.MkdirTemp(tmp, "pgtest-"); err != nil {
		return nil, err
	}
	if uid >= 0 {
		if err := os.Chown(c.dir, uid, gid); err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	if err := c.init(); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	if err := c.Start(); err != nil {
		os.RemoveAll(c.dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) init() error {
	data := filepath.Join(c.dir, "data")
	out, err := c.command(filepath.Join(c.bin, "initdb"), "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync").CombinedOutput()
	if err != nil {
		return fmt.Errorf("initdb: %v\n%s", err, out)
	}
	conf := fmt.Sprintf(`
# pgtest: a throwaway cluster for tests; durability is off for speed.
listen_addresses = ''
unix_socket_directories = '%s'
unix_socket_permissions = 0777
port = 5432
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 32MB
log_min_messages = warning
`, c.dir)
	f, err := os.OpenFile(filepath.Join(data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pgctl runs pg_ctl with the given action and waits for it to finish.
func (c *Cluster) pgctl(action string, args ...string) error {
	logFile := filepath.Join(c.dir, "postgres.log")
	args = append([]string{action, "-D", filepath.Join(c.dir, "data"), "-w", "-t", "60", "-l", logFile}, args...)
	// pg_ctl start leaves the server running with its output in the log
	// file; the command's own output goes to a file too, so that no pipe
	// is held open by the server and Wait returns.
	out, err := os.CreateTemp("", "pgtest-pgctl-")
	if err != nil {
		return err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd := c.command(filepath.Join(c.bin, "pg_ctl"), args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		msg, _ := os.ReadFile(out.Name())
		log, _ := os.ReadFile(logFile)
		return fmt.Errorf("pg_ctl %s: %v\n%s\nserver log:\n%s", action, err, msg, tail(log, 2000))
	}
	return nil
}

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if c.asUser != "" {
		cmd = exec.Command("runuser", append([]string{"-u", c.asUser, "--", name}, args...)...)
	} else {
		cmd = exec.Command(name, args...)
	}
	cmd.Dir = c.dir
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// findBinaries returns the directory holding initdb and pg_ctl: the highest
// version under /usr/lib/postgresql, else the one in PATH.
func findBinaries() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	slices.SortFunc(dirs, func(a, b string) int {
		switch va, vb := version(a), version(b); {
		case va < vb:
			return 1
		case va > vb:
			return -1
		}
		return 0
	})
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "pg_ctl")) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		d := filepath.Dir(p)
		if isExecutable(filepath.Join(d, "initdb")) {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries (initdb, pg_ctl) under /usr/lib/postgresql/*/bin or in PATH; " + install)
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// createDatabase creates a database with a random name on the server of
// base and returns base with that database; t's cleanup drops it.
func createDatabase(t testing.TB, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("pgtest: parse server URL: %v", errors.Unwrap(err))
	}
	var b [8]byte
	rand.Read(b[:])
	name := "gatehouse_test_" + hex.EncodeToString(b[:])

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := adminExec(ctx, base, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("pgtest: create database on %s: %v\n%s", u.Redacted(), err, install)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		// FORCE ends sessions a test left open.
		if err := adminExec(ctx, base, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Logf("pgtest: drop database %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

func adminExec(ctx context.Context, base, sql string) error {
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
