package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// Health endpoints (design D12), on the public listener.
const (
	// livezPath answers 200 while the process serves HTTP; it touches
	// nothing else, so a database outage never restarts the server.
	livezPath = "/livez"
	// readyzPath answers 200 when this instance can issue tokens: the
	// store answers, signing keys are loaded, the schema is the one this
	// binary knows.
	readyzPath = "/readyz"
)

// readiness is what /readyz checks.
type readiness struct {
	// ping asks the store to answer.
	ping func(context.Context) error
	// schema checks the store's schema; nil for a store without one.
	schema func(context.Context) error
	// keysLoaded reports whether a key is there to sign with.
	keysLoaded func() bool
	logger     *slog.Logger
}

func livez(w http.ResponseWriter, r *http.Request) {
	writeHealth(w, http.StatusOK, map[string]string{"status": "ok"})
}

// ServeHTTP answers /readyz: 200 or 503 with a body naming each check's
// outcome in fixed words (no error text: the endpoint is public).
func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "keys": "ok", "schema": "ok"}
	ready := true
	fail := func(check, outcome string, err error) {
		checks[check], ready = outcome, false
		rd.logger.DebugContext(ctx, "not ready", "check", check, "err", err)
	}
	if err := rd.ping(ctx); err != nil {
		fail("store", "unavailable", err)
	}
	if rd.schema != nil {
		if checks["store"] != "ok" {
			checks["schema"] = "unknown"
			ready = false
		} else if err := rd.schema(ctx); err != nil {
			fail("schema", "not current", err)
		}
	}
	if !rd.keysLoaded() {
		fail("keys", "not loaded", nil)
	}
	status, word := http.StatusOK, "ok"
	if !ready {
		status, word = http.StatusServiceUnavailable, "unavailable"
		w.Header().Set("Retry-After", "5")
	}
	writeHealth(w, status, map[string]any{"status": word, "checks": checks})
}

func writeHealth(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write(b)
}

// healthcheckCmd probes a running server, for images without a shell or
// curl (distroless): exit status 0 when the probe answers 200. The
// Dockerfile runs it as HEALTHCHECK CMD ["/usr/local/bin/gatehouse", "healthcheck"].
type healthcheckCmd struct {
	Live    bool          `name:"live" help:"Probe /livez (the process answers) instead of /readyz (store, keys, schema)."`
	URL     string        `name:"url" help:"Base URL of the server; default http(s)://GATEHOUSE_ADDR, https when GATEHOUSE_TLS_CERT is set, an unspecified host (0.0.0.0, ::) probed on loopback."`
	Timeout time.Duration `name:"timeout" default:"3s" help:"Give up after this long."`
	output
}

func (c *healthcheckCmd) Run(ctx context.Context, e *cliEnv) error {
	cfg, err := envConfig(e.getenv)
	if err != nil {
		return err
	}
	target := c.URL
	if target == "" {
		host, port, err := net.SplitHostPort(cfg.Addr)
		if err != nil {
			return fmt.Errorf("healthcheck: --addr %q: %w", cfg.Addr, err)
		}
		if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
			host = "127.0.0.1"
		}
		scheme := "http"
		if cfg.TLSCert != "" {
			scheme = "https"
		}
		target = scheme + "://" + net.JoinHostPort(host, port)
	}
	path := readyzPath
	if c.Live {
		path = livezPath
	}
	target = strings.TrimSuffix(target, "/") + path

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	if cfg.TLSCert != "" {
		if transport.TLSClientConfig, err = pinnedTLS(cfg.TLSCert); err != nil {
			return err
		}
	}
	client := &http.Client{Transport: transport, Timeout: c.Timeout}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: %s %s", target, resp.Status, bytes.TrimSpace(body))
	}
	out := map[string]any{"url": target, "status": resp.StatusCode, "body": string(bytes.TrimSpace(body))}
	return c.print(e.stdout, out, func(w io.Writer) { fmt.Fprintf(w, "ok: GET %s: %s\n", target, bytes.TrimSpace(body)) })
}

// pinnedTLS trusts exactly the certificate in certFile: the probe runs
// beside the server and reaches it by a loopback address that the
// certificate need not name, so it checks that the server presents the
// certificate on disk instead of checking names. It sends no credentials.
func pinnedTLS(certFile string) (*tls.Config, error) {
	raw, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("healthcheck: %w", err)
	}
	var leaf []byte
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		if block.Type == "CERTIFICATE" {
			leaf = block.Bytes
			break
		}
	}
	if leaf == nil {
		return nil, fmt.Errorf("healthcheck: %s holds no PEM certificate", certFile)
	}
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: true, // replaced by the pin below
		VerifyConnection: func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 || !bytes.Equal(cs.PeerCertificates[0].Raw, leaf) {
				return errors.New("the server's certificate is not the one in " + certFile)
			}
			return nil
		},
	}, nil
}
