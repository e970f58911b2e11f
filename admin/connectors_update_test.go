package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/memory"
)

// TestConnectorUpdateKeepsSecretAtHome: an update that points a connector
// at another issuer or directory host without a new secret is refused (the
// stored secret would be sent to the new host); with one it passes, and
// other changes keep the stored secret.
func TestConnectorUpdateKeepsSecretAtHome(t *testing.T) {
	ctx := context.Background()
	svc := newService(t, memory.New(), time.Now, &syncBuffer{})
	svc.secrets, _ = keys.ParseSecrets([]string{strings.Repeat("s", 32)})
	for _, p := range []ConnectorParams{oidcParams(), ldapParams()} {
		if _, err := svc.CreateConnector(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	issuer := func(iss string) *storage.OIDCSettings {
		o := *oidcParams().OIDC
		o.Issuer = iss
		return &o
	}
	dirURL := func(u string) *storage.LDAPSettings {
		l := *ldapParams().LDAP
		l.URL = u
		return &l
	}
	secret := "a-new-upstream-secret-for-the-new-host"
	for _, tc := range []struct {
		name, id string
		patch    ConnectorPatch
		refused  bool
	}{
		{"other issuer host", "corp", ConnectorPatch{OIDC: issuer("https://evil.example")}, true},
		{"other issuer path (realm)", "corp", ConnectorPatch{OIDC: issuer("https://idp.example.com/realms/other")}, true},
		{"other directory host", "dir", ConnectorPatch{LDAP: dirURL("ldaps://evil.example")}, true},
		{"same issuer, other scopes", "corp", ConnectorPatch{OIDC: &storage.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "gatehouse", Scopes: []string{"profile"}}}, false},
		{"same directory host, explicit port", "dir", ConnectorPatch{LDAP: dirURL("ldaps://LDAP.example.com:636")}, false},
		{"other issuer with a new secret", "corp", ConnectorPatch{OIDC: issuer("https://idp2.example.com"), Secret: &secret}, false},
	} {
		before, _ := svc.store.GetConnector(ctx, tc.id)
		_, err := svc.UpdateConnector(ctx, tc.id, tc.patch)
		var fe *FieldError
		if tc.refused != (errors.As(err, &fe) && fe.Field == "secret") || !tc.refused && err != nil {
			t.Errorf("%s: %v; refused=%v wanted", tc.name, err, tc.refused)
		}
		after, _ := svc.store.GetConnector(ctx, tc.id)
		if tc.refused && (after.OIDC != nil && after.OIDC.Issuer != before.OIDC.Issuer || after.LDAP != nil && after.LDAP.URL != before.LDAP.URL) {
			t.Errorf("%s: refused update was stored", tc.name)
		}
		if !tc.refused && tc.patch.Secret == nil && string(after.SecretEnc) != string(before.SecretEnc) {
			t.Errorf("%s: the stored secret changed", tc.name)
		}
	}
}

// TestConnectorUpdateRefusesRekeyingLinks: while users are linked through
// a connector, its issuer and subject claim (an LDAP connector's subject
// attribute) cannot change: the links, keyed by upstream subject, would
// hand another provider's subjects the linked accounts. Without links they
// can; deleting the connector deletes its links.
func TestConnectorUpdateRefusesRekeyingLinks(t *testing.T) {
	ctx := context.Background()
	store := memory.New()
	svc := newService(t, store, time.Now, &syncBuffer{})
	svc.secrets, _ = keys.ParseSecrets([]string{strings.Repeat("s", 32)})
	for _, p := range []ConnectorParams{oidcParams(), ldapParams()} {
		if _, err := svc.CreateConnector(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	secret := "a-new-upstream-secret-for-the-new-host"
	otherIssuer := *oidcParams().OIDC
	otherIssuer.Issuer = "https://idp2.example.com"
	otherClaim := *oidcParams().OIDC
	otherClaim.SubjectClaim = "email"
	otherAttr := *ldapParams().LDAP
	otherAttr.SubjectAttribute = "mail"
	patches := []struct {
		id, field string
		patch     ConnectorPatch
	}{
		{"corp", "oidc.issuer", ConnectorPatch{OIDC: &otherIssuer, Secret: &secret}},
		{"corp", "oidc.subject_claim", ConnectorPatch{OIDC: &otherClaim}},
		{"dir", "ldap.subject_attribute", ConnectorPatch{LDAP: &otherAttr}},
	}
	u := storage.User{ID: "u-1", Username: "corp/alice"}
	for _, cid := range []string{"corp", "dir"} {
		var nu *storage.User
		if cid == "corp" {
			nu = &u
		}
		if err := store.CreateIdentityLink(ctx, storage.IdentityLink{ConnectorID: cid, Subject: "s1", UserID: u.ID,
			CreatedAt: time.Now(), LastLoginAt: time.Now()}, nu); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range patches {
		_, err := svc.UpdateConnector(ctx, tc.id, tc.patch)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s with links: %v; want a field error on %s", tc.field, err, tc.field)
		}
	}
	// Other changes pass with links.
	if _, err := svc.UpdateConnector(ctx, "corp", ConnectorPatch{OIDC: &storage.OIDCSettings{Issuer: "https://idp.example.com", ClientID: "gatehouse2"}}); err != nil {
		t.Errorf("client id change with links: %v", err)
	}
	// Without links, they pass.
	if err := store.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range patches {
		tc.patch.Secret = &secret // the subject claim's patch moves the issuer back
		if _, err := svc.UpdateConnector(ctx, tc.id, tc.patch); err != nil {
			t.Errorf("%s without links: %v", tc.field, err)
		}
	}
}
