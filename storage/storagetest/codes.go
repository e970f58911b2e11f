package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// codeRaces is how many codes the invalidation race test redeems at once,
// and codeRacers how many goroutines redeem each.
const (
	codeRaces  = 50
	codeRacers = 8
)

// testClientDefaults: a client stored without the browser fields (as every
// client before them was) is confidential, first-party, with no redirect
// URI, post-logout URI or web origin.
func testClientDefaults(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleClient("client-old")
	c.RedirectURIs, c.PostLogoutRedirectURIs, c.WebOrigins, c.Public, c.ThirdParty = nil, nil, nil, false, false
	mustNil(t, "CreateClient", s.CreateClient(ctx, c))
	got, err := s.GetClient(ctx, c.ID)
	mustNil(t, "GetClient", err)
	if got.Public || got.ThirdParty || len(got.RedirectURIs) != 0 || len(got.PostLogoutRedirectURIs) != 0 || len(got.WebOrigins) != 0 {
		t.Fatalf("GetClient = %+v; want confidential, first-party, no URIs", got)
	}
	mustNil(t, "UpdateClient", s.UpdateClient(ctx, c.ID, func(c storage.Client) (storage.Client, error) {
		c.RedirectURIs = []string{"https://app.example/cb"}
		c.Public = true
		return c, nil
	}))
	got, _ = s.GetClient(ctx, c.ID)
	if !got.Public || got.ThirdParty || !slices.Equal(got.RedirectURIs, []string{"https://app.example/cb"}) {
		t.Fatalf("after UpdateClient: %+v; want public with one redirect URI", got)
	}
}

// sampleCode is an active code of client-1 for user-1 issued now with the
// usual 60-second lifetime.
func sampleCode(name string) storage.AuthorizationCode {
	t := now()
	return storage.AuthorizationCode{
		Digest:              digest("code-signature-" + name),
		RequestID:           "req-" + name,
		ClientID:            "client-1",
		Subject:             "user-1",
		RequestedScopes:     []string{"openid", "profile", "offline_access"},
		GrantedScopes:       []string{"openid", "offline_access"},
		RequestedAudiences:  []string{"api", "other"},
		GrantedAudiences:    []string{"api"},
		RedirectURI:         "https://app.example/cb",
		CodeChallenge:       "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", // RFC 7636 appendix B
		CodeChallengeMethod: "S256",
		Nonce:               "n-0S6_WzA2Mj",
		AuthTime:            t.Add(-time.Minute),
		RequestedAt:         t.Add(-2 * time.Minute),
		ExpiresAt:           t.Add(time.Minute),
		LoginSessionID:      "sid-1",
		Session:             []byte(`{"id_token_claims":{"sub":"user-1"}}`),
		Active:              true,
	}
}

func equalCode(a, b storage.AuthorizationCode) bool {
	return bytes.Equal(a.Digest, b.Digest) && a.RequestID == b.RequestID && a.ClientID == b.ClientID &&
		a.Subject == b.Subject && slices.Equal(a.RequestedScopes, b.RequestedScopes) &&
		slices.Equal(a.GrantedScopes, b.GrantedScopes) && slices.Equal(a.RequestedAudiences, b.RequestedAudiences) &&
		slices.Equal(a.GrantedAudiences, b.GrantedAudiences) && a.RedirectURI == b.RedirectURI &&
		a.CodeChallenge == b.CodeChallenge && a.CodeChallengeMethod == b.CodeChallengeMethod && a.Nonce == b.Nonce &&
		a.AuthTime.Equal(b.AuthTime) && a.RequestedAt.Equal(b.RequestedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		bytes.Equal(a.Session, b.Session) && a.Active == b.Active && a.LoginSessionID == b.LoginSessionID
}

// testAuthorizationCode checks create, get, invalidate and reuse: a
// redeemed code stays readable, with ErrInvalidatedCode, so that its reuse
// revokes what it issued (RFC 6749 section 4.1.2).
func testAuthorizationCode(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleCode("1")
	mustNil(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, c))
	wantErr(t, "CreateAuthorizationCode(same digest)", s.CreateAuthorizationCode(ctx, c), storage.ErrAlreadyExists)
	_, err := s.GetAuthorizationCode(ctx, digest("unknown"))
	wantErr(t, "GetAuthorizationCode(unknown)", err, storage.ErrNotFound)
	if errors.Is(err, storage.ErrInvalidatedCode) {
		t.Fatalf("GetAuthorizationCode(unknown) = %v; it must not read as a reused code", err)
	}

	got, err := s.GetAuthorizationCode(ctx, c.Digest)
	mustNil(t, "GetAuthorizationCode", err)
	if !equalCode(got, c) {
		t.Fatalf("GetAuthorizationCode = %+v; want %+v", got, c)
	}
	got.GrantedScopes[0] = "mutated"
	if again, _ := s.GetAuthorizationCode(ctx, c.Digest); again.GrantedScopes[0] != "openid" {
		t.Fatalf("GetAuthorizationCode returned shared memory: granted scopes %v", again.GrantedScopes)
	}

	// A code without the optional fields reads back with them empty.
	bare := storage.AuthorizationCode{Digest: digest("bare"), RequestID: "req-bare", ClientID: "client-1",
		Subject: "user-1", RequestedAt: now(), ExpiresAt: now().Add(time.Minute), Active: true}
	mustNil(t, "CreateAuthorizationCode(bare)", s.CreateAuthorizationCode(ctx, bare))
	if got, err := s.GetAuthorizationCode(ctx, bare.Digest); err != nil || !equalCode(got, bare) || !got.AuthTime.IsZero() {
		t.Fatalf("GetAuthorizationCode(bare) = %+v, %v; want %+v", got, err, bare)
	}

	wantErr(t, "InvalidateAuthorizationCode(unknown)", s.InvalidateAuthorizationCode(ctx, digest("unknown")), storage.ErrNotFound)
	mustNil(t, "InvalidateAuthorizationCode", s.InvalidateAuthorizationCode(ctx, c.Digest))
	wantErr(t, "InvalidateAuthorizationCode(again)", s.InvalidateAuthorizationCode(ctx, c.Digest), storage.ErrNotFound)

	got, err = s.GetAuthorizationCode(ctx, c.Digest)
	wantErr(t, "GetAuthorizationCode(invalidated)", err, storage.ErrInvalidatedCode)
	if errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("GetAuthorizationCode(invalidated) = %v; want only ErrInvalidatedCode", err)
	}
	want := c
	want.Active = false
	if !equalCode(got, want) {
		t.Fatalf("GetAuthorizationCode(invalidated) = %+v; want the stored request %+v", got, want)
	}
	// The other code is untouched.
	if _, err := s.GetAuthorizationCode(ctx, bare.Digest); err != nil {
		t.Fatalf("GetAuthorizationCode(other code) = %v; want it active", err)
	}
}

// testAuthorizationCodeTx: fosite invalidates a code and stores the tokens
// in one transaction; a rollback makes the code redeemable again, a commit
// keeps it invalidated.
func testAuthorizationCodeTx(t *testing.T, s storage.Store) {
	ctx := context.Background()
	c := sampleCode("1")
	mustNil(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, c))

	txCtx, err := s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "InvalidateAuthorizationCode(tx)", s.InvalidateAuthorizationCode(txCtx, c.Digest))
	created := sampleCode("2")
	mustNil(t, "CreateAuthorizationCode(tx)", s.CreateAuthorizationCode(txCtx, created))
	mustNil(t, "Rollback", s.Rollback(txCtx))
	if _, err := s.GetAuthorizationCode(ctx, c.Digest); err != nil {
		t.Fatalf("GetAuthorizationCode after a rolled-back invalidation = %v; want active", err)
	}
	_, err = s.GetAuthorizationCode(ctx, created.Digest)
	wantErr(t, "GetAuthorizationCode(created in rolled-back tx)", err, storage.ErrNotFound)

	txCtx, err = s.BeginTX(ctx)
	mustNil(t, "BeginTX", err)
	mustNil(t, "InvalidateAuthorizationCode(tx)", s.InvalidateAuthorizationCode(txCtx, c.Digest))
	mustNil(t, "Commit", s.Commit(txCtx))
	_, err = s.GetAuthorizationCode(ctx, c.Digest)
	wantErr(t, "GetAuthorizationCode after a committed invalidation", err, storage.ErrInvalidatedCode)
}

func testAuthorizationCodeExpiry(t *testing.T, s storage.Store) {
	ctx := context.Background()
	base := now()
	for i, d := range []time.Duration{-3 * time.Minute, -2 * time.Minute, -time.Minute, -time.Microsecond, 0, time.Minute} {
		c := sampleCode(fmt.Sprint(i))
		c.ExpiresAt = base.Add(d)
		mustNil(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, c))
		if i == 0 {
			// A used code expires like any other.
			mustNil(t, "InvalidateAuthorizationCode", s.InvalidateAuthorizationCode(ctx, c.Digest))
		}
	}
	n, err := s.DeleteExpiredAuthorizationCodes(ctx, base, 2)
	mustNil(t, "DeleteExpiredAuthorizationCodes", err)
	if n != 2 {
		t.Fatalf("DeleteExpiredAuthorizationCodes(limit 2) = %d; want 2", n)
	}
	n, err = s.DeleteExpiredAuthorizationCodes(ctx, base, 10)
	mustNil(t, "DeleteExpiredAuthorizationCodes", err)
	if n != 2 {
		t.Fatalf("DeleteExpiredAuthorizationCodes(second batch) = %d; want the other 2 expired codes", n)
	}
	for i := range 6 {
		_, err := s.GetAuthorizationCode(ctx, sampleCode(fmt.Sprint(i)).Digest)
		if gone := errors.Is(err, storage.ErrNotFound); gone != (i < 4) {
			t.Errorf("code expiring at %d: GetAuthorizationCode = %v; want deleted = %v", i, err, i < 4)
		}
	}
	if n, err := s.DeleteExpiredAuthorizationCodes(ctx, base, 0); n != 0 || err != nil {
		t.Fatalf("DeleteExpiredAuthorizationCodes(limit 0) = %d, %v; want 0, nil", n, err)
	}
}

// testAuthorizationCodeRace redeems each of codeRaces codes from
// codeRacers goroutines released at once: exactly one invalidation per
// code may succeed, or one code buys two sets of tokens (FOSITE-OIDC.md,
// "Race"). A store that reads active and then writes fails it.
func testAuthorizationCodeRace(t *testing.T, s storage.Store) {
	ctx := context.Background()
	for i := range codeRaces {
		mustNil(t, "CreateAuthorizationCode", s.CreateAuthorizationCode(ctx, sampleCode(fmt.Sprint(i))))
	}
	wins := race(t, "InvalidateAuthorizationCode", codeRaces, codeRacers, storage.ErrNotFound, func(i, _ int) error {
		return s.InvalidateAuthorizationCode(ctx, sampleCode(fmt.Sprint(i)).Digest)
	})
	bad := 0
	for i, n := range wins {
		if n != 1 {
			bad++
			t.Errorf("code %d: %d of %d concurrent invalidations succeeded; want exactly 1", i, n, codeRacers)
		}
	}
	if bad > 0 {
		t.Fatalf("%d of %d codes were not redeemed exactly once", bad, codeRaces)
	}
	for i := range codeRaces {
		_, err := s.GetAuthorizationCode(ctx, sampleCode(fmt.Sprint(i)).Digest)
		wantErr(t, "GetAuthorizationCode(after race)", err, storage.ErrInvalidatedCode)
	}
}
