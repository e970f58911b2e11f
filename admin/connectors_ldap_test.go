package admin

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse/gatehouse/storage/memory"
)

// TestLDAPConnectorChecks: an LDAP connector that the directory client
// would refuse at every login is refused when it is stored.
func TestLDAPConnectorChecks(t *testing.T) {
	modL := func(f func(p *ConnectorParams)) ConnectorParams { p := ldapParams(); f(&p); return p }
	svc := newService(t, memory.New(), time.Now, &syncBuffer{})
	for _, tt := range []struct {
		name, want string
		p          ConnectorParams
	}{
		{"plain ldap to localhost", "clear", modL(func(p *ConnectorParams) { p.LDAP.URL = "ldap://localhost" })},
		{"filter that does not parse", "parse", modL(func(p *ConnectorParams) { p.LDAP.UserFilter = "(uid={username}" })},
		{"group filter without placeholder", "{dn}", modL(func(p *ConnectorParams) {
			p.LDAP.GroupBaseDN, p.LDAP.GroupFilter = "ou=groups,dc=example,dc=com", "(cn=all)"
		})},
		{"base that is no DN", "not a DN", modL(func(p *ConnectorParams) { p.LDAP.UserBaseDN = "people" })},
		{"attribute injection", "attribute name", modL(func(p *ConnectorParams) { p.LDAP.SubjectAttribute = "uid)(x" })},
		{"CA that is no PEM", "PEM", modL(func(p *ConnectorParams) { p.LDAP.CACert = "not a certificate" })},
		{"require_group without a role map", "require_group", modL(func(p *ConnectorParams) { p.LDAP.RequireGroup = true })},
	} {
		_, err := svc.CreateConnector(context.Background(), tt.p)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "ldap" || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: CreateConnector = %v; want a FieldError on ldap mentioning %q", tt.name, err, tt.want)
		}
	}
}
