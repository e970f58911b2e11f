package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// newTLSConfig serves certFile and keyFile with TLS 1.2 or later (RFC 9325
// section 3.1.1: no TLS 1.0 or 1.1) and, for TLS 1.2, only the
// forward-secret AEAD cipher suites of RFC 9325 section 4.2 (Go's defaults
// still include CBC ones; TLS 1.3 suites are not configurable and all
// AEAD). The pair is read now, so a bad file stops start-up, and again
// whenever either file changes.
func newTLSConfig(certFile, keyFile string, logger *slog.Logger) (*tls.Config, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, logger: logger}
	if err := r.load(); err != nil {
		return nil, err
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		GetCertificate: r.GetCertificate,
	}, nil
}

// certReloader hands out the certificate in certFile/keyFile, reloading it
// when either file changes: a different file (a rename into place, or a
// Kubernetes secret's symlink swap), a new modification time or a new
// size. The check is two stat calls per TLS handshake, which costs far less
// than the handshake itself, and needs no timer. A pair that does not load
// (a certificate written before its key, say) is logged once and the
// previous certificate stays in use until the files change again.
type certReloader struct {
	certFile, keyFile string
	logger            *slog.Logger

	mu                sync.Mutex
	cert              *tls.Certificate
	certStat, keyStat os.FileInfo
}

// load reads the pair; it replaces the served certificate only if the pair
// loads.
func (r *certReloader) load() error {
	certStat, err := os.Stat(r.certFile)
	if err != nil {
		return fmt.Errorf("tls certificate: %w", err)
	}
	keyStat, err := os.Stat(r.keyFile)
	if err != nil {
		return fmt.Errorf("tls key: %w", err)
	}
	r.certStat, r.keyStat = certStat, keyStat
	// LoadX509KeyPair's errors name no key material.
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("tls certificate %s with key %s: %w", r.certFile, r.keyFile, err)
	}
	leaf, err := x509.ParseCertificate(cert.Certificate[0])
	if err != nil {
		return fmt.Errorf("tls certificate %s: %w", r.certFile, err)
	}
	cert.Leaf = leaf
	r.cert = &cert
	r.logger.Info("tls certificate loaded", "file", r.certFile, "subject", leaf.Subject.String(),
		"dns_names", leaf.DNSNames, "not_after", leaf.NotAfter.UTC().Format(time.RFC3339))
	return nil
}

// GetCertificate is tls.Config.GetCertificate.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	certStat, err1 := os.Stat(r.certFile)
	keyStat, err2 := os.Stat(r.keyFile)
	if err1 == nil && err2 == nil && (changed(r.certStat, certStat) || changed(r.keyStat, keyStat)) {
		if err := r.load(); err != nil {
			r.logger.Warn("tls certificate not reloaded; serving the previous one", "err", err)
		}
	}
	return r.cert, nil
}

func changed(old, cur os.FileInfo) bool {
	return !os.SameFile(old, cur) || !old.ModTime().Equal(cur.ModTime()) || old.Size() != cur.Size()
}
