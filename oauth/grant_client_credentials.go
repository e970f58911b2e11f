package oauth

import (
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// clientCredentialsClaims grants a client_credentials request (RFC 6749
// section 4.4) and sets its claims: the client is the subject, its roles
// are the token's roles, and there is no refresh family.
func (s *Server) clientCredentialsClaims(ar fosite.AccessRequester, c storage.Client, sess *Session, now time.Time) error {
	s.grantRequested(ar, c, false)
	setClaims(sess, c, nil, "", now)
	return nil
}
