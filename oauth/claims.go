package oauth

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// Gatehouse's own claims besides the registered ones (RFC 9068 section 2.2).
const (
	claimClientID = "client_id"
	claimRoles    = "roles"
	// claimFamily carries the refresh-token family id, so that revoking the
	// family denies its outstanding access tokens too (design D2).
	claimFamily = "fid"
)

// reservedClaims can never be set by a client's custom claims: registered
// JWT claims (RFC 7519 section 4.1), RFC 9068 and RFC 8693 claims, OIDC
// identity claims a verifier might trust, and Gatehouse's own.
var reservedClaims = []string{
	"iss", "sub", "aud", "exp", "nbf", "iat", "jti",
	"client_id", "scope", "scp", "roles", "fid", "groups", "entitlements",
	"auth_time", "acr", "amr", "azp", "cnf", "act", "may_act", "sid", "nonce",
	"typ", "token_type", "username", "email", "email_verified", "active",
}

// IsReservedClaim reports whether name may not be a custom claim.
func IsReservedClaim(name string) bool {
	return slices.Contains(reservedClaims, strings.ToLower(name))
}

// setClaims fills the session's token claims for a grant from the stored
// client and, for user grants, the stored user. It is the one place that
// decides what an access token says.
func setClaims(s *Session, c storage.Client, u *storage.User, familyID string, now time.Time) {
	claims := s.JWTClaims
	claims.Extra = map[string]any{}
	for k, v := range c.Claims {
		if !IsReservedClaim(k) {
			claims.Extra[k] = v
		}
	}
	claims.Extra[claimClientID] = c.ID
	roles := c.Roles
	if u != nil {
		roles = u.Roles
		claims.Subject = u.ID
		s.Subject = u.ID
	} else {
		claims.Subject = c.ID
		s.Subject = c.ID
	}
	if roles == nil {
		roles = []string{}
	}
	claims.Extra[claimRoles] = slices.Clone(roles)
	if familyID != "" {
		claims.Extra[claimFamily] = familyID
	}
	// fosite keeps the first token's iat on refresh (fosite issue 774):
	// every token gets its own.
	claims.IssuedAt = now.UTC()
	claims.NotBefore = now.UTC()
	claims.JTI = ""
}

// accessToken is a verified Gatehouse access token.
type accessToken struct {
	Signature string
	ID        string // jti
	Issuer    string
	Subject   string
	ClientID  string
	Audience  []string
	Scope     []string
	Roles     []string
	Family    string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
	// Claims holds every claim for introspection.
	Claims map[string]any
}

type rawClaims struct {
	Issuer    string          `json:"iss"`
	Subject   string          `json:"sub"`
	Audience  json.RawMessage `json:"aud"`
	Expiry    *json.Number    `json:"exp"`
	IssuedAt  *json.Number    `json:"iat"`
	NotBefore *json.Number    `json:"nbf"`
	ID        string          `json:"jti"`
	ClientID  string          `json:"client_id"`
	Scope     string          `json:"scope"`
	Roles     []string        `json:"roles"`
	Family    string          `json:"fid"`
}

func numTime(n *json.Number) (time.Time, error) {
	if n == nil {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil {
		return time.Time{}, err
	}
	return time.Unix(int64(f), 0).UTC(), nil
}

func parseAccessToken(payload []byte) (*accessToken, error) {
	var rc rawClaims
	if err := json.Unmarshal(payload, &rc); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	all := map[string]any{}
	if err := json.Unmarshal(payload, &all); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	at := &accessToken{
		ID: rc.ID, Issuer: rc.Issuer, Subject: rc.Subject, ClientID: rc.ClientID,
		Scope: fosite.RemoveEmpty(strings.Split(rc.Scope, " ")), Roles: rc.Roles, Family: rc.Family, Claims: all,
	}
	if len(rc.Audience) > 0 {
		var one string
		if json.Unmarshal(rc.Audience, &one) == nil {
			at.Audience = []string{one}
		} else if err := json.Unmarshal(rc.Audience, &at.Audience); err != nil {
			return nil, fmt.Errorf("claims: aud: %w", err)
		}
	}
	var err error
	if at.Expiry, err = numTime(rc.Expiry); err != nil {
		return nil, fmt.Errorf("claims: exp: %w", err)
	}
	if at.IssuedAt, err = numTime(rc.IssuedAt); err != nil {
		return nil, fmt.Errorf("claims: iat: %w", err)
	}
	if at.NotBefore, err = numTime(rc.NotBefore); err != nil {
		return nil, fmt.Errorf("claims: nbf: %w", err)
	}
	if at.ID == "" || at.Expiry.IsZero() || at.ClientID == "" {
		return nil, fmt.Errorf("claims: jti, exp and client_id are required")
	}
	return at, nil
}

// request rebuilds a fosite request for introspection and revocation. Its
// id is prefixed so that revoking it never revokes a refresh family.
func (at *accessToken) request() *fosite.Request {
	s := newSession()
	s.Subject = at.Subject
	s.SetExpiresAt(fosite.AccessToken, at.Expiry)
	s.JWTClaims.Subject = at.Subject
	s.JWTClaims.Issuer = at.Issuer
	s.JWTClaims.JTI = at.ID
	s.JWTClaims.Audience = at.Audience
	s.JWTClaims.IssuedAt = at.IssuedAt
	s.JWTClaims.NotBefore = at.NotBefore
	s.JWTClaims.ExpiresAt = at.Expiry
	for k, v := range at.Claims {
		switch k {
		case "iss", "sub", "aud", "exp", "iat", "nbf", "jti", "scope":
		default:
			s.JWTClaims.Extra[k] = v
		}
	}
	s.JWTClaims.Extra["token_type"] = "Bearer"
	return &fosite.Request{
		ID:              accessRequestPrefix + at.ID,
		RequestedAt:     at.IssuedAt,
		Client:          &fosite.DefaultClient{ID: at.ClientID},
		RequestedScope:  at.Scope,
		GrantedScope:    at.Scope,
		GrantedAudience: at.Audience,
		Form:            map[string][]string{},
		Session:         s,
	}
}
