package verifier

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
)

func TestMiddleware(t *testing.T) {
	key := newTestKey(t, jose.ES256)
	ti := newTestIssuer(t, key)
	v := newTestVerifier(t, ti, newFakeClock(), nil)
	valid := sign(t, key, ti.claims(), signOpts{})
	noRoles := ti.claims()
	delete(noRoles, "roles")
	noRoles["scope"] = "profile"
	weak := sign(t, key, noRoles, signOpts{})

	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, ok := ClaimsFromContext(r.Context())
		if !ok {
			t.Errorf("ClaimsFromContext: no claims")
			return
		}
		w.Write([]byte(c.Subject))
	})
	auth := Middleware(v)
	mux := http.NewServeMux()
	mux.Handle("/me", auth(echo))
	mux.Handle("/admin", auth(RequireRoles("admin")(echo)))
	mux.Handle("/reports", auth(RequireScopes("reports:read")(echo)))
	mux.Handle("/both", auth(RequireScopes("reports:read", "profile")(RequireRoles("admin", "auditor")(echo))))
	mux.Handle("/unguarded", RequireRoles("admin")(echo))

	tests := []struct {
		name       string
		path       string
		headers    []string // Authorization values
		wantStatus int
		wantAuth   string // WWW-Authenticate; "" for none
		wantError  string // JSON "error"
	}{
		{"valid", "/me", []string{"Bearer " + valid}, 200, "", ""},
		{"scheme lower case", "/me", []string{"bearer " + valid}, 200, "", ""},
		{"scheme upper case", "/me", []string{"BEARER " + valid}, 200, "", ""},
		{"extra spaces", "/me", []string{"Bearer   " + valid + " "}, 200, "", ""},
		{"no header", "/me", nil, 401, `Bearer realm="example-api"`, "unauthorized"},
		{"basic scheme", "/me", []string{"Basic dXNlcjpwYXNz"}, 401, `Bearer realm="example-api"`, "unauthorized"},
		{"bearer without token", "/me", []string{"Bearer"}, 401, `Bearer realm="example-api", error="invalid_token", error_description="malformed bearer token"`, "invalid_token"},
		{"bearer with space only", "/me", []string{"Bearer "}, 401, `Bearer realm="example-api", error="invalid_token", error_description="malformed bearer token"`, "invalid_token"},
		{"token with bad characters", "/me", []string{`Bearer a"b`}, 401, `Bearer realm="example-api", error="invalid_token", error_description="malformed bearer token"`, "invalid_token"},
		{"garbage token", "/me", []string{"Bearer abc"}, 401, `Bearer realm="example-api", error="invalid_token", error_description="malformed token: want three dot-separated parts"`, "invalid_token"},
		{"two headers", "/me", []string{"Bearer " + valid, "Bearer " + valid}, 400, `Bearer realm="example-api", error="invalid_request", error_description="more than one Authorization header"`, "invalid_request"},
		{"query token", "/me?access_token=" + valid, nil, 400, `Bearer realm="example-api", error="invalid_request", error_description="access tokens are accepted only in the Authorization header"`, "invalid_request"},
		{"query token with header", "/me?access_token=" + valid, []string{"Bearer " + valid}, 400, `Bearer realm="example-api", error="invalid_request", error_description="access tokens are accepted only in the Authorization header"`, "invalid_request"},
		{"admin ok", "/admin", []string{"Bearer " + valid}, 200, "", ""},
		{"admin no role", "/admin", []string{"Bearer " + weak}, 403, `Bearer realm="example-api", error="insufficient_scope", error_description="the token lacks a required role: admin"`, "insufficient_scope"},
		{"admin no token", "/admin", nil, 401, `Bearer realm="example-api"`, "unauthorized"},
		{"reports ok", "/reports", []string{"Bearer " + valid}, 200, "", ""},
		{"reports no scope", "/reports", []string{"Bearer " + weak}, 403, `Bearer realm="example-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="reports:read"`, "insufficient_scope"},
		{"both ok", "/both", []string{"Bearer " + valid}, 200, "", ""},
		{"both lacking", "/both", []string{"Bearer " + weak}, 403, `Bearer realm="example-api", error="insufficient_scope", error_description="the token lacks a required scope", scope="reports:read profile"`, "insufficient_scope"},
		{"require without middleware", "/unguarded", []string{"Bearer " + valid}, 401, `Bearer realm="api"`, "unauthorized"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tt.path, nil)
			for _, h := range tt.headers {
				req.Header.Add("Authorization", h)
			}
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d; want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate = %q; want %q", got, tt.wantAuth)
			}
			if tt.wantError == "" {
				if got := rec.Body.String(); got != "user-42" {
					t.Errorf("body = %q; want %q", got, "user-42")
				}
				return
			}
			if got := rec.Header().Get("Content-Type"); got != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", got)
			}
			var body struct{ Error string }
			if err := json.NewDecoder(rec.Body).Decode(&body); err != nil || body.Error != tt.wantError {
				t.Errorf("body error = %q, %v; want %q", body.Error, err, tt.wantError)
			}
		})
	}
}

// fakeVerifier is a TokenVerifier returning fixed results.
type fakeVerifier struct {
	claims *Claims
	err    error
}

func (f fakeVerifier) Verify(context.Context, string) (*Claims, error) { return f.claims, f.err }

func TestMiddlewareStatuses(t *testing.T) {
	tests := []struct {
		name       string
		v          fakeVerifier
		opts       []MiddlewareOption
		wantStatus int
		wantAuth   string
	}{
		{"ok", fakeVerifier{claims: &Claims{Subject: "s"}}, nil, 200, ""},
		{"keys unavailable", fakeVerifier{err: ErrKeysUnavailable}, nil, 503, ""},
		{"expired, custom realm", fakeVerifier{err: ErrExpired}, []MiddlewareOption{WithRealm("reports")}, 401, `Bearer realm="reports", error="invalid_token", error_description="token expired"`},
		{"hostile description", fakeVerifier{err: errors.New("bad \"alg\"\\ \x01é")}, nil, 401, `Bearer realm="api", error="invalid_token", error_description="bad 'alg' "`},
	}
	for _, tt := range tests {
		h := Middleware(tt.v, tt.opts...)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer a.b.c")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tt.wantStatus {
			t.Errorf("%s: status = %d; want %d", tt.name, rec.Code, tt.wantStatus)
		}
		if got := rec.Header().Get("WWW-Authenticate"); got != tt.wantAuth {
			t.Errorf("%s: WWW-Authenticate = %q; want %q", tt.name, got, tt.wantAuth)
		}
	}
}

func TestContextWithClaims(t *testing.T) {
	ctx := ContextWithClaims(context.Background(), &Claims{Roles: []string{"admin"}})
	req := httptest.NewRequest(http.MethodGet, "/", nil).WithContext(ctx)
	rec := httptest.NewRecorder()
	RequireRoles("admin")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTeapot)
	})).ServeHTTP(rec, req)
	if rec.Code != http.StatusTeapot {
		t.Errorf("status = %d; want %d", rec.Code, http.StatusTeapot)
	}
	if _, ok := ClaimsFromContext(context.Background()); ok {
		t.Errorf("ClaimsFromContext(empty) ok = true; want false")
	}
}

func TestParseBearer(t *testing.T) {
	tests := []struct {
		in        string
		wantToken string
		want      tokenResult
	}{
		{"Bearer abc.def.ghi", "abc.def.ghi", tokenOK},
		{"bEaReR abc", "abc", tokenOK},
		{"Bearer abc==", "abc==", tokenOK},
		{"Bearer a+/~-_.b", "a+/~-_.b", tokenOK},
		{"Bearer =abc", "", tokenMalformed},
		{"Bearer ab=c", "", tokenMalformed},
		{"Bearer a b", "", tokenMalformed},
		{"Bearer\tabc", "", tokenAbsent},
		{"Bearerabc", "", tokenAbsent},
		{"Token abc", "", tokenAbsent},
		{"", "", tokenAbsent},
	}
	for _, tt := range tests {
		tok, got := parseBearer(tt.in)
		if tok != tt.wantToken || got != tt.want {
			t.Errorf("parseBearer(%q) = %q, %d; want %q, %d", tt.in, tok, got, tt.wantToken, tt.want)
		}
	}
}

func TestQuoteSafe(t *testing.T) {
	if got, want := quoteSafe(`a"b\c`+"\n\x7fé"), "a'bc"; got != want {
		t.Errorf("quoteSafe = %q; want %q", got, want)
	}
	if strings.ContainsAny(quoteSafe(string(rune(0))+`"\`), "\"\\\x00") {
		t.Errorf("quoteSafe left forbidden characters")
	}
}
