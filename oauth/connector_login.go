package oauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/gatehouse/gatehouse/storage"
)

// The hosted login page's "Sign in with <connector>" (issue 16): the
// button posts the authorization request to AuthorizePath with the
// connector's id; Gatehouse answers with a redirect to the upstream
// provider, which sends the browser back to ConnectorCallback. The flow's
// state is kept in the browser, in a cookie sealed under the master
// secrets with the state as additional data, so only the browser that
// started the flow can finish it, and only with the state it was sent
// with (OIDC Core 1.0 section 15.5.2 (nonce), RFC 6749 section 10.12
// (state)).

const (
	upstreamCookie = "gatehouse_upstream"
	// sealUpstreamFlow is the purpose of the flow cookie's sealing; its
	// id is the state.
	sealUpstreamFlow = "upstream-flow"
	// upstreamFlowLifetime bounds a flow from the button to the callback.
	upstreamFlowLifetime = 10 * time.Minute
	// maxCookieBytes keeps the flow cookie under browsers' 4096-byte
	// limit for a cookie with its name and attributes.
	maxCookieBytes = 3800
)

// upstreamFlow is what the flow cookie holds.
type upstreamFlow struct {
	Connector string `json:"c"`
	Verifier  string `json:"v"`
	Nonce     string `json:"n"`
	// Query is the client's authorization request, finished after the
	// login.
	Query   string `json:"q"`
	Expires int64  `json:"e"`
	// Started is when the browser was sent upstream (Unix seconds): the
	// time of the request that prompt=login and max_age are measured
	// against.
	Started int64 `json:"s"`
	// Reauth holds the client's prompt=login and max_age, forwarded
	// upstream and checked on the upstream's auth_time.
	Reauth upstreamReauth `json:"r"`
}

// upstreamReauth is what the client's authorization request asked about
// the freshness of the login (OIDC Core 1.0 section 3.1.2.1).
type upstreamReauth struct {
	Login  bool   `json:"l,omitempty"` // prompt=login
	MaxAge *int64 `json:"m,omitempty"` // max_age, seconds
}

// reauthOf reads prompt=login and max_age from the client's request. A
// max_age that is not a non-negative integer is ignored, as tooOld does.
func reauthOf(form url.Values) upstreamReauth {
	var ra upstreamReauth
	ra.Login = slices.Contains(strings.Fields(form.Get("prompt")), "login")
	if v, err := strconv.ParseInt(form.Get("max_age"), 10, 64); err == nil && v >= 0 {
		ra.MaxAge = &v
	}
	return ra
}

// connectorButton is one "Sign in with" button on the login page.
type connectorButton struct{ ID, Name string }

// connectorButtons lists the enabled OIDC connectors. A store failure
// shows none: local logins never depend on connectors.
func (s *Server) connectorButtons(ctx context.Context) []connectorButton {
	if s.upstream == nil {
		return nil
	}
	cs, err := s.store.ListConnectors(ctx)
	if err != nil {
		s.logger.WarnContext(ctx, "login page: list connectors", "err", err)
		return nil
	}
	var out []connectorButton
	for _, c := range cs {
		if c.Kind == storage.ConnectorOIDC && !c.Disabled && c.OIDC != nil {
			out = append(out, connectorButton{ID: c.ID, Name: c.Name})
		}
	}
	return out
}

// startUpstream answers a "Sign in with" button: it checks the client's
// request, then sends the browser to the connector's provider with state,
// nonce and PKCE (S256), keeping them in the sealed flow cookie.
func (s *Server) startUpstream(w http.ResponseWriter, r *http.Request, query, id string) {
	ctx := withState(r.Context(), &requestState{})
	ar, err := s.parseAuthorize(ctx, r, query)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	c, ok := s.oidcConnector(ctx, id)
	if !ok {
		s.loginPage(w, r, http.StatusBadRequest, query, "", "This sign-in option is not available.")
		return
	}
	state, nonce, verifier := randomToken(), randomToken(), oauth2.GenerateVerifier()
	reauth := reauthOf(ar.GetRequestForm())
	target, err := s.upstream.authCodeURL(ctx, c, state, nonce, verifier, reauth)
	if err != nil {
		s.logger.WarnContext(ctx, "connector login", "connector", c.ID, "err", err)
		s.loginPage(w, r, http.StatusBadGateway, query, "", upstreamMessage(c, err))
		return
	}
	flow, _ := json.Marshal(upstreamFlow{Connector: c.ID, Verifier: verifier, Nonce: nonce, Query: query,
		Expires: s.now().Add(upstreamFlowLifetime).Unix(), Started: s.now().Unix(), Reauth: reauth})
	sealed, err := s.cfg.Secrets.SealData(sealUpstreamFlow, state, flow)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	value := base64.RawURLEncoding.EncodeToString(sealed)
	if len(value) > maxCookieBytes {
		s.loginPage(w, r, http.StatusBadRequest, query, "", "The application's sign-in request is too long to continue with "+c.Name+".")
		return
	}
	// SameSite=Lax: the provider's redirect back is a top-level GET from
	// another site, which must carry it.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(upstreamCookie), Value: value, Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode, MaxAge: int(upstreamFlowLifetime.Seconds())})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// oidcConnector returns the enabled OIDC connector id.
func (s *Server) oidcConnector(ctx context.Context, id string) (storage.Connector, bool) {
	if s.upstream == nil || id == "" || len(id) > 64 {
		return storage.Connector{}, false
	}
	c, err := s.store.GetConnector(ctx, id)
	if err != nil || c.Disabled || c.Kind != storage.ConnectorOIDC || c.OIDC == nil {
		return storage.Connector{}, false
	}
	return c, true
}

// ConnectorCallback serves <issuer>/login/connectors/<id>/callback, where
// the upstream provider sends the browser back (RFC 6749 section 4.1.2):
// it checks state against the flow cookie, redeems the code with the
// PKCE verifier, verifies the ID token and its nonce, links the identity
// (LinkIdentity), starts a login session and finishes the client's
// authorization request as a password login would. Failures show the
// login page with a readable error.
func (s *Server) ConnectorCallback(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		s.errorPage(w, http.StatusMethodNotAllowed, "This page takes GET.")
		return
	}
	id, ok := strings.CutPrefix(r.URL.Path, ConnectorPathPrefix)
	if id, ok = strings.CutSuffix(id, "/callback"); !ok || id == "" || strings.Contains(id, "/") {
		s.errorPage(w, http.StatusNotFound, "There is no such page.")
		return
	}
	q := r.URL.Query()
	if checkText(q) != nil || len(q["state"]) != 1 {
		s.errorPage(w, http.StatusBadRequest, "The sign-in answer is malformed.")
		return
	}
	flow, ok := s.openFlow(r, q.Get("state"))
	// The cookie is single use, whatever happens next.
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(upstreamCookie), Value: "", Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode, MaxAge: -1})
	if !ok || flow.Connector != id || s.now().Unix() > flow.Expires {
		s.errorPage(w, http.StatusBadRequest, "This sign-in could not be completed: it expired, or it did not start in this browser. Go back to the application and sign in again.")
		return
	}
	ctx := withState(r.Context(), &requestState{})
	ar, err := s.parseAuthorize(ctx, r, flow.Query)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	fail := func(status int, msg string) { s.loginPage(w, r, status, flow.Query, "", msg) }
	c, ok := s.oidcConnector(ctx, id)
	if !ok {
		fail(http.StatusBadRequest, "This sign-in option is not available.")
		return
	}
	if e := q.Get("error"); e != "" {
		fail(http.StatusOK, fmt.Sprintf("%s did not sign you in (%s).", c.Name, errorCode(e)))
		return
	}
	code := q.Get("code")
	if code == "" {
		fail(http.StatusBadRequest, c.Name+" sent no authorization code.")
		return
	}
	ident, tok, err := s.upstream.exchange(ctx, c, code, flow.Verifier, flow.Nonce)
	if err != nil {
		s.logger.WarnContext(ctx, "connector login", "connector", c.ID, "err", err)
		fail(http.StatusBadGateway, upstreamMessage(c, err))
		return
	}
	started := time.Unix(flow.Started, 0).UTC()
	authTime, err := upstreamAuthTime(flow.Reauth, ident.AuthTime, started, s.now().UTC())
	if err != nil {
		s.logger.InfoContext(ctx, "connector login refused", "connector", c.ID, "err", err)
		fail(http.StatusForbidden, c.Name+" did not sign you in again as the application asked. Try again.")
		return
	}
	user, link, err := LinkIdentity(ctx, s.store, c, ident, s.now().UTC())
	if err != nil {
		s.logger.InfoContext(ctx, "connector login refused", "connector", c.ID, "err", err)
		status, msg := linkMessage(c, err)
		fail(status, msg)
		return
	}
	if err := s.keepUpstreamRefresh(ctx, c, link, tok.RefreshToken); err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	sess, err := s.startLoginSessionAt(w, r, user, nil, authTime)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	s.logger.InfoContext(ctx, "connector login", "connector", c.ID, "user_id", user.ID)
	s.afterLogin(w, r, ctx, ar, flow.Query, user, sess, "")
}

// upstreamAuthTime is when the user authenticated at the upstream, the
// login's auth_time: the upstream ID token's auth_time when it sent one
// (never later than now), else now. With max_age asked, auth_time is
// required (OIDC Core 1.0 section 3.1.2.1) and must be within max_age of
// started; with prompt=login, an auth_time before started means the
// upstream answered from an older session: both are refused rather than
// issued as a fresh login.
func upstreamAuthTime(ra upstreamReauth, upstream, started, now time.Time) (time.Time, error) {
	if upstream.IsZero() {
		if ra.MaxAge != nil {
			return time.Time{}, errors.New("max_age asked and the upstream ID token has no auth_time")
		}
		return now, nil
	}
	if upstream.After(now) {
		upstream = now
	}
	if ra.Login && upstream.Before(started) {
		return time.Time{}, fmt.Errorf("prompt=login asked and the upstream auth_time %d is before the request (%d)", upstream.Unix(), started.Unix())
	}
	if ra.MaxAge != nil && upstream.Add(time.Duration(*ra.MaxAge)*time.Second).Before(started) {
		return time.Time{}, fmt.Errorf("upstream auth_time %d older than max_age %d", upstream.Unix(), *ra.MaxAge)
	}
	return upstream, nil
}

// keepUpstreamRefresh stores the provider's refresh token, sealed, on the
// link, for refreshes to re-read the identity (Reread). A login whose
// answer carries none keeps the one stored (providers often issue a
// refresh token only at consent).
func (s *Server) keepUpstreamRefresh(ctx context.Context, c storage.Connector, link storage.IdentityLink, token string) error {
	if token == "" {
		return nil
	}
	sealed, err := s.upstream.sealRefresh(c.ID, link.Subject, token)
	if err != nil {
		return err
	}
	return s.store.UpdateIdentityLink(ctx, c.ID, link.Subject, func(l storage.IdentityLink) (storage.IdentityLink, error) {
		l.RefreshTokenEnc = sealed
		return l, nil
	})
}

// openFlow opens the flow cookie with state as its additional data.
func (s *Server) openFlow(r *http.Request, state string) (upstreamFlow, bool) {
	ck, err := r.Cookie(s.cookieName(upstreamCookie))
	if err != nil || state == "" || len(state) > 64 || len(ck.Value) > maxCookieBytes {
		return upstreamFlow{}, false
	}
	sealed, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil {
		return upstreamFlow{}, false
	}
	b, err := s.cfg.Secrets.OpenData(sealUpstreamFlow, state, sealed)
	if err != nil {
		return upstreamFlow{}, false
	}
	var f upstreamFlow
	if json.Unmarshal(b, &f) != nil {
		return upstreamFlow{}, false
	}
	// The state was the sealing's additional data: the cookie opened, so
	// it is the state the flow was started with.
	return f, true
}

// errorCode is an upstream's error code if it is one (RFC 6749 section
// 4.1.2.1: printable ASCII without quote or backslash), else "error".
func errorCode(e string) string {
	if len(e) > 64 {
		return "error"
	}
	for i := 0; i < len(e); i++ {
		if c := e[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return "error"
		}
	}
	return e
}

// upstreamMessage is what the login page says about a failed upstream.
func upstreamMessage(c storage.Connector, err error) string {
	switch {
	case errors.Is(err, errUpstreamForged):
		return "The answer from " + c.Name + " could not be verified, so you are not signed in. Try again, or sign in with a password."
	case errors.Is(err, errUpstreamRefused):
		return c.Name + " refused the sign-in. Try again, or sign in with a password."
	default:
		return c.Name + " is not answering right now. Try again later, or sign in with a password."
	}
}

// linkMessage is what the login page says about a refused link.
func linkMessage(c storage.Connector, err error) (int, string) {
	switch {
	case errors.Is(err, ErrNotProvisioned):
		return http.StatusForbidden, "Your " + c.Name + " account has no account here. Ask an administrator to give you access."
	case errors.Is(err, ErrLinkRefused):
		return http.StatusForbidden, "Your " + c.Name + " account cannot be used here (its email is not verified, not in an allowed domain, matches several accounts, or belongs to an account linked to another " + c.Name + " identity)."
	case errors.Is(err, ErrUserDisabled), errors.Is(err, ErrConnectorDisabled):
		return http.StatusForbidden, "This account is disabled."
	case errors.Is(err, storage.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, "The sign-in service is busy. Try again in a moment."
	default:
		return http.StatusInternalServerError, "The sign-in failed. Try again in a moment."
	}
}
