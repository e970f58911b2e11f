package oauth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/gatehouse/gatehouse/storage"
)

// Paths of the hosted flow, relative to the issuer.
const (
	AuthorizePath = "/oauth2/authorize"
	LogoutPath    = "/oauth2/logout"
)

// Authorize serves the authorization endpoint (RFC 6749 section 3.1) for
// the authorization code flow with PKCE (RFC 7636, S256 only) and OpenID
// Connect (OIDC Core 1.0 section 3.1). GET (or POST, section 3.1.2.1)
// takes the authorization request; a user without a login session gets the
// login page, a third-party client the consent page; both post back here
// with the request in a hidden field, so the flow keeps no server state but
// the login session.
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		s.authorize(w, r, r.URL.RawQuery, "")
	case http.MethodPost:
		s.authorizePost(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		s.errorPage(w, http.StatusMethodNotAllowed, "This page takes GET or POST.")
	}
}

// authorizePost is the login or consent form's answer, or an
// authorization request sent as a form (OIDC Core 1.0 section 3.1.2.1).
func (s *Server) authorizePost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		s.errorPage(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	if err := checkText(r.PostForm); err != nil {
		s.errorPage(w, http.StatusBadRequest, "The form holds text that is not allowed.")
		return
	}
	authz, isForm := r.PostForm["authorization"]
	if !isForm {
		// An authorization request sent as a form.
		s.authorize(w, r, r.PostForm.Encode(), "")
		return
	}
	if !s.csrfOK(r) {
		s.errorPage(w, http.StatusForbidden, "This form has expired or did not come from this site. Go back to the application and sign in again.")
		return
	}
	query := authz[0]
	switch {
	case r.PostForm.Has("connector"):
		s.startUpstream(w, r, query, r.PostForm.Get("connector"))
	case r.PostForm.Has("password"):
		s.login(w, r, query)
	case r.PostForm.Get("consent") == "allow":
		s.authorize(w, r, query, "consented")
	case r.PostForm.Get("consent") == "deny":
		s.authorize(w, r, query, "denied")
	default:
		s.errorPage(w, http.StatusBadRequest, "The form is incomplete.")
	}
}

// authorize parses the authorization request in query and carries it as
// far as the user's state allows: login page, consent page, or the
// redirect with a code. decision is "consented" or "denied" when the
// consent form answered.
func (s *Server) authorize(w http.ResponseWriter, r *http.Request, query, decision string) {
	ctx := withState(r.Context(), &requestState{})
	ar, err := s.parseAuthorize(ctx, r, query)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	sess, user, err := s.loginSession(ctx, r)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	prompt := strings.Fields(ar.GetRequestForm().Get("prompt"))
	mustLogin := user == nil || slices.Contains(prompt, "login") && decision == "" || tooOld(ar, sess, s.now())
	if mustLogin {
		if slices.Contains(prompt, "none") {
			s.authorizeError(w, r, ar, fosite.ErrLoginRequired)
			return
		}
		s.loginPage(w, r, http.StatusOK, query, "", "")
		return
	}
	s.afterLogin(w, r, ctx, ar, query, *user, sess, decision)
}

// afterLogin asks a third-party client's user for consent, then issues the
// code.
func (s *Server) afterLogin(w http.ResponseWriter, r *http.Request, ctx context.Context, ar fosite.AuthorizeRequester,
	query string, user storage.User, sess storage.LoginSession, decision string) {
	c, _ := clientRecord(ar.GetClient())
	if c.ThirdParty {
		switch decision {
		case "denied":
			s.authorizeError(w, r, ar, fosite.ErrAccessDenied.WithHint("The user denied the request."))
			return
		case "consented":
		default:
			if slices.Contains(strings.Fields(ar.GetRequestForm().Get("prompt")), "none") {
				s.authorizeError(w, r, ar, fosite.ErrConsentRequired)
				return
			}
			s.renderPage(w, http.StatusOK, page{Kind: "consent", Title: "Allow access?", Action: AuthorizePath,
				CSRF: s.csrfToken(w, r), Authorization: query, Client: c.Name, Scopes: ar.GetRequestedScopes()})
			return
		}
	}
	s.issueCode(w, r, ctx, ar, user, sess)
}

// parseAuthorize runs fosite's checks on the request in query, then
// Gatehouse's: S256 PKCE (RFC 7636 section 4.3, RFC 9700 section 2.1.1)
// and a nonce long enough that fosite will not refuse it after the code is
// spent (FOSITE-OIDC.md).
func (s *Server) parseAuthorize(ctx context.Context, r *http.Request, query string) (fosite.AuthorizeRequester, error) {
	values, err := url.ParseQuery(query)
	if err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The authorization request is malformed.")
	}
	if err := checkText(values); err != nil {
		return nil, fosite.ErrInvalidRequest.WithHint("The authorization request holds text that is not allowed.")
	}
	req := r.Clone(ctx)
	req.Method = http.MethodGet
	req.URL.RawQuery = values.Encode()
	req.Body, req.Form, req.PostForm = http.NoBody, nil, nil
	ar, err := s.provider.NewAuthorizeRequest(ctx, req)
	if err != nil {
		return ar, err
	}
	form := ar.GetRequestForm()
	switch {
	case form.Get("code_challenge") == "":
		return ar, fosite.ErrInvalidRequest.WithHint("PKCE is required: send code_challenge and code_challenge_method=S256.")
	case form.Get("code_challenge_method") != "S256":
		return ar, fosite.ErrInvalidRequest.WithHint("The only code_challenge_method is S256.")
	case len(form.Get("code_challenge")) != 43:
		return ar, fosite.ErrInvalidRequest.WithHint("The code_challenge must be the base64url SHA-256 of the verifier (43 characters).")
	case form.Has("nonce") && len(form.Get("nonce")) < fosite.MinParameterEntropy:
		return ar, fosite.ErrInvalidRequest.WithHintf("The nonce must have at least %d characters.", fosite.MinParameterEntropy)
	}
	return ar, nil
}

// tooOld reports whether the login is older than the request's max_age
// allows (OIDC Core 1.0 section 3.1.2.1).
func tooOld(ar fosite.AuthorizeRequester, sess storage.LoginSession, now time.Time) bool {
	maxAge, err := time.ParseDuration(ar.GetRequestForm().Get("max_age") + "s")
	return err == nil && ar.GetRequestForm().Get("max_age") != "" && now.Sub(sess.AuthTime) > maxAge
}

// issueCode grants the request and redirects to the client with a code,
// the state and the issuer (RFC 9207).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, ctx context.Context, ar fosite.AuthorizeRequester,
	user storage.User, login storage.LoginSession) {
	c, _ := clientRecord(ar.GetClient())
	for _, sc := range ar.GetRequestedScopes() {
		if sc == ScopeOfflineAccess && !slices.Contains(c.GrantTypes, "refresh_token") {
			continue
		}
		ar.GrantScope(sc)
	}
	aud := ar.GetRequestedAudience()
	if len(aud) == 0 {
		aud = ar.GetClient().GetAudience()
	}
	for _, a := range aud {
		ar.GrantAudience(a)
	}
	sess := newSession()
	sess.Subject, sess.Username = user.ID, user.Username
	sess.JWTClaims.Subject = user.ID
	setIDTokenClaims(sess, c.ID, user.ID, login.AuthTime)
	setRequestedAt(sess, ar.GetRequestedAt())
	sess.IDTokenClaims().AuthenticationMethodsReferences = login.AMR
	sess.loginSessionID = login.ID
	sess.credentialsVersion = user.CredentialsVersion
	resp, err := s.provider.NewAuthorizeResponse(ctx, ar, sess)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	resp.AddParameter("iss", s.cfg.Issuer)
	s.provider.WriteAuthorizeResponse(ctx, w, ar, resp)
}

// authorizeError answers a failed authorization request. An unknown
// client or an unregistered redirect URI gets a page and is never
// redirected (RFC 6749 section 4.1.2.1); anything else goes back to the
// client with error, state and iss (RFC 6749 section 4.1.2.1, RFC 9207).
func (s *Server) authorizeError(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, err error) {
	if errors.Is(err, storage.ErrUnavailable) {
		s.errorPage(w, http.StatusServiceUnavailable, "The sign-in service is temporarily unavailable. Try again in a moment.")
		return
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	if ar == nil || !ar.IsRedirectURIValid() || ar.GetRedirectURI() == nil {
		msg := "The application's sign-in request is not valid: " + rfc.GetDescription()
		if errors.Is(err, fosite.ErrInvalidClient) {
			msg = "The application is not known here."
		}
		s.errorPage(w, http.StatusBadRequest, msg)
		return
	}
	if rfc.StatusCode() >= 500 {
		s.logger.ErrorContext(r.Context(), "authorization failed", "err", err)
	}
	u := *ar.GetRedirectURI()
	q := u.Query()
	q.Set("error", rfc.ErrorField)
	if d := rfc.GetDescription(); d != "" {
		q.Set("error_description", d)
	}
	if st := ar.GetState(); st != "" {
		q.Set("state", st)
	}
	q.Set("iss", s.cfg.Issuer)
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

// loginPage shows the login form for the authorization request in query.
func (s *Server) loginPage(w http.ResponseWriter, r *http.Request, status int, query, username, problem string) {
	s.renderPage(w, status, page{Kind: "login", Title: "Sign in", Error: problem, Action: AuthorizePath,
		CSRF: s.csrfToken(w, r), Authorization: query, Username: username, Connectors: s.connectorButtons(r.Context())})
}

// login checks the login form through the password grant's path (the
// throttle counts the attempt before argon2id runs, design D5), starts a
// new login session, and carries on with the authorization request.
func (s *Server) login(w http.ResponseWriter, r *http.Request, query string) {
	username, password := r.PostForm.Get("username"), r.PostForm.Get("password")
	st := &requestState{clientAddr: s.clientAddr(r)}
	ctx := withState(r.Context(), st)
	ar, err := s.parseAuthorize(ctx, r, query)
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	_, err = s.adapter.Authenticate(ctx, username, password)
	var te *ThrottleError
	switch {
	case errors.As(err, &te):
		w.Header().Set("Retry-After", retryAfterSeconds(te.RetryAfter))
		s.loginPage(w, r, http.StatusTooManyRequests, query, username,
			"Too many sign-in attempts. Wait "+retryAfterSeconds(te.RetryAfter)+" seconds and try again.")
		return
	case errors.Is(err, ErrHashBusy), errors.Is(err, storage.ErrUnavailable), errors.Is(err, ErrDirectoryUnavailable):
		w.Header().Set("Retry-After", "1")
		s.loginPage(w, r, http.StatusServiceUnavailable, query, username, "The sign-in service is busy. Try again in a moment.")
		return
	case err != nil:
		s.loginPage(w, r, http.StatusOK, query, username, "The username or password is wrong.")
		return
	}
	user := st.authenticatedUser()
	sess, err := s.startLoginSession(w, r, *user, []string{"pwd"})
	if err != nil {
		s.authorizeError(w, r, ar, err)
		return
	}
	s.afterLogin(w, r, ctx, ar, query, *user, sess, "")
}

// checkText refuses text no store can hold (design D9).
func checkText(v url.Values) error {
	for k, vs := range v {
		if !storage.ValidText(k) {
			return errors.New("invalid text")
		}
		for _, x := range vs {
			if !storage.ValidText(x) || len(x) > 4096 {
				return errors.New("invalid text")
			}
		}
	}
	return nil
}

// The login session and CSRF cookies. With an https issuer they are
// __Host- cookies: Secure, Path=/, no Domain (RFC 6265bis section 4.1.3.2).
func (s *Server) cookieName(base string) string {
	if s.secureCookies() {
		return "__Host-" + base
	}
	return base
}

func (s *Server) secureCookies() bool { return strings.HasPrefix(s.cfg.Issuer, "https://") }

const (
	sessionCookie = "gatehouse_session"
	csrfCookie    = "gatehouse_csrf"
)

// loginSession returns the request's live login session and its user, or
// no user. A session whose user is gone or disabled is ended.
func (s *Server) loginSession(ctx context.Context, r *http.Request) (storage.LoginSession, *storage.User, error) {
	ck, err := r.Cookie(s.cookieName(sessionCookie))
	if err != nil || ck.Value == "" || len(ck.Value) > 64 {
		return storage.LoginSession{}, nil, nil
	}
	digest := sha256.Sum256([]byte(ck.Value))
	sess, err := s.store.GetLoginSession(ctx, digest[:], s.now())
	if errors.Is(err, storage.ErrNotFound) {
		return storage.LoginSession{}, nil, nil
	}
	if err != nil {
		return storage.LoginSession{}, nil, err
	}
	u, err := s.store.GetUser(ctx, sess.UserID)
	if errors.Is(err, storage.ErrNotFound) || err == nil && u.Disabled {
		s.store.DeleteLoginSession(ctx, digest[:])
		return storage.LoginSession{}, nil, nil
	}
	if err != nil {
		return storage.LoginSession{}, nil, err
	}
	return sess, &u, nil
}

// startLoginSession starts a login session for user with a new id, ending
// the one the browser had (a new session id at every login: no session
// fixation). amr are the authentication methods (RFC 8176): "pwd" for the
// password form, none for an upstream provider's login, whose methods
// Gatehouse did not see.
func (s *Server) startLoginSession(w http.ResponseWriter, r *http.Request, user storage.User, amr []string) (storage.LoginSession, error) {
	return s.startLoginSessionAt(w, r, user, amr, s.now().UTC())
}

// startLoginSessionAt is startLoginSession for a user who authenticated
// at authTime (an upstream provider's auth_time).
func (s *Server) startLoginSessionAt(w http.ResponseWriter, r *http.Request, user storage.User, amr []string, authTime time.Time) (storage.LoginSession, error) {
	if ck, err := r.Cookie(s.cookieName(sessionCookie)); err == nil && ck.Value != "" {
		old := sha256.Sum256([]byte(ck.Value))
		if err := s.store.DeleteLoginSession(r.Context(), old[:]); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.LoginSession{}, err
		}
	}
	secret := randomToken()
	digest := sha256.Sum256([]byte(secret))
	now := s.now().UTC()
	sess := storage.LoginSession{ID: randomToken(), Digest: digest[:], UserID: user.ID, AuthTime: authTime.UTC().Truncate(time.Second),
		AMR: amr, CreatedAt: now, ExpiresAt: now.Add(s.cfg.LoginSessionLifetime)}
	if err := s.store.CreateLoginSession(r.Context(), sess); err != nil {
		return storage.LoginSession{}, err
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(sessionCookie), Value: secret, Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteLaxMode, MaxAge: int(s.cfg.LoginSessionLifetime.Seconds())})
	return sess, nil
}

// csrfToken returns the browser's CSRF token, setting it when it has none.
// Forms carry it in a hidden field and the answer must match the cookie
// (double submit; the cookie is SameSite=Strict, so another site's form
// cannot come with it).
func (s *Server) csrfToken(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(s.cookieName(csrfCookie)); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(csrfCookie), Value: tok, Path: "/", HttpOnly: true,
		Secure: s.secureCookies(), SameSite: http.SameSiteStrictMode})
	return tok
}

// csrfOK reports whether the form's CSRF token matches the cookie's.
func (s *Server) csrfOK(r *http.Request) bool {
	ck, err := r.Cookie(s.cookieName(csrfCookie))
	field := r.PostForm.Get("csrf_token")
	return err == nil && len(ck.Value) == 43 && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(field)) == 1
}

// retryAfter is d in whole seconds, rounded up, at least 1.
func retryAfterSeconds(d time.Duration) string {
	n := int((d + time.Second - 1) / time.Second)
	if n < 1 {
		n = 1
	}
	return strconv.Itoa(n)
}
