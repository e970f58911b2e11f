package ldaptest_test

import (
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/gatehouse/gatehouse/directory/ldaptest"
)

// TestStartStop: the server answers, keeps its data across Stop and
// Start, and refuses connections while stopped.
func TestStartStop(t *testing.T) {
	s := ldaptest.Start(t, `dn: uid=x,`+ldaptest.UserBase+`
objectClass: inetOrgPerson
uid: x
cn: X
sn: X
userPassword: pw
`)
	find := func() error {
		conn, err := ldap.DialURL(s.URL)
		if err != nil {
			return err
		}
		defer conn.Close()
		if err := conn.Bind("uid=x,"+ldaptest.UserBase, "pw"); err != nil {
			return err
		}
		return nil
	}
	if err := find(); err != nil {
		t.Fatalf("bind as x: %v", err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := find(); err == nil {
		t.Fatal("bind while stopped succeeded")
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if err := find(); err != nil {
		t.Fatalf("bind after restart: %v", err)
	}
}
