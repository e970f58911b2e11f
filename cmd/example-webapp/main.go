// Command example-webapp is a relying party that logs users in through
// Gatehouse with the authorization code flow, PKCE (S256), state and nonce,
// built on golang.org/x/oauth2 and github.com/coreos/go-oidc/v3: it shows
// who is signed in (ID token and userinfo), refreshes the tokens, and signs
// out through Gatehouse's end_session_endpoint.
//
//	go run ./cmd/gatehouse serve      # prints public_client_id=... and redirect_uri=...
//	go run ./cmd/example-webapp --issuer http://127.0.0.1:8080 --client-id PUBLIC_CLIENT_ID --addr 127.0.0.1:9090
//
// then open http://127.0.0.1:9090/. The redirect URI is
// http://127.0.0.1:PORT/callback; Gatehouse matches any port of a loopback
// redirect URI (RFC 8252 section 7.3).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "example-webapp:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("example-webapp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	issuer := fs.String("issuer", "http://127.0.0.1:8080", "Gatehouse's issuer URL")
	clientID := fs.String("client-id", "", "the client id registered at Gatehouse (required)")
	clientSecret := fs.String("client-secret", "", "its secret; empty for a public client")
	addr := fs.String("addr", "127.0.0.1:9090", "listen address (loopback)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: example-webapp --issuer URL --client-id ID [--client-secret S] [--addr HOST:PORT]\n\n"+
			"A web app that signs users in through Gatehouse (authorization code + PKCE + OpenID Connect).\n\n"+
			"Example:\n  example-webapp --issuer http://127.0.0.1:8080 --client-id c-abc123 --addr 127.0.0.1:9090\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *clientID == "" {
		return errors.New("--client-id is required")
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	app, err := newApp(ctx, *issuer, *clientID, *clientSecret, "http://"+ln.Addr().String()+"/callback")
	if err != nil {
		ln.Close()
		return err
	}
	srv := &http.Server{Handler: app.routes(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "example-webapp: open http://%s/\n", ln.Addr())
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// webapp is the relying party.
type webapp struct {
	conf      *oauth2.Config
	provider  *oidc.Provider
	verifier  *oidc.IDTokenVerifier
	endLogout string

	mu sync.Mutex
	// flows holds each pending login's state, nonce and PKCE verifier,
	// by state; sessions each signed-in browser's tokens, by cookie. A
	// real app keeps them in its session store.
	flows    map[string]flow
	sessions map[string]*signedIn
}

type flow struct{ nonce, verifier string }

type signedIn struct {
	token   *oauth2.Token
	idToken string
	subject string
	name    string
}

func newApp(ctx context.Context, issuer, clientID, secret, redirectURL string) (*webapp, error) {
	provider, err := oidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", issuer, err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
	}
	provider.Claims(&meta)
	endpoint := provider.Endpoint()
	if secret == "" {
		endpoint.AuthStyle = oauth2.AuthStyleInParams // a public client sends only its id
	}
	return &webapp{
		provider: provider, endLogout: meta.EndSession,
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
		conf: &oauth2.Config{ClientID: clientID, ClientSecret: secret, Endpoint: endpoint, RedirectURL: redirectURL,
			Scopes: []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}},
		flows: map[string]flow{}, sessions: map[string]*signedIn{},
	}, nil
}

func (a *webapp) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.home)
	mux.HandleFunc("POST /login", a.login)
	mux.HandleFunc("GET /callback", a.callback)
	mux.HandleFunc("POST /refresh", a.refresh)
	mux.HandleFunc("POST /logout", a.logout)
	return mux
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Example web app</title></head><body><main>
<h1>Example web app</h1>
{{if .Error}}<p role="alert" id="error">{{.Error}}</p>{{end}}
{{if .User}}<p id="who">Signed in as <strong>{{.User.subject}}</strong>{{if .User.name}} ({{.User.name}}){{end}}.</p>
<p id="expiry">Access token expires at {{.User.token.Expiry.Format "15:04:05"}}.</p>
<form method="post" action="/refresh"><button id="refresh" type="submit">Refresh tokens</button></form>
<form method="post" action="/logout"><button id="logout" type="submit">Sign out</button></form>
{{else}}<p id="who">Not signed in.</p>
<form method="post" action="/login"><button id="login" type="submit">Sign in with Gatehouse</button></form>{{end}}
</main></body></html>`))

func (a *webapp) render(w http.ResponseWriter, status int, user *signedIn, problem string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	data := struct {
		User  map[string]any
		Error string
	}{Error: problem}
	if user != nil {
		data.User = map[string]any{"subject": user.subject, "name": user.name, "token": user.token}
	}
	page.Execute(w, data)
}

func (a *webapp) current(r *http.Request) *signedIn {
	ck, err := r.Cookie("webapp_session")
	if err != nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions[ck.Value]
}

func (a *webapp) home(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, a.current(r), "")
}

// login starts the code flow: state, nonce and PKCE verifier are new and
// kept for the callback.
func (a *webapp) login(w http.ResponseWriter, r *http.Request) {
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	a.mu.Lock()
	a.flows[state] = flow{nonce: nonce, verifier: verifier}
	a.mu.Unlock()
	http.Redirect(w, r, a.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusSeeOther)
}

// callback checks state and iss, exchanges the code with the verifier,
// verifies the ID token and its nonce and at_hash, and reads userinfo.
func (a *webapp) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.mu.Lock()
	f, ok := a.flows[q.Get("state")]
	delete(a.flows, q.Get("state"))
	a.mu.Unlock()
	switch {
	case !ok:
		a.render(w, http.StatusBadRequest, nil, "Unknown or reused state.")
		return
	case q.Get("error") != "":
		a.render(w, http.StatusBadRequest, nil, "Sign-in failed: "+q.Get("error")+" "+q.Get("error_description"))
		return
	case q.Get("iss") != "" && q.Get("iss") != a.issuer():
		a.render(w, http.StatusBadRequest, nil, "The response came from another issuer (RFC 9207).")
		return
	}
	ctx := r.Context()
	tok, err := a.conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.verifier))
	if err != nil {
		a.render(w, http.StatusBadRequest, nil, "Code exchange failed: "+err.Error())
		return
	}
	user, err := a.signIn(ctx, tok, f.nonce)
	if err != nil {
		a.render(w, http.StatusBadRequest, nil, err.Error())
		return
	}
	id := random()
	a.mu.Lock()
	a.sessions[id] = user
	a.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "webapp_session", Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

func (a *webapp) issuer() string {
	var m struct {
		Issuer string `json:"issuer"`
	}
	a.provider.Claims(&m)
	return m.Issuer
}

// signIn verifies tok's ID token (nonce when given) and reads userinfo.
func (a *webapp) signIn(ctx context.Context, tok *oauth2.Token, nonce string) (*signedIn, error) {
	raw, _ := tok.Extra("id_token").(string)
	idt, err := a.verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("ID token rejected: %w", err)
	}
	if nonce != "" && idt.Nonce != nonce {
		return nil, errors.New("ID token nonce mismatch")
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		return nil, fmt.Errorf("at_hash mismatch: %w", err)
	}
	info, err := a.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	var claims struct {
		Name string `json:"name"`
	}
	info.Claims(&claims)
	if info.Subject != idt.Subject {
		return nil, errors.New("userinfo names another user than the ID token")
	}
	return &signedIn{token: tok, idToken: raw, subject: idt.Subject, name: claims.Name}, nil
}

// refresh uses the refresh token, which Gatehouse rotates.
func (a *webapp) refresh(w http.ResponseWriter, r *http.Request) {
	user := a.current(r)
	if user == nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	expired := *user.token
	expired.Expiry = time.Now().Add(-time.Minute)
	tok, err := a.conf.TokenSource(r.Context(), &expired).Token()
	if err != nil {
		a.render(w, http.StatusBadRequest, user, "Refresh failed: "+err.Error())
		return
	}
	next, err := a.signIn(r.Context(), tok, "")
	if err != nil {
		a.render(w, http.StatusBadRequest, user, err.Error())
		return
	}
	a.mu.Lock()
	*user = *next
	a.mu.Unlock()
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout forgets the local session and sends the browser to Gatehouse's
// end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0).
func (a *webapp) logout(w http.ResponseWriter, r *http.Request) {
	user := a.current(r)
	if ck, err := r.Cookie("webapp_session"); err == nil {
		a.mu.Lock()
		delete(a.sessions, ck.Value)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "webapp_session", Value: "", Path: "/", MaxAge: -1})
	if user == nil || a.endLogout == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	back, _ := url.Parse(a.conf.RedirectURL)
	back.Path = "/"
	u := a.endLogout + "?" + url.Values{"id_token_hint": {user.idToken}, "post_logout_redirect_uri": {back.String()},
		"client_id": {a.conf.ClientID}}.Encode()
	http.Redirect(w, r, u, http.StatusSeeOther)
}

func random() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
