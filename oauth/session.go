package oauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/token/jwt"

	"github.com/gatehouse/gatehouse/keys"
)

// Session is fosite's JWT session plus what a refresh-token family needs.
type Session struct {
	*oauth2.JWTSession
	// FamilyCreatedAt is when the password grant that started the
	// refresh-token family ran; it bounds the family's absolute lifetime.
	FamilyCreatedAt time.Time
	// RefreshScopes, when set, is the grant the refresh token keeps while
	// this request's access token was narrowed to fewer scopes.
	RefreshScopes []string
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
	c.JWTSession = s.JWTSession.Clone().(*oauth2.JWTSession)
	return &c
}

// storedRequest is the serialised form of a refresh-token request. It is
// deliberately small: claims are rebuilt from the current client and user
// on every refresh, never replayed from storage.
type storedRequest struct {
	ID                string               `json:"id"`
	RequestedAt       time.Time            `json:"requested_at"`
	ClientID          string               `json:"client_id"`
	RequestedScope    []string             `json:"requested_scope,omitempty"`
	GrantedScope      []string             `json:"granted_scope,omitempty"`
	RequestedAudience []string             `json:"requested_audience,omitempty"`
	GrantedAudience   []string             `json:"granted_audience,omitempty"`
	Form              url.Values           `json:"form,omitempty"`
	Subject           string               `json:"subject"`
	Username          string               `json:"username,omitempty"`
	ExpiresAt         map[string]time.Time `json:"expires_at,omitempty"`
	FamilyCreatedAt   time.Time            `json:"family_created_at"`
}

func sessionOf(r fosite.Requester) (*Session, error) {
	s, ok := r.GetSession().(*Session)
	if !ok || s == nil || s.JWTSession == nil {
		return nil, fmt.Errorf("oauth: unexpected session type %T", r.GetSession())
	}
	return s, nil
}

// grantedScopes is the grant a stored refresh token carries.
func grantedScopes(r fosite.Requester, s *Session) []string {
	if s.RefreshScopes != nil {
		return s.RefreshScopes
	}
	return r.GetGrantedScopes()
}

// marshalRequest serialises r, whose session is s.
func marshalRequest(r fosite.Requester, s *Session) ([]byte, error) {
	exp := map[string]time.Time{}
	for k, v := range s.ExpiresAt {
		exp[string(k)] = v
	}
	sr := storedRequest{
		ID:                r.GetID(),
		RequestedAt:       r.GetRequestedAt(),
		ClientID:          r.GetClient().GetID(),
		RequestedScope:    r.GetRequestedScopes(),
		GrantedScope:      grantedScopes(r, s),
		RequestedAudience: r.GetRequestedAudience(),
		GrantedAudience:   r.GetGrantedAudience(),
		Subject:           s.Subject,
		Username:          s.Username,
		ExpiresAt:         exp,
		FamilyCreatedAt:   s.FamilyCreatedAt,
	}
	if f := r.GetRequestForm(); f != nil {
		sr.Form = url.Values{}
		for _, k := range []string{"grant_type", "scope"} {
			if v, ok := f[k]; ok {
				sr.Form[k] = v
			}
		}
	}
	return json.Marshal(sr)
}

// unmarshalRequest rebuilds a fosite request around a freshly loaded
// client.
func unmarshalRequest(b []byte, c fosite.Client) (*fosite.Request, error) {
	var sr storedRequest
	if err := json.Unmarshal(b, &sr); err != nil {
		return nil, fmt.Errorf("oauth: decode stored request: %w", err)
	}
	s := newSession()
	s.Subject = sr.Subject
	s.Username = sr.Username
	s.FamilyCreatedAt = sr.FamilyCreatedAt
	for k, v := range sr.ExpiresAt {
		s.ExpiresAt[fosite.TokenType(k)] = v
	}
	s.JWTClaims.Subject = sr.Subject
	form := sr.Form
	if form == nil {
		form = url.Values{}
	}
	r := &fosite.Request{
		ID:                sr.ID,
		RequestedAt:       sr.RequestedAt,
		Client:            c,
		RequestedScope:    sr.RequestedScope,
		GrantedScope:      sr.GrantedScope,
		RequestedAudience: sr.RequestedAudience,
		GrantedAudience:   sr.GrantedAudience,
		Form:              form,
		Session:           s,
	}
	return r, nil
}
