// Package ldaptest starts a throwaway OpenLDAP server (slapd) for tests, as
// storage/postgres/pgtest starts PostgreSQL: a generated slapd.conf and an
// mdb database in a temporary directory, loaded from an LDIF with slapadd,
// served on a free loopback port over plain LDAP and LDAPS (with a
// certificate made for the test, whose CA is Server.CA), and stopped when
// the test ends.
//
// It never skips: when slapd cannot start, the test fails and says what to
// install (Debian's slapd package; .ci/run installs it when missing).
package ldaptest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Names of the directory every Server holds.
const (
	Suffix = "dc=example,dc=org"
	RootDN = "cn=admin," + Suffix
	// ServiceDN and ServicePassword are a read-only service account for
	// searches; anonymous clients may only bind.
	ServiceDN       = "cn=reader,ou=services," + Suffix
	ServicePassword = "reader-secret"
	UserBase        = "ou=people," + Suffix
	GroupBase       = "ou=groups," + Suffix
)

const install = "install OpenLDAP's server and tools: DEBIAN_FRONTEND=noninteractive apt-get install -y slapd ldap-utils"

// Server is a running slapd.
type Server struct {
	// URL is ldap://127.0.0.1:PORT (StartTLS offered), LDAPSURL
	// ldaps://127.0.0.1:PORT2.
	URL, LDAPSURL string
	// RootPassword is RootDN's password.
	RootPassword string
	// CA verifies the server's certificate (for 127.0.0.1); CAPEM is
	// the same certificate in PEM.
	CA    *x509.CertPool
	CAPEM string

	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
}

// Start starts a slapd for t holding the base entries (the suffix,
// ou=people, ou=groups, ou=services with the service account) and the
// entries of ldif, and stops it when t ends.
func Start(t testing.TB, ldif string) *Server {
	t.Helper()
	s, err := start(t.TempDir(), ldif)
	if err != nil {
		t.Fatalf("ldaptest: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Errorf("ldaptest: %v", err)
		}
	})
	return s
}

func start(dir, ldif string) (*Server, error) {
	for _, bin := range []string{"slapd", "slapadd", "slappasswd"} {
		if _, err := lookPath(bin); err != nil {
			return nil, fmt.Errorf("%s not found: %s", bin, install)
		}
	}
	s := &Server{dir: dir, RootPassword: randomText()}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	s.URL = "ldap://127.0.0.1:" + strconv.Itoa(ports[0])
	s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(ports[1])
	if s.CA, s.CAPEM, err = writeCertificate(dir); err != nil {
		return nil, err
	}
	hash, err := run("", "slappasswd", "-s", s.RootPassword)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(slapdConf, dir, strings.TrimSpace(hash))
	if err := os.WriteFile(filepath.Join(dir, "slapd.conf"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	data := baseLDIF + "\n" + strings.TrimSpace(ldif) + "\n"
	if err := os.WriteFile(filepath.Join(dir, "data.ldif"), []byte(data), 0o600); err != nil {
		return nil, err
	}
	if _, err := run(dir, "slapadd", "-q", "-f", "slapd.conf", "-l", "data.ldif"); err != nil {
		return nil, err
	}
	return s, s.Start()
}

// Start starts slapd again after Stop, on the same ports with the same
// data, and waits until it answers.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return nil
	}
	slapd, _ := lookPath("slapd")
	cmd := exec.Command(slapd, "-d", "0", "-f", filepath.Join(s.dir, "slapd.conf"), "-h", s.URL+"/ "+s.LDAPSURL+"/")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start slapd: %w (%s)", err, install)
	}
	exit := make(chan struct{})
	go func() { cmd.Wait(); close(exit) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: time.Second}))
		if err == nil {
			_, err = conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"namingContexts"}, nil))
			conn.Close()
		}
		if err == nil {
			break
		}
		select {
		case <-exit:
			return fmt.Errorf("slapd exited at start: %s", tail(out.String()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			<-exit
			return fmt.Errorf("slapd did not answer within 10s: %v: %s", err, tail(out.String()))
		}
	}
	s.cmd, s.exit = cmd, exit
	return nil
}

// Stop stops slapd (SIGTERM, then SIGKILL after 5 s): clients see their
// connections end and new connections refused until Start.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	cmd, exit := s.cmd, s.exit
	s.cmd = nil
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exit:
		return nil
	case <-time.After(5 * time.Second):
	}
	cmd.Process.Kill()
	<-exit
	return errors.New("slapd did not stop within 5s; killed")
}

// Conn returns a connection bound as the root DN, for a test that
// changes the directory while it runs; it is closed when t ends.
func (s *Server) Conn(t testing.TB) *ldap.Conn {
	t.Helper()
	conn, err := ldap.DialURL(s.URL, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatalf("ldaptest: dial: %v", err)
	}
	conn.SetTimeout(10 * time.Second)
	t.Cleanup(func() { conn.Close() })
	if err := conn.Bind(RootDN, s.RootPassword); err != nil {
		t.Fatalf("ldaptest: root bind: %v", err)
	}
	return conn
}

// Delete deletes the entry dn.
func (s *Server) Delete(t testing.TB, dn string) {
	t.Helper()
	if err := s.Conn(t).Del(ldap.NewDelRequest(dn, nil)); err != nil {
		t.Fatalf("ldaptest: delete %s: %v", dn, err)
	}
}

// Modify applies op (ldap.AddAttribute, DeleteAttribute or
// ReplaceAttribute) of attr with values to the entry dn.
func (s *Server) Modify(t testing.TB, dn string, op uint, attr string, values ...string) {
	t.Helper()
	req := ldap.NewModifyRequest(dn, nil)
	req.Changes = append(req.Changes, ldap.Change{Operation: op,
		Modification: ldap.PartialAttribute{Type: attr, Vals: values}})
	if err := s.Conn(t).Modify(req); err != nil {
		t.Fatalf("ldaptest: modify %s: %v", dn, err)
	}
}

// The configuration: the schemas inetOrgPerson needs, one mdb database,
// TLS with the test's certificate, and access rules under which anonymous
// clients can only bind, users read (the service account searches), and
// passwords are never read.
const slapdConf = `include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
argsfile %[1]s/slapd.args
TLSCertificateFile %[1]s/server.crt
TLSCertificateKeyFile %[1]s/server.key
database mdb
maxsize 67108864
suffix "` + Suffix + `"
rootdn "` + RootDN + `"
rootpw %[2]s
directory %[1]s/db
access to attrs=userPassword
  by self write
  by anonymous auth
  by * none
access to *
  by users read
  by anonymous auth
`

const baseLDIF = `dn: ` + Suffix + `
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=people,` + Suffix + `
objectClass: organizationalUnit
ou: people

dn: ou=groups,` + Suffix + `
objectClass: organizationalUnit
ou: groups

dn: ou=services,` + Suffix + `
objectClass: organizationalUnit
ou: services

dn: ` + ServiceDN + `
objectClass: person
cn: reader
sn: reader
userPassword: ` + ServicePassword + `
`

// writeCertificate makes a CA and a server certificate for 127.0.0.1 in
// dir and returns the CA as a pool and in PEM.
func writeCertificate(dir string) (*x509.CertPool, string, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ldaptest CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, "", err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, "", err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, "", err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, "", err
	}
	crt := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(filepath.Join(dir, "server.crt"), crt, 0o600); err != nil {
		return nil, "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "server.key"), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, "", err
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})), nil
}

// TLSConfig is a client configuration that trusts the server's CA.
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.CA, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, int(netip.MustParseAddrPort(l.Addr().String()).Port()))
	}
	return ports, nil
}

// lookPath finds an OpenLDAP binary in PATH or /usr/sbin (not in a
// non-root PATH on Debian).
func lookPath(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", err
	}
	return p, nil
}

func run(dir, name string, args ...string) (string, error) {
	p, err := lookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: %s", name, install)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, p, args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w: %s", name, err, tail(stderr.String()))
	}
	return string(out), nil
}

func tail(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	return strings.TrimSpace(s)
}

func randomText() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}
