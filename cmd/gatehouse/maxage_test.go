package main

import (
	"context"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// TestLoginWithMaxAge: an authorization request with max_age (OIDC Core
// 1.0 section 3.1.2.1), or prompt=login, answered by a password login
// gets a code and an ID token with auth_time; fosite had answered every
// max_age with server_error (its request time was left zero).
func TestLoginWithMaxAge(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	secret := ts.addClient(t, storage.Client{ID: "webapp", Name: "Web App", GrantTypes: []string{"authorization_code", "refresh_token"},
		Scopes: []string{"openid", "profile", "offline_access"}, RedirectURIs: []string{"http://127.0.0.1/callback"}})
	ts.addUser(t, "u-1", "dora", "pw-dora-12345")
	rp := newRP(t, ts, "webapp", secret)
	for _, params := range [][]oauth2.AuthCodeOption{
		{oauth2.SetAuthURLParam("max_age", "60")},
		{oauth2.SetAuthURLParam("prompt", "login")},
		{oauth2.SetAuthURLParam("prompt", "login"), oauth2.SetAuthURLParam("max_age", "0")},
	} {
		authURL, _, _, verifier := rp.start(params...)
		loc := loginPage(t, newBrowser(t), authURL, "dora", "pw-dora-12345")
		if loc.Query().Get("code") == "" {
			t.Fatalf("%s: no code: %v", authURL, loc)
		}
		tok, err := rp.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("%s: code exchange: %v", authURL, err)
		}
		_, idt := jwtParts(t, tok.Extra("id_token").(string))
		if at, _ := idt["auth_time"].(float64); at == 0 {
			t.Fatalf("ID token %v; want auth_time", idt)
		}
	}
}
