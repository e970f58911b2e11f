package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// maxTokenBytes bounds what Gatehouse will try to verify as a JWT.
const maxTokenBytes = 16 << 10

// Introspect serves RFC 7662 token introspection. Callers authenticate with
// client credentials (Basic or form) or an access token of their own.
// Access tokens are checked by Gatehouse (signature by kid, typ, iss, times,
// deny list) and then by fosite; refresh tokens by fosite against storage.
func (s *Server) Introspect(w http.ResponseWriter, r *http.Request) {
	if err := s.parseForm(w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	if r.PostForm.Get("token") == "" {
		s.writeError(w, r, errInvalidRequest("The token parameter is missing."))
		return
	}
	formCredentialsToBasic(r)
	st := &requestState{secretPresented: presentsSecret(r)}
	ctx := withState(r.Context(), st)
	if err := s.preverify(ctx, st, r.PostForm.Get("token"), bearer(r)); err != nil {
		s.writeError(w, r, err)
		return
	}
	var ir fosite.IntrospectionResponder
	var err error
	if hasAssertion(r.PostForm) {
		ir, err = s.introspectAsserted(ctx, r)
	} else {
		ir, err = s.provider.NewIntrospectionRequest(ctx, r, newSession())
	}
	switch {
	case err == nil && ir.GetTokenUse() == fosite.RefreshToken && ir.GetAccessRequester().GetClient().GetID() != callerID(r, st):
		// A refresh token is its client's secret: only that client learns
		// anything about it (RFC 7662 section 4).
		s.provider.WriteIntrospectionError(ctx, w, fosite.ErrInactiveToken)
	case err == nil:
		s.obs.ClientAuthenticated(ctx, callerID(r, st))
		s.provider.WriteIntrospectionResponse(ctx, w, ir)
	case errors.Is(err, storage.ErrUnavailable):
		s.writeError(w, r, err)
	case errors.Is(err, fosite.ErrInactiveToken):
		s.provider.WriteIntrospectionError(ctx, w, err)
	case errors.Is(err, fosite.ErrRequestUnauthorized):
		// fosite says request_unauthorized; RFC 7662 section 2.3 points
		// to RFC 6749's invalid_client.
		s.writeError(w, r, fosite.ErrInvalidClient.WithHint("The caller could not be authenticated."))
	default:
		s.writeError(w, r, err)
	}
}

// callerID is the client that authenticated an introspection request: by
// Basic credentials, or by an access token of its own, which preverify has
// verified.
func callerID(r *http.Request, st *requestState) string {
	if id := st.asserted(); id != "" {
		return id
	}
	if tok := bearer(r); tok != "" {
		st.mu.Lock()
		defer st.mu.Unlock()
		if at, ok := st.verified[tok[strings.LastIndexByte(tok, '.')+1:]]; ok {
			return at.ClientID
		}
		return ""
	}
	id, _, _ := r.BasicAuth()
	id, _ = url.QueryUnescape(id)
	return id
}

// introspectAsserted is fosite's NewIntrospectionRequest for a caller that
// authenticates with a client assertion (private_key_jwt), which fosite's
// introspection handler does not read: it takes Basic or a bearer token.
func (s *Server) introspectAsserted(ctx context.Context, r *http.Request) (fosite.IntrospectionResponder, error) {
	form := r.PostForm
	if r.Header.Get("Authorization") != "" || form.Get("client_secret") != "" {
		return nil, errInvalidRequest("Use one client authentication method: a client assertion, Basic or a bearer token, not two.")
	}
	if _, err := s.assertions.authenticate(ctx, form); err != nil {
		return nil, err
	}
	scopes := fosite.RemoveEmpty(strings.Split(form.Get("scope"), " "))
	tu, ar, err := s.provider.IntrospectToken(ctx, form.Get("token"), fosite.TokenUse(form.Get("token_type_hint")), newSession(), scopes...)
	if err != nil {
		return nil, fosite.ErrInactiveToken.WithWrap(err)
	}
	resp := &fosite.IntrospectionResponse{Active: true, AccessRequester: ar, TokenUse: tu}
	if tu == fosite.AccessToken {
		resp.AccessTokenType = fosite.BearerAccessToken
	}
	return resp, nil
}

// formCredentialsToBasic lets introspection accept client_secret_post,
// which fosite's introspection handler does not read.
func formCredentialsToBasic(r *http.Request) {
	if r.Header.Get("Authorization") != "" {
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if id != "" && secret != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// preverify checks every JWT-shaped token of the request and records the
// good ones for the storage adapter's GetAccessTokenSession. A token that
// fails any check is simply not recorded, so fosite finds it inactive. Only
// a deny-list lookup failure is an error.
func (s *Server) preverify(ctx context.Context, st *requestState, tokens ...string) error {
	for _, tok := range tokens {
		if tok == "" || len(tok) > maxTokenBytes || strings.Count(tok, ".") != 2 {
			continue
		}
		at, err := s.verifyAccessToken(ctx, tok)
		if errors.Is(err, storage.ErrUnavailable) {
			return err
		}
		if err != nil {
			continue
		}
		st.mu.Lock()
		if st.verified == nil {
			st.verified = map[string]*accessToken{}
		}
		st.verified[at.Signature] = at
		st.mu.Unlock()
	}
	return nil
}

var errNotActive = errors.New("token is not active")

// verifyAccessToken is Gatehouse's own access-token check: signature with
// the published key named by kid, typ at+jwt (RFC 9068 section 4), exact
// issuer, times (verifier.ValidateClaims, with Config.Leeway), and
// revocation (Revoked).
func (s *Server) verifyAccessToken(ctx context.Context, tok string) (*accessToken, error) {
	v, err := s.ring.Verify(tok)
	if err != nil {
		return nil, err
	}
	if !isAccessTokenType(v.Type) {
		return nil, errNotActive
	}
	at, err := parseAccessToken(v.Payload)
	if err != nil {
		return nil, err
	}
	at.Signature = tok[strings.LastIndexByte(tok, '.')+1:]
	// The claims rule every Gatehouse verifier shares; introspection has no
	// audience to check (RFC 7662 section 2.1).
	c := verifier.Claims{Issuer: at.Issuer, Expiry: at.Expiry, NotBefore: at.NotBefore, IssuedAt: at.IssuedAt}
	if err := verifier.ValidateClaims(&c, verifier.Expected{Issuer: s.cfg.Issuer, Leeway: s.cfg.Leeway}, s.now()); err != nil {
		return nil, errNotActive
	}
	revoked, err := s.Revoked(ctx, TokenRef{ID: at.ID, Family: at.Family, Subject: at.Subject, ClientID: at.ClientID, IssuedAt: at.IssuedAt})
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errNotActive
	}
	return at, nil
}
