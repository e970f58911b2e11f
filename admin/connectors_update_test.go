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
