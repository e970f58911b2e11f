package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/admin"
)

// TestConnectorOIDCKeepsUpstreamRefresh: a later login whose upstream
// answer carries no refresh token keeps the one stored on the link (a
// refresh re-reads the user with it).
func TestConnectorOIDCKeepsUpstreamRefresh(t *testing.T) {
	cs := newConnectorSetup(t, admin.ConnectorParams{Provision: true})
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-devs")
	cs.signIn(t, "alice")
	link, err := cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-alice")
	if err != nil || len(link.RefreshTokenEnc) == 0 {
		t.Fatalf("link %+v, %v; want the upstream refresh token stored", link, err)
	}
	cs.up.dropRefresh.Store(true)
	tok := cs.signIn(t, "alice")
	cs.up.dropRefresh.Store(false)
	link, err = cs.ts.app.store.GetIdentityLink(context.Background(), "corp", "up-alice")
	if err != nil || len(link.RefreshTokenEnc) == 0 {
		t.Fatalf("after a login without an upstream refresh token: link %+v, %v; want the stored one kept", link, err)
	}
	if status, body := cs.refresh(t, tok.RefreshToken); status != 200 {
		t.Fatalf("refresh: %d %v; want 200 through the kept upstream refresh token", status, body)
	}
}

// TestConnectorOIDCReauth: a client's prompt=login and max_age reach the
// upstream provider (OIDC Core 1.0 section 3.1.2.1), the login's auth_time
// is the upstream's, and an upstream auth_time too old for them (an
// upstream single sign-on session answering silently) is refused instead
// of issued as a fresh login.
func TestConnectorOIDCReauth(t *testing.T) {
	cs := newConnectorSetup(t, admin.ConnectorParams{Provision: true})
	cs.up.setUser("up-alice", "alice", "alice@corp.example", true, "idp-devs")
	var seen atomic.Value // url.Values of the last upstream authorization request
	cs.up.serve(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/authorize" {
			seen.Store(r.URL.Query())
		}
		cs.up.handler.ServeHTTP(w, r)
	}))
	login := func(opts ...oauth2.AuthCodeOption) (*http.Response, string, string) {
		t.Helper()
		cs.up.login.Store("alice")
		b := newUpstreamBrowser(t)
		authURL, _, _, verifier := cs.rp.start(opts...)
		_, page := b.get(authURL)
		form := formFields(page)
		form.Set("connector", "corp")
		resp, page := b.post(b.base(authURL), form)
		cb, err := resp.Location()
		if err != nil || !strings.HasPrefix(cb.Path, "/login/connectors/") {
			t.Fatalf("sign in with corp: %d %v:\n%s", resp.StatusCode, err, page)
		}
		resp, page = finish(b, cb)
		return resp, page, verifier
	}

	resp, page, verifier := login(oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "60"))
	q, _ := seen.Load().(url.Values)
	if q.Get("prompt") != "login" || q.Get("max_age") != "60" {
		t.Fatalf("upstream authorization request %v; want prompt=login and max_age=60 forwarded", q)
	}
	loc, err := resp.Location()
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("fresh upstream login: %d, no code:\n%s", resp.StatusCode, page)
	}
	tok, err := cs.rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("code exchange: %v", err)
	}
	_, idt := jwtParts(t, tok.Extra("id_token").(string))
	if at, _ := idt["auth_time"].(float64); time.Since(time.Unix(int64(at), 0)) > time.Minute {
		t.Fatalf("auth_time %v; want the upstream login's", idt["auth_time"])
	}

	// Gatehouse's clock runs 3 minutes ahead: the upstream's auth_time is
	// now older than the request, as from an earlier upstream session.
	cs.ts.advance(3 * time.Minute)
	for _, opt := range []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "60")} {
		resp, page, _ := login(opt)
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(page, "did not sign you in again") {
			t.Fatalf("stale upstream auth_time: %d; want 403 on the login page:\n%s", resp.StatusCode, page)
		}
	}
	// Without either, the login goes through (the code is not redeemed:
	// the store's clock is ahead of the code's expiry).
	resp, page, _ = login()
	if loc, err := resp.Location(); err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("login without prompt or max_age: %d, no code:\n%s", resp.StatusCode, page)
	}
}
