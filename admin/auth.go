package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/oauth"
)

// adminRealm is the realm of the admin API's challenges (RFC 6750 section 3).
const adminRealm = "gatehouse-admin"

// AuthConfig configures the admin API's bearer-token check.
type AuthConfig struct {
	// Issuer is Gatehouse's own issuer URL. Required.
	Issuer string
	// Audience is what admin tokens' "aud" must contain; default Issuer,
	// which is what Gatehouse puts in the tokens of a client registered
	// with no audiences (the bootstrap admin client is one).
	Audience string
	// Role and Scope each grant the admin API: a token needs the role
	// (in "roles") or the scope (in "scope"). Defaults DefaultAdminRole and
	// DefaultAdminScope.
	Role  string
	Scope string
	// Local, when set, is Gatehouse's own HTTP handler: the verifier
	// fetches the discovery document and the JWKS from it in-process
	// instead of over the network, so the issuer URL need not be reachable
	// from the server itself. It is first used at the first admin request,
	// so it may be a function that calls a router built afterwards.
	Local http.Handler
	// HTTPClient fetches discovery and the JWKS when Local is nil.
	HTTPClient *http.Client
	// Revoked, when set, says whether a verified token was revoked since
	// (pass the token service's oauth.Server.Revoked), so that a revoked
	// admin token, or one of a disabled client, stops at once.
	Revoked func(ctx context.Context, t oauth.TokenRef) (bool, error)
	// Leeway is the clock skew tolerated on "exp", "nbf" and "iat"
	// (verifier.ValidateClaims); zero means verifier.DefaultLeeway.
	Leeway time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives key-fetch and deny-list failures.
	Logger *slog.Logger
	// Authenticated, when set, is told the client id of each verified,
	// unrevoked token, admin or not (for the access log).
	Authenticated func(ctx context.Context, clientID string)
}

// NewAuth returns middleware that admits only requests with a valid
// Gatehouse access token (verified as any resource server verifies it,
// with discovery/verifier: signature from the JWKS, typ at+jwt, exact iss,
// aud, exp/nbf/iat) carrying the admin role or the admin scope. Refusals
// follow RFC 6750 section 3: 401 with WWW-Authenticate: Bearer for a
// missing or invalid token, 403 insufficient_scope for a valid token
// without admin rights.
func NewAuth(cfg AuthConfig) (func(http.Handler) http.Handler, error) {
	if cfg.Audience == "" {
		cfg.Audience = cfg.Issuer
	}
	client := cfg.HTTPClient
	if cfg.Local != nil {
		client = &http.Client{Transport: localTransport{cfg.Local}, Timeout: verifier.DefaultHTTPTimeout}
	}
	v, err := verifier.New(verifier.Config{
		Issuer:     cfg.Issuer,
		Audience:   cfg.Audience,
		HTTPClient: client,
		Leeway:     cfg.Leeway,
		Now:        cfg.Now,
		Logger:     cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("admin auth: %w", err)
	}
	authn := verifier.Middleware(v, verifier.WithRealm(adminRealm))
	authz := RequireAdmin(cfg)
	return func(next http.Handler) http.Handler { return authn(authz(next)) }, nil
}

// RequireAdmin returns middleware, placed after verifier.Middleware, that
// admits tokens carrying cfg.Role or cfg.Scope and, when cfg.Revoked is
// set, not revoked; it uses cfg's Role, Scope, Revoked and Logger.
// It names the caller in the audit log: "client:ID" for a client's own
// token, "user:ID" for a user's.
func RequireAdmin(cfg AuthConfig) func(http.Handler) http.Handler {
	role, scope, revoked, logger := cfg.Role, cfg.Scope, cfg.Revoked, cfg.Logger
	if role == "" {
		role = DefaultAdminRole
	}
	if scope == "" {
		scope = DefaultAdminScope
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := verifier.ClaimsFromContext(r.Context())
			if !ok {
				// Mounted without verifier.Middleware: fail closed.
				writeChallenge(w, http.StatusUnauthorized, "", "a bearer access token is required", "")
				return
			}
			if revoked != nil {
				fid, _ := c.Extra["fid"].(string)
				d, err := revoked(r.Context(), oauth.TokenRef{ID: c.ID, Family: fid, Subject: c.Subject, ClientID: c.ClientID, IssuedAt: c.IssuedAt})
				if err != nil {
					logger.ErrorContext(r.Context(), "admin auth: deny list", "err", err)
					w.Header().Set("Retry-After", "5")
					writeJSON(w, http.StatusServiceUnavailable, apiError{Error: "temporarily_unavailable", Description: "cannot check the token now"})
					return
				}
				if d {
					writeChallenge(w, http.StatusUnauthorized, "invalid_token", "the token was revoked", "")
					return
				}
			}
			if cfg.Authenticated != nil {
				cfg.Authenticated(r.Context(), c.ClientID)
			}
			if !c.HasRole(role) && !c.HasScope(scope) {
				writeChallenge(w, http.StatusForbidden, "insufficient_scope",
					"the admin API needs the role '"+role+"' or the scope '"+scope+"'", scope)
				return
			}
			actor := "user:" + c.Subject
			if c.Subject == "" || c.Subject == c.ClientID {
				actor = "client:" + c.ClientID
			}
			next.ServeHTTP(w, r.WithContext(WithActor(r.Context(), actor)))
		})
	}
}

// writeChallenge answers with an RFC 6750 section 3 challenge in the admin
// realm, as verifier.Middleware answers.
func writeChallenge(w http.ResponseWriter, status int, code, desc, scope string) {
	verifier.WriteChallenge(w, status, adminRealm, code, desc, scope)
}

// localTransport serves HTTP requests with a handler in-process.
type localTransport struct{ h http.Handler }

func (t localTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	in := req.Clone(req.Context())
	in.RequestURI = req.URL.RequestURI()
	in.RemoteAddr = "127.0.0.1:0"
	if in.Body == nil {
		in.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	t.h.ServeHTTP(rec, in)
	if rec.code == 0 {
		rec.code = http.StatusOK
	}
	body := rec.body.Bytes()
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", rec.code, http.StatusText(rec.code)),
		StatusCode:    rec.code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }
func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
