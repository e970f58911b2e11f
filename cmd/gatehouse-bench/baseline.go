package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// The baseline's one client. The secret is fixed and public: the baseline
// is a yardstick on loopback, not a server to trust.
const (
	baselineClientID = "baseline-client"
	baselineSecret   = "baseline-secret-for-benchmarks-only"
	baselineLifetime = 10 * time.Minute
	maxFormBytes     = 64 << 10
)

// baseline is the least a client_credentials token endpoint can do while
// doing what Gatehouse does per token: parse the form and Basic
// credentials, compare SHA-256 digests of the secret in constant time,
// check scope and audience against the client, build the same RFC 9068
// claims and sign them with ES256, and answer with the same JSON and
// Cache-Control: no-store. It keeps no state per token, runs no
// framework, and has no storage; the gap between it and Gatehouse is what
// Gatehouse's layers cost.
type baseline struct {
	issuer    string
	digest    [sha256.Size]byte
	key       *ecdsa.PrivateKey
	header    string // base64url of the JOSE header
	scopes    []string
	audiences []string
	roles     []string
	now       func() time.Time
	// argon serves the password grant (baseline_password.go).
	argon *argonAlone
}

func newBaseline(issuer string, now func() time.Time) (*baseline, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	kid, err := thumbprint(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	h, err := json.Marshal(struct {
		Alg string `json:"alg"`
		Kid string `json:"kid"`
		Typ string `json:"typ"`
	}{"ES256", kid, "at+jwt"})
	if err != nil {
		return nil, err
	}
	return &baseline{
		issuer:    issuer,
		digest:    sha256.Sum256([]byte(baselineSecret)),
		key:       key,
		header:    base64.RawURLEncoding.EncodeToString(h),
		scopes:    []string{"read", "write"},
		audiences: []string{"api", "example-api"},
		roles:     []string{"service"},
		now:       now,
		argon:     newArgonAlone(),
	}, nil
}

// thumbprint is the RFC 7638 JWK thumbprint of a P-256 key, as Gatehouse
// uses for kid.
func thumbprint(pub *ecdsa.PublicKey) (string, error) {
	b, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		return "", err
	}
	enc := base64.RawURLEncoding.EncodeToString
	jwk := `{"crv":"P-256","kty":"EC","x":"` + enc(b[1:33]) + `","y":"` + enc(b[33:65]) + `"}`
	sum := sha256.Sum256([]byte(jwk))
	return enc(sum[:]), nil
}

// baselineClaims are the claims Gatehouse puts in a client_credentials
// access token (RFC 9068 section 2.2), in its key order.
type baselineClaims struct {
	Aud      []string `json:"aud"`
	ClientID string   `json:"client_id"`
	Exp      int64    `json:"exp"`
	Iat      int64    `json:"iat"`
	Iss      string   `json:"iss"`
	Jti      string   `json:"jti"`
	Nbf      int64    `json:"nbf"`
	Roles    []string `json:"roles"`
	Scope    string   `json:"scope"`
	Sub      string   `json:"sub"`
}

type baselineResponse struct {
	AccessToken string `json:"access_token"`
	ExpiresIn   int64  `json:"expires_in"`
	Scope       string `json:"scope"`
	TokenType   string `json:"token_type"`
}

// ServeHTTP serves POST /oauth2/token for client_credentials
// (RFC 6749 section 4.4) and, as argon2id alone, password (section 4.3),
// with client_secret_basic (section 2.3.1).
func (b *baseline) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/oauth2/token" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret, ok := basicCredentials(r)
	sum := sha256.Sum256([]byte(secret))
	if !ok || subtle.ConstantTimeCompare(sum[:], b.digest[:]) != 1 || id != baselineClientID {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	switch r.PostForm.Get("grant_type") {
	case "client_credentials":
	case "password":
		b.password(w, r, id)
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type")
		return
	}
	scopes := strings.Fields(r.PostForm.Get("scope"))
	if len(scopes) == 0 {
		scopes = b.scopes
	}
	aud := strings.Fields(r.PostForm.Get("audience"))
	if len(aud) == 0 {
		aud = b.audiences
	}
	if !subset(scopes, b.scopes) {
		oauthError(w, http.StatusBadRequest, "invalid_scope")
		return
	}
	if !subset(aud, b.audiences) {
		oauthError(w, http.StatusBadRequest, "invalid_target")
		return
	}
	b.issue(w, id, id, aud, b.roles, strings.Join(scopes, " "))
}

// issue signs an access token for sub and writes the token response.
func (b *baseline) issue(w http.ResponseWriter, clientID, sub string, aud, roles []string, scope string) {
	now := b.now()
	token, err := b.sign(baselineClaims{
		Aud: aud, ClientID: clientID, Exp: now.Add(baselineLifetime).Unix(), Iat: now.Unix(), Iss: b.issuer,
		Jti: uuid4(), Nbf: now.Unix(), Roles: roles, Scope: scope, Sub: sub,
	})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	body, err := json.Marshal(baselineResponse{AccessToken: token, ExpiresIn: int64(baselineLifetime / time.Second), Scope: scope, TokenType: "bearer"})
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.Write(body)
}

// basicCredentials returns the form-decoded Basic credentials
// (RFC 6749 section 2.3.1).
func basicCredentials(r *http.Request) (id, secret string, ok bool) {
	id, secret, ok = r.BasicAuth()
	if !ok {
		return "", "", false
	}
	id, err1 := url.QueryUnescape(id)
	secret, err2 := url.QueryUnescape(secret)
	return id, secret, err1 == nil && err2 == nil
}

func subset(want, have []string) bool {
	for _, s := range want {
		if !slices.Contains(have, s) {
			return false
		}
	}
	return true
}

// sign returns the compact JWS (RFC 7515) of claims under ES256
// (RFC 7518 section 3.4: r and s, 32 bytes each, concatenated).
func (b *baseline) sign(c baselineClaims) (string, error) {
	payload, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	input := b.header + "." + base64.RawURLEncoding.EncodeToString(payload)
	digest := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, b.key, digest[:])
	if err != nil {
		return "", err
	}
	var sig [64]byte
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + base64.RawURLEncoding.EncodeToString(sig[:]), nil
}

// uuid4 returns a random RFC 9562 version 4 UUID, as Gatehouse's jti.
func uuid4() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	var s [36]byte
	hex.Encode(s[0:8], u[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], u[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], u[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], u[8:10])
	s[23] = '-'
	hex.Encode(s[24:], u[10:])
	return string(s[:])
}

func oauthError(w http.ResponseWriter, code int, e string) {
	h := w.Header()
	h.Set("Content-Type", "application/json;charset=UTF-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	fmt.Fprintf(w, `{"error":%q}`, e)
}

// serveBaseline serves the baseline on ln until ctx is done, with the
// timeouts Gatehouse's server uses.
func serveBaseline(ctx context.Context, ln net.Listener, errLog io.Writer) error {
	b, err := newBaseline("http://"+ln.Addr().String(), time.Now)
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{
		Handler:           b,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      15 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          log.New(errLog, "baseline: ", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}
