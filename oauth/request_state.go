package oauth

import (
	"context"
	"sync"

	"github.com/gatehouse/gatehouse/storage"
)

// requestState is the one channel between Gatehouse's handlers and the
// storage adapter besides the arguments and return values of fosite's
// calls. Everything that can flow through those does: the client record
// rides in the fosite.Client (client.go), a refresh family's user in the
// Session that GetRefreshTokenSession returns (session.go). What is left
// has no parameter in fosite's storage interfaces, so it travels in the
// request's context, in this one type. Who writes and who reads each field:
//
//	field          written by                          read by
//	allowDisabled  Token, before fosite                GetClient
//	secretPresented Token, Introspect, Revoke           GetClient
//	clientAddr     Token, password grant               Authenticate (throttle)
//	user           Authenticate                        CreateRefreshTokenSession, Token (claims)
//	verified       preverify (introspection, revoke)   GetAccessTokenSession, RevokeAccessToken, callerID
//	revocation     Revoke                              GetRefreshTokenSession, RevokeRefreshToken
//	assertedClient assertionAuth (private_key_jwt)     callerID, revokingClient
//
// The readers rely on fosite calling the adapter in a fixed order (the
// user is authenticated before a family is created, and so on);
// TestFositeCallOrder fails if a fosite upgrade changes that order.
type requestState struct {
	mu sync.Mutex
	// allowDisabled lets a disabled client authenticate so that the token
	// handler can refuse it with the grant's own error.
	allowDisabled bool
	// secretPresented says the request carries a client secret: a public
	// client, which has none, is then refused (fosite would let it in
	// whatever it presented).
	secretPresented bool
	// clientAddr is the client's address as the throttle counts it.
	clientAddr string
	// user is the user the password grant authenticated.
	user *storage.User
	// verified holds access tokens this request already verified, by
	// JWS signature.
	verified map[string]*accessToken
	// revocation marks an RFC 7009 revocation request: there, any genuine
	// refresh token of a family names the family, however old.
	revocation bool
	// assertedClient is the client a private_key_jwt assertion
	// authenticated.
	assertedClient string
}

type stateKey struct{}

func withState(ctx context.Context, st *requestState) context.Context {
	return context.WithValue(ctx, stateKey{}, st)
}

// stateFrom returns the request's state; outside a request, an empty one
// that nobody else sees.
func stateFrom(ctx context.Context) *requestState {
	if st, ok := ctx.Value(stateKey{}).(*requestState); ok {
		return st
	}
	return &requestState{}
}

// authenticatedUser is the user the password grant authenticated, or nil.
func (st *requestState) authenticatedUser() *storage.User {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.user
}

func (st *requestState) setUser(u *storage.User) {
	st.mu.Lock()
	st.user = u
	st.mu.Unlock()
}

// verifiedToken returns the access token with this JWS signature that the
// request verified.
func (st *requestState) verifiedToken(signature string) (*accessToken, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	at, ok := st.verified[signature]
	return at, ok
}

func (st *requestState) setAssertedClient(id string) {
	st.mu.Lock()
	st.assertedClient = id
	st.mu.Unlock()
}

// asserted is the client a private_key_jwt assertion authenticated, or "".
func (st *requestState) asserted() string {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.assertedClient
}
