package oauth

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/storage"
)

// Session is fosite's JWT session, plus the user a refresh family's
// request was loaded with.
type Session struct {
	*oauth2.JWTSession
	// user is the family's user as GetRefreshTokenSession read it, in the
	// same query as the family; fosite's refresh handler carries it into
	// the new request with Clone. It is never stored.
	user *storage.User
	// userLinked: user has identity links, read with the family; a
	// refresh re-reads linked users upstream (connector_refresh.go).
	userLinked bool
	// idClaims and idHeaders are the ID token of this request, when
	// openid is granted (idtoken.go).
	idClaims  *jwt.IDTokenClaims
	idHeaders *jwt.Headers
	// loginSessionID is the hosted login the request came from, if any:
	// codes and refresh families record it, for logout.
	loginSessionID string
	// credentialsVersion is the user's storage.User.CredentialsVersion at
	// that login: a code is refused once it has moved on (a password set,
	// a disable), as a refresh family is.
	credentialsVersion int64
	// notAfter, when set, is the latest expiry the access token may have:
	// a token exchange's subject token's (grant_token_exchange.go).
	notAfter time.Time
}

func newSession() *Session {
	return &Session{JWTSession: &oauth2.JWTSession{
		JWTClaims: &jwt.JWTClaims{Extra: map[string]any{}},
		JWTHeader: &jwt.Headers{Extra: map[string]any{"typ": keys.AccessTokenType}},
		ExpiresAt: map[fosite.TokenType]time.Time{},
	}}
}

// Clone keeps the Session type (the embedded JWTSession's Clone would not).
func (s *Session) Clone() fosite.Session {
	if s == nil {
		return nil
	}
	c := *s
	c.JWTSession = cloneJWTSession(s.JWTSession)
	if s.idClaims != nil {
		ic := *s.idClaims
		ic.Audience = slices.Clone(ic.Audience)
		ic.AuthenticationMethodsReferences = slices.Clone(ic.AuthenticationMethodsReferences)
		ic.Extra = maps.Clone(ic.Extra)
		c.idClaims = &ic
	}
	if s.idHeaders != nil {
		c.idHeaders = &jwt.Headers{Extra: maps.Clone(s.idHeaders.Extra)}
	}
	return &c
}

// cloneJWTSession copies j as fosite's JWTSession.Clone does, without its
// reflection-based deep copy (3% of a refresh's CPU): the claims, header
// and expiry maps are copied, their values are not mutated in place.
func cloneJWTSession(j *oauth2.JWTSession) *oauth2.JWTSession {
	if j == nil {
		return nil
	}
	c := *j
	if j.JWTClaims != nil {
		claims := *j.JWTClaims
		claims.Audience = slices.Clone(claims.Audience)
		claims.Scope = slices.Clone(claims.Scope)
		claims.Extra = maps.Clone(claims.Extra)
		c.JWTClaims = &claims
	}
	if j.JWTHeader != nil {
		c.JWTHeader = &jwt.Headers{Extra: maps.Clone(j.JWTHeader.Extra)}
	}
	c.ExpiresAt = maps.Clone(j.ExpiresAt)
	return &c
}

// familySession is what a refresh family keeps of its token request
// beyond the columns of storage.RefreshFamily. It is deliberately small:
// claims are rebuilt from the current client and user on every refresh,
// never replayed from storage.
type familySession struct {
	RequestedAt       time.Time `json:"requested_at"`
	RequestedScope    []string  `json:"requested_scope,omitempty"`
	RequestedAudience []string  `json:"requested_audience,omitempty"`
	Username          string    `json:"username,omitempty"`
	// AuthTime is when the user authenticated, for the auth_time of the ID
	// tokens refreshes issue (OIDC Core 1.0 section 12.2).
	AuthTime time.Time `json:"auth_time,omitzero"`
}

func sessionOf(r fosite.Requester) (*Session, error) {
	s, ok := r.GetSession().(*Session)
	if !ok || s == nil || s.JWTSession == nil {
		return nil, fmt.Errorf("oauth: unexpected session type %T", r.GetSession())
	}
	return s, nil
}

// newFamily is the refresh family that r, whose first refresh token is t,
// starts at now.
func newFamily(r fosite.Requester, s *Session, t refreshSignature, subjectVersion int64, now time.Time,
	idle, absolute time.Duration) (storage.RefreshFamily, error) {
	authTime := now
	if s.idClaims != nil && !s.idClaims.AuthTime.IsZero() {
		authTime = s.idClaims.AuthTime
	}
	b, err := json.Marshal(familySession{
		RequestedAt:       r.GetRequestedAt(),
		RequestedScope:    r.GetRequestedScopes(),
		RequestedAudience: r.GetRequestedAudience(),
		Username:          s.Username,
		AuthTime:          authTime,
	})
	if err != nil {
		return storage.RefreshFamily{}, fmt.Errorf("oauth: encode refresh family: %w", err)
	}
	return storage.RefreshFamily{
		ID:             r.GetID(),
		ClientID:       r.GetClient().GetID(),
		Subject:        s.Subject,
		SubjectVersion: subjectVersion,
		Scopes:         r.GetGrantedScopes(),
		Audiences:      r.GetGrantedAudience(),
		CreatedAt:      now,
		ExpiresAt:      now.Add(absolute),
		IdleExpiresAt:  now.Add(idle),
		FamilyDigest:   t.familyDigest,
		TokenDigest:    t.tokenDigest,
		Generation:     t.generation,
		Session:        b,
		LoginSessionID: s.loginSessionID,
	}, nil
}

// familyRequest rebuilds the token request of a refresh family around a
// freshly loaded client. The refresh token's expiry in the session is the
// family's idle or absolute end, whichever comes first.
func familyRequest(f storage.RefreshFamily, u *storage.User, c fosite.Client) (*fosite.Request, error) {
	var fs familySession
	if err := json.Unmarshal(f.Session, &fs); err != nil {
		return nil, fmt.Errorf("oauth: decode refresh family %s: %w", f.ID, err)
	}
	s := newSession()
	s.user, s.userLinked = u, f.SubjectLinked
	s.Subject = f.Subject
	s.Username = fs.Username
	s.JWTClaims.Subject = f.Subject
	exp := f.IdleExpiresAt
	if f.ExpiresAt.Before(exp) {
		exp = f.ExpiresAt
	}
	s.SetExpiresAt(fosite.RefreshToken, exp)
	if slices.Contains(f.Scopes, ScopeOpenID) {
		authTime := fs.AuthTime
		if authTime.IsZero() {
			authTime = f.CreatedAt
		}
		setIDTokenClaims(s, f.ClientID, f.Subject, authTime)
	}
	return &fosite.Request{
		ID:                f.ID,
		RequestedAt:       fs.RequestedAt,
		Client:            c,
		RequestedScope:    fs.RequestedScope,
		GrantedScope:      f.Scopes,
		RequestedAudience: fs.RequestedAudience,
		GrantedAudience:   f.Audiences,
		Form:              url.Values{},
		Session:           s,
	}, nil
}
