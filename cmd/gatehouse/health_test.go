package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestReadyzSchema: /readyz turns 503 when the database's schema is not
// the one this binary knows (another version migrated it), and back when
// it is; /livez stays 200 throughout.
func TestReadyzSchema(t *testing.T) {
	dbURL := pgtest.URL(t)
	ts := startServer(t, withPostgres(dbURL))
	check := func(path string, wantStatus int, wantSchema string) {
		t.Helper()
		resp, body := do(t, mustGet(t, ts.URL+path))
		if resp.StatusCode != wantStatus || resp.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("GET %s = %d (Cache-Control %q) %v; want %d, no-store", path, resp.StatusCode, resp.Header.Get("Cache-Control"), body, wantStatus)
		}
		if wantSchema != "" {
			if checks, _ := body["checks"].(map[string]any); checks["schema"] != wantSchema || checks["store"] != "ok" || checks["keys"] != "ok" {
				t.Errorf("GET %s checks = %v; want schema %q, store and keys ok", path, body["checks"], wantSchema)
			}
		}
	}
	check(readyzPath, 200, "ok")
	check(livezPath, 200, "")

	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), `INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_from_a_newer_gatehouse.sql')`); err != nil {
		t.Fatal(err)
	}
	check(readyzPath, 503, "not current")
	check(livezPath, 200, "")
	if _, err := conn.Exec(t.Context(), `DELETE FROM schema_migrations WHERE version = 9999`); err != nil {
		t.Fatal(err)
	}
	check(readyzPath, 200, "ok")
}

// TestReadyzChecks covers each check of the readiness handler on its own.
func TestReadyzChecks(t *testing.T) {
	down := func(context.Context) error { return errors.New("connection refused") }
	up := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name       string
		rd         readiness
		wantStatus int
		want       map[string]string
	}{
		{"all well", readiness{ping: up, schema: up, keysLoaded: func() bool { return true }}, 200,
			map[string]string{"store": "ok", "schema": "ok", "keys": "ok"}},
		{"memory store", readiness{ping: up, keysLoaded: func() bool { return true }}, 200,
			map[string]string{"store": "ok", "schema": "ok", "keys": "ok"}},
		{"store down", readiness{ping: down, schema: up, keysLoaded: func() bool { return true }}, 503,
			map[string]string{"store": "unavailable", "schema": "unknown", "keys": "ok"}},
		{"no keys", readiness{ping: up, schema: up, keysLoaded: func() bool { return false }}, 503,
			map[string]string{"store": "ok", "schema": "ok", "keys": "not loaded"}},
		{"schema", readiness{ping: up, schema: down, keysLoaded: func() bool { return true }}, 503,
			map[string]string{"store": "ok", "schema": "not current", "keys": "ok"}},
	} {
		tc.rd.logger = slog.New(slog.DiscardHandler)
		srv := httptest.NewServer(&tc.rd)
		resp, body := do(t, mustGet(t, srv.URL))
		srv.Close()
		checks, _ := body["checks"].(map[string]any)
		if resp.StatusCode != tc.wantStatus || len(checks) != len(tc.want) {
			t.Errorf("%s: %d %v; want %d %v", tc.name, resp.StatusCode, body, tc.wantStatus, tc.want)
			continue
		}
		for k, v := range tc.want {
			if checks[k] != v {
				t.Errorf("%s: check %s = %v; want %s", tc.name, k, checks[k], v)
			}
		}
		if !strings.Contains(resp.Header.Get("Content-Type"), "json") || tc.wantStatus == 503 && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: headers %v", tc.name, resp.Header)
		}
	}
}

// TestHealthcheckCommand runs `gatehouse healthcheck` as a container's
// health check would: against the address in GATEHOUSE_ADDR (an
// unspecified host probed on loopback), and against failing servers.
func TestHealthcheckCommand(t *testing.T) {
	ts := startServer(t, nil)
	_, port, _ := net.SplitHostPort(ts.Listener.Addr().String())
	hc := func(environ []string, args ...string) (string, error) {
		var out syncBuffer
		err := run(context.Background(), append([]string{"healthcheck"}, args...), environ, nil, &out, &syncBuffer{})
		return out.String(), err
	}
	for _, addr := range []string{"127.0.0.1:" + port, "0.0.0.0:" + port, ":" + port} {
		for _, args := range [][]string{nil, {"--live"}} {
			out, err := hc([]string{"GATEHOUSE_ADDR=" + addr}, args...)
			if err != nil || !strings.HasPrefix(out, "ok: GET http://127.0.0.1:"+port) {
				t.Errorf("healthcheck %v with GATEHOUSE_ADDR=%s: %q, %v; want ok", args, addr, out, err)
			}
		}
	}
	notReady := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == readyzPath {
			http.Error(w, `{"status":"unavailable"}`, http.StatusServiceUnavailable)
		}
	}))
	defer notReady.Close()
	if _, err := hc(nil, "--url", notReady.URL); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("healthcheck of a server that is not ready: %v; want an error with 503", err)
	}
	if _, err := hc(nil, "--url", notReady.URL, "--live"); err != nil {
		t.Errorf("healthcheck --live of a live server: %v", err)
	}
	notReady.Close()
	if _, err := hc(nil, "--url", notReady.URL, "--live"); err == nil {
		t.Error("healthcheck of a stopped server succeeded")
	}
}
