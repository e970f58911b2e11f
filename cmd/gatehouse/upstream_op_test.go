package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-jose/go-jose/v4"
	zstorage "github.com/zitadel/oidc/v3/example/server/storage"
	zoidc "github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// upstreamOP is zitadel/oidc's OpenID provider (pkg/op) with its example
// storage, run in-process on a loopback http listener: an upstream
// identity provider nobody here wrote. Its users and their groups change
// while a test runs; its login step signs in the user the test chose; and
// it can be told to lie, by re-signing its ID tokens with another key.
type upstreamOP struct {
	*httptest.Server
	st    *upstreamStorage
	login atomic.Value // string: the username the next login signs in
	// handler is the provider's handler (tests swap Config.Handler).
	handler http.Handler
	swap    atomic.Pointer[http.Handler] // replaces handler while set
	// forge replaces the ID token of every token response with the same
	// claims signed by a key that is not the provider's.
	forge atomic.Bool
	// replay answers every token request with the ID token of the first
	// one seen while it is set (a genuine token of another login).
	replay   atomic.Bool
	replayed atomic.Value // string
	// dropRefresh removes the refresh token from every token response.
	dropRefresh atomic.Bool
}

// upstreamUsers is a mutable zstorage.UserStore.
type upstreamUsers struct {
	mu     sync.Mutex
	users  map[string]*zstorage.User
	groups map[string][]string
}

func (u *upstreamUsers) GetUserByID(id string) *zstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.users[id]
}

func (u *upstreamUsers) GetUserByUsername(name string) *zstorage.User {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, x := range u.users {
		if x.Username == name {
			return x
		}
	}
	return nil
}

func (u *upstreamUsers) ExampleClientID() string { return "" }

// upstreamStorage is the example storage with the user's groups added to
// ID tokens and userinfo (as Okta's "groups" claim), and refresh refused
// for a user removed upstream, as a real provider refuses it.
type upstreamStorage struct {
	*zstorage.Storage
	users *upstreamUsers
}

func (s *upstreamStorage) addGroups(ui *zoidc.UserInfo, userID string) {
	s.users.mu.Lock()
	g := s.users.groups[userID]
	s.users.mu.Unlock()
	if g != nil {
		ui.AppendClaims("groups", g)
	}
}

func (s *upstreamStorage) SetUserinfoFromRequest(ctx context.Context, ui *zoidc.UserInfo, r op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, ui, r, scopes); err != nil {
		return err
	}
	s.addGroups(ui, r.GetSubject())
	return nil
}

func (s *upstreamStorage) SetUserinfoFromToken(ctx context.Context, ui *zoidc.UserInfo, tokenID, subject, origin string) error {
	if err := s.Storage.SetUserinfoFromToken(ctx, ui, tokenID, subject, origin); err != nil {
		return err
	}
	s.addGroups(ui, subject)
	return nil
}

func (s *upstreamStorage) TokenRequestByRefreshToken(ctx context.Context, rt string) (op.RefreshTokenRequest, error) {
	r, err := s.Storage.TokenRequestByRefreshToken(ctx, rt)
	if err == nil && s.users.GetUserByID(r.GetSubject()) == nil {
		return nil, errors.New("user removed")
	}
	return r, err
}

// current is the handler serving now: the provider, or what a test put
// in its place.
func (o *upstreamOP) current() http.Handler {
	if h := o.swap.Load(); h != nil {
		return *h
	}
	return o.handler
}

// serve makes h serve in the provider's place; nil restores the provider.
func (o *upstreamOP) serve(h http.Handler) {
	if h == nil {
		o.swap.Store(nil)
		return
	}
	o.swap.Store(&h)
}

// setUser adds or replaces an upstream user and its groups.
func (o *upstreamOP) setUser(id, username, email string, verified bool, groups ...string) {
	o.st.users.mu.Lock()
	defer o.st.users.mu.Unlock()
	o.st.users.users[id] = &zstorage.User{ID: id, Username: username, Password: "upstream-pw", FirstName: "First", LastName: id,
		Email: email, EmailVerified: verified}
	o.st.users.groups[id] = groups
}

// removeUser deletes an upstream user.
func (o *upstreamOP) removeUser(id string) {
	o.st.users.mu.Lock()
	defer o.st.users.mu.Unlock()
	delete(o.st.users.users, id)
}

// startUpstreamOP runs the provider with one web client, clientID with
// secret, whose redirect URI is redirectURI.
func startUpstreamOP(t *testing.T, clientID, secret, redirectURI string) *upstreamOP {
	t.Helper()
	users := &upstreamUsers{users: map[string]*zstorage.User{}, groups: map[string][]string{}}
	st := &upstreamStorage{Storage: zstorage.NewStorageWithClients(users,
		map[string]*zstorage.Client{clientID: zstorage.WebClient(clientID, secret, redirectURI)}), users: users}
	o := &upstreamOP{st: st}
	o.Server = httptest.NewUnstartedServer(nil)
	issuer := "http://" + o.Listener.Addr().String()
	p, err := op.NewProvider(&op.Config{CryptoKey: sha256.Sum256([]byte("upstream test")), CodeMethodS256: true,
		GrantTypeRefreshToken: true}, st, op.StaticIssuer(issuer), op.WithAllowInsecure(), op.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("op.NewProvider: %v", err)
	}
	mux := http.NewServeMux()
	// The provider's login step (the example client's login URL): it signs
	// in the user the test chose, then resumes the authorization request.
	mux.HandleFunc("/login/username", func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("authRequestID")
		name, _ := o.login.Load().(string)
		if err := st.CheckUsernamePassword(name, "upstream-pw", id); err != nil {
			http.Error(w, "login failed", http.StatusForbidden)
			return
		}
		http.Redirect(w, r, issuer+"/authorize/callback?id="+id, http.StatusFound)
	})
	mux.Handle("/oauth/token", o.forger(p))
	mux.Handle("/", p)
	o.handler = mux
	o.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { o.current().ServeHTTP(w, r) })
	o.Start()
	t.Cleanup(o.Close)
	return o
}

// forger passes token responses through, re-signing their ID token with
// a fresh key under the provider's kid when o.forge is set.
func (o *upstreamOP) forger(next http.Handler) http.Handler {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.forge.Load() && !o.replay.Load() && !o.dropRefresh.Load() {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		var body map[string]any
		if json.Unmarshal(rec.Body.Bytes(), &body) == nil {
			if _, ok := body["refresh_token"]; ok && o.dropRefresh.Load() {
				delete(body, "refresh_token")
				b, _ := json.Marshal(body)
				rec.Body = bytes.NewBuffer(b)
			}
			if idt, ok := body["id_token"].(string); ok && o.replay.Load() {
				o.replayed.CompareAndSwap(nil, idt)
				body["id_token"] = o.replayed.Load()
				b, _ := json.Marshal(body)
				rec.Body = bytes.NewBuffer(b)
			} else if ok && o.forge.Load() {
				parts := strings.Split(idt, ".")
				hdr, _ := base64.RawURLEncoding.DecodeString(parts[0])
				payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
				var h struct {
					Kid string `json:"kid"`
				}
				json.Unmarshal(hdr, &h)
				signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
					(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", h.Kid))
				jws, _ := signer.Sign(payload)
				body["id_token"], _ = jws.CompactSerialize()
				b, _ := json.Marshal(body)
				rec.Body = bytes.NewBuffer(b)
			}
		}
		for k, v := range rec.Header() {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())
	})
}
