package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// writeCert writes a fresh self-signed certificate for 127.0.0.1 and
// localhost with the given serial to dir/cert.pem and dir/key.pem, each
// renamed into place as certificate managers do, and returns it.
func writeCert(t *testing.T, dir string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "gatehouse test"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	put := func(name, typ string, b []byte) {
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	put("key.pem", "PRIVATE KEY", keyDER)
	put("cert.pem", "CERTIFICATE", der)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsClient trusts only root and allows at most maxVersion (0: any) and
// only the given TLS 1.2 cipher suites (none: Go's defaults).
func tlsClient(root *x509.Certificate, maxVersion uint16, suites ...uint16) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MaxVersion: maxVersion, CipherSuites: suites},
	}}
}

// TestTLS serves both listeners with a generated certificate and talks to
// them with real clients: x/oauth2 gets a token over TLS 1.2+, a TLS 1.1
// client is refused, a renewed certificate is served without a restart, a
// broken one is not, and the healthcheck command pins the served one.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	first := writeCert(t, dir, 1)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	environ := []string{
		"GATEHOUSE_LOG_FORMAT=json",
		"GATEHOUSE_ARGON2_MEMORY_KIB=8192", "GATEHOUSE_ARGON2_ITERATIONS=1",
		"GATEHOUSE_TLS_CERT=" + certFile, "GATEHOUSE_TLS_KEY=" + keyFile,
	}
	rs := startServe(t, environ, 2, "--dev", "--addr", "127.0.0.1:0", "--admin-addr", "localhost:0", "--issuer", "https://localhost")
	public, adminAddr := "https://"+rs.addrs["token service"], "https://"+rs.addrs["admin API"]
	demo := keyValues(rs.stdout.String())

	// A real OAuth client over TLS.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, tlsClient(first, 0))
	cc := clientcredentials.Config{ClientID: demo["client_id"], ClientSecret: demo["client_secret"], TokenURL: public + "/oauth2/token"}
	tok, err := cc.Token(ctx)
	if err != nil || tok.AccessToken == "" {
		t.Fatalf("client_credentials over TLS: %v", err)
	}

	get := func(c *http.Client, url string) (*http.Response, error) {
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
		}
		return resp, err
	}
	for _, url := range []string{public + livezPath, adminAddr + "/admin/v1/openapi.json"} {
		resp, err := get(tlsClient(first, 0), url)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET %s over TLS: %v %v", url, resp, err)
		}
		if resp.TLS.Version < tls.VersionTLS12 || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 1 {
			t.Errorf("GET %s: TLS version %x, serial %v; want >= 1.2 and the first certificate", url, resp.TLS.Version, resp.TLS.PeerCertificates[0].SerialNumber)
		}
		if _, err := get(tlsClient(first, tls.VersionTLS11), url); err == nil {
			t.Errorf("GET %s with TLS 1.1 succeeded; want a refused handshake", url)
		}
		if _, err := get(tlsClient(first, tls.VersionTLS12, tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA), url); err == nil {
			t.Errorf("GET %s with TLS 1.2 and a CBC cipher suite succeeded; want a refused handshake", url)
		}
		if resp, err := get(tlsClient(first, tls.VersionTLS12), url); err != nil || resp.TLS.Version != tls.VersionTLS12 {
			t.Errorf("GET %s with TLS 1.2: %v; want it served", url, err)
		}
		if resp, err := get(&http.Client{Timeout: 10 * time.Second}, strings.Replace(url, "https://", "http://", 1)); err == nil && resp.StatusCode == 200 {
			t.Errorf("GET %s over plain HTTP answered 200", url)
		}
	}
	healthcheck := func(env []string) error {
		return run(context.Background(), []string{"healthcheck", "--url", public, "--live"}, env, nil, &syncBuffer{}, &syncBuffer{})
	}
	if err := healthcheck(environ); err != nil {
		t.Errorf("healthcheck over TLS pinned to the served certificate: %v", err)
	}

	// Renewal: the next handshake serves the new certificate, on both
	// listeners, without a restart.
	second := writeCert(t, dir, 2)
	for _, url := range []string{public + livezPath, adminAddr + "/admin/v1/openapi.json"} {
		resp, err := get(tlsClient(second, 0), url)
		if err != nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
			t.Fatalf("GET %s after renewal: %v %v; want the second certificate", url, resp, err)
		}
	}
	if err := healthcheck(environ); err != nil {
		t.Errorf("healthcheck after renewal: %v", err)
	}
	otherDir := t.TempDir()
	writeCert(t, otherDir, 3)
	if err := healthcheck([]string{"GATEHOUSE_TLS_CERT=" + filepath.Join(otherDir, "cert.pem"), "GATEHOUSE_TLS_KEY=" + keyFile}); err == nil {
		t.Error("healthcheck pinned to another certificate succeeded")
	}

	// A broken file is not served: the previous certificate stays.
	if err := os.WriteFile(certFile, []byte("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := get(tlsClient(second, 0), public+livezPath)
	if err != nil || resp.TLS.PeerCertificates[0].SerialNumber.Int64() != 2 {
		t.Fatalf("GET after a broken certificate file: %v %v; want the second certificate still", resp, err)
	}
	if !strings.Contains(rs.stderr.String(), "tls certificate not reloaded") {
		t.Error("a broken certificate file was not logged")
	}
}
