package storagetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

func sampleIssuer(id, iss string) storage.TrustedIssuer {
	t := now()
	return storage.TrustedIssuer{
		ID:           id,
		Issuer:       iss,
		JWKSURI:      iss + "/keys",
		Audiences:    []string{"https://gatehouse.example", "https://gatehouse.example/oauth2/token"},
		Algorithms:   []string{"RS256", "ES256"},
		SubjectClaim: "preferred_username",
		SubjectType:  storage.SubjectUser,
		RolesClaim:   `"https://example.com/roles"`,
		// Upstream names are anyone's text: keep them exactly.
		RoleMap:     map[string]string{"API Admins": "admin", "groupe-équipe": "editor"},
		MaxTokenAge: 90 * time.Minute,
		CreatedAt:   t,
		UpdatedAt:   t,
	}
}

func equalIssuer(a, b storage.TrustedIssuer) bool {
	return a.ID == b.ID && a.Issuer == b.Issuer && a.JWKSURI == b.JWKSURI &&
		slices.Equal(a.Audiences, b.Audiences) && slices.Equal(a.Algorithms, b.Algorithms) &&
		a.SubjectClaim == b.SubjectClaim && a.SubjectType == b.SubjectType && a.RolesClaim == b.RolesClaim &&
		maps.Equal(a.RoleMap, b.RoleMap) && a.MaxTokenAge == b.MaxTokenAge && a.Provision == b.Provision && a.Disabled == b.Disabled &&
		a.CreatedAt.Equal(b.CreatedAt) && a.UpdatedAt.Equal(b.UpdatedAt)
}

// testTrustedIssuers checks the trusted-issuer contract: round trip of
// every field, lookup by issuer, unique id and issuer on create and
// update, copies, list order and delete.
func testTrustedIssuers(t *testing.T, s storage.Store) {
	ctx := context.Background()
	a := sampleIssuer("ti-a", "https://idp.example/realms/acme")
	mustNil(t, "CreateTrustedIssuer", s.CreateTrustedIssuer(ctx, a))
	wantErr(t, "CreateTrustedIssuer(same id)", s.CreateTrustedIssuer(ctx, sampleIssuer("ti-a", "https://other.example")), storage.ErrAlreadyExists)
	wantErr(t, "CreateTrustedIssuer(same issuer)", s.CreateTrustedIssuer(ctx, sampleIssuer("ti-x", a.Issuer)), storage.ErrAlreadyExists)

	got, err := s.GetTrustedIssuer(ctx, "ti-a")
	mustNil(t, "GetTrustedIssuer", err)
	if !equalIssuer(got, a) {
		t.Fatalf("GetTrustedIssuer = %+v; want %+v", got, a)
	}
	got.RoleMap["API Admins"] = "mutated"
	got.Audiences[0] = "mutated"
	again, _ := s.GetTrustedIssuerByIssuer(ctx, a.Issuer)
	if !equalIssuer(again, a) {
		t.Fatalf("GetTrustedIssuerByIssuer = %+v; want %+v (a returned value is a copy)", again, a)
	}
	// The issuer is compared byte for byte: no trailing-slash or case
	// folding (RFC 8414 section 3.3).
	for _, iss := range []string{a.Issuer + "/", "HTTPS://idp.example/realms/acme", "nope"} {
		_, err := s.GetTrustedIssuerByIssuer(ctx, iss)
		wantErr(t, fmt.Sprintf("GetTrustedIssuerByIssuer(%q)", iss), err, storage.ErrNotFound)
	}
	_, err = s.GetTrustedIssuer(ctx, "nope")
	wantErr(t, "GetTrustedIssuer(unknown)", err, storage.ErrNotFound)

	// Empty optional fields round-trip as empty.
	b := storage.TrustedIssuer{ID: "ti-b", Issuer: "https://ci.example", SubjectType: storage.SubjectClient,
		CreatedAt: now(), UpdatedAt: now()}
	mustNil(t, "CreateTrustedIssuer(minimal)", s.CreateTrustedIssuer(ctx, b))
	gotB, err := s.GetTrustedIssuer(ctx, "ti-b")
	mustNil(t, "GetTrustedIssuer(minimal)", err)
	if !equalIssuer(gotB, b) || len(gotB.RoleMap) != 0 || len(gotB.Audiences) != 0 {
		t.Fatalf("GetTrustedIssuer(minimal) = %+v; want %+v", gotB, b)
	}

	wantErr(t, "UpdateTrustedIssuer(to a taken issuer)", s.UpdateTrustedIssuer(ctx, "ti-b", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) {
		ti.Issuer = a.Issuer
		return ti, nil
	}), storage.ErrAlreadyExists)
	boom := errors.New("boom")
	wantErr(t, "UpdateTrustedIssuer(fn fails)", s.UpdateTrustedIssuer(ctx, "ti-b", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) {
		ti.Disabled = true
		return ti, boom
	}), boom)
	wantErr(t, "UpdateTrustedIssuer(unknown)", s.UpdateTrustedIssuer(ctx, "nope", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) { return ti, nil }), storage.ErrNotFound)
	mustNil(t, "UpdateTrustedIssuer", s.UpdateTrustedIssuer(ctx, "ti-b", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) {
		ti.Disabled, ti.Provision = true, true
		ti.RoleMap = map[string]string{"ci-deployer": "deployer"}
		ti.Issuer = "https://ci.example/v2"
		return ti, nil
	}))
	gotB, _ = s.GetTrustedIssuerByIssuer(ctx, "https://ci.example/v2")
	if gotB.ID != "ti-b" || !gotB.Disabled || !gotB.Provision || gotB.RoleMap["ci-deployer"] != "deployer" {
		t.Fatalf("after UpdateTrustedIssuer: %+v", gotB)
	}

	list, err := s.ListTrustedIssuers(ctx)
	mustNil(t, "ListTrustedIssuers", err)
	if len(list) != 2 || list[0].ID != "ti-a" || list[1].ID != "ti-b" {
		t.Fatalf("ListTrustedIssuers = %d issuers; want ti-a, ti-b", len(list))
	}
	mustNil(t, "DeleteTrustedIssuer", s.DeleteTrustedIssuer(ctx, "ti-a"))
	_, err = s.GetTrustedIssuerByIssuer(ctx, a.Issuer)
	wantErr(t, "GetTrustedIssuerByIssuer(deleted)", err, storage.ErrNotFound)
	wantErr(t, "DeleteTrustedIssuer(again)", s.DeleteTrustedIssuer(ctx, "ti-a"), storage.ErrNotFound)
	// Its issuer URL is free again.
	mustNil(t, "CreateTrustedIssuer(reuse issuer)", s.CreateTrustedIssuer(ctx, sampleIssuer("ti-c", a.Issuer)))
}

// testTrustedIssuerUpdateAtomic updates one issuer from many goroutines:
// no update is lost.
func testTrustedIssuerUpdateAtomic(t *testing.T, s storage.Store) {
	ctx := context.Background()
	ti := sampleIssuer("ti-a", "https://idp.example")
	ti.RoleMap = nil
	mustNil(t, "CreateTrustedIssuer", s.CreateTrustedIssuer(ctx, ti))
	const n = 16
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.UpdateTrustedIssuer(ctx, "ti-a", func(ti storage.TrustedIssuer) (storage.TrustedIssuer, error) {
				if ti.RoleMap == nil {
					ti.RoleMap = map[string]string{}
				}
				ti.RoleMap[fmt.Sprintf("up-%d", i)] = "r"
				return ti, nil
			})
			if err != nil {
				t.Errorf("UpdateTrustedIssuer: %v", err)
			}
		}()
	}
	wg.Wait()
	got, err := s.GetTrustedIssuer(ctx, "ti-a")
	mustNil(t, "GetTrustedIssuer", err)
	if len(got.RoleMap) != n {
		t.Fatalf("after %d concurrent updates the role map has %d entries; want %d", n, len(got.RoleMap), n)
	}
}
