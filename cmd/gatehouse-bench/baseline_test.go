package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func baselineRequest(method, body, id, secret string) *http.Request {
	r := httptest.NewRequest(method, "/oauth2/token", strings.NewReader(body))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if id != "" {
		r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	}
	return r
}

func TestBaselineIssuesVerifiableES256Token(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	b, err := newBaseline("http://127.0.0.1:1", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	b.ServeHTTP(w, baselineRequest(http.MethodPost, "grant_type=client_credentials&scope=read", baselineClientID, baselineSecret))
	if w.Code != http.StatusOK || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("token: %d %v %s; want 200 with Cache-Control: no-store", w.Code, w.Header(), w.Body)
	}
	var resp baselineResponse
	if err := json.Unmarshal(w.Body.Bytes(), &resp); err != nil || resp.TokenType != "bearer" || resp.Scope != "read" || resp.ExpiresIn != 600 {
		t.Fatalf("response %s (%v); want bearer, scope read, expires_in 600", w.Body, err)
	}
	parts := strings.Split(resp.AccessToken, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a compact JWS", resp.AccessToken)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature %q: %v; want 64 bytes", parts[2], err)
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(&b.key.PublicKey, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		t.Error("signature does not verify")
	}
	var header map[string]string
	hb, _ := base64.RawURLEncoding.DecodeString(parts[0])
	if err := json.Unmarshal(hb, &header); err != nil || header["alg"] != "ES256" || header["typ"] != "at+jwt" || header["kid"] == "" {
		t.Errorf("header %s; want alg ES256, typ at+jwt and a kid", hb)
	}
	var claims map[string]any
	pb, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(pb, &claims); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "client_id", "scope", "roles"} {
		if _, ok := claims[k]; !ok {
			t.Errorf("claims %s lack %q", pb, k)
		}
	}
	if claims["exp"].(float64) != float64(now.Add(10*time.Minute).Unix()) || claims["client_id"] != baselineClientID || len(claims["jti"].(string)) != 36 {
		t.Errorf("claims %s; want exp now+10m, client_id %s, a UUID jti", pb, baselineClientID)
	}
}

func TestBaselineRefuses(t *testing.T) {
	b, err := newBaseline("http://127.0.0.1:1", time.Now)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  *http.Request
		code int
	}{
		{"wrong secret", baselineRequest(http.MethodPost, "grant_type=client_credentials", baselineClientID, "nope"), 401},
		{"wrong client", baselineRequest(http.MethodPost, "grant_type=client_credentials", "other", baselineSecret), 401},
		{"no auth", baselineRequest(http.MethodPost, "grant_type=client_credentials", "", ""), 401},
		{"password grant, wrong password", baselineRequest(http.MethodPost, "grant_type=password&username=baseline-user&password=x", baselineClientID, baselineSecret), 400},
		{"password grant", baselineRequest(http.MethodPost, "grant_type=password&username=baseline-user&password="+baselinePassword, baselineClientID, baselineSecret), 200},
		{"refresh grant", baselineRequest(http.MethodPost, "grant_type=refresh_token", baselineClientID, baselineSecret), 400},
		{"unknown scope", baselineRequest(http.MethodPost, "grant_type=client_credentials&scope=admin", baselineClientID, baselineSecret), 400},
		{"unknown audience", baselineRequest(http.MethodPost, "grant_type=client_credentials&audience=x", baselineClientID, baselineSecret), 400},
		{"GET", baselineRequest(http.MethodGet, "", baselineClientID, baselineSecret), 405},
	} {
		w := httptest.NewRecorder()
		b.ServeHTTP(w, tc.req)
		if w.Code != tc.code || w.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d %s; want %d with no-store", tc.name, w.Code, w.Body, tc.code)
		}
	}
}

func TestBaselineServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- runWith(ctx, []string{"--baseline-serve", "127.0.0.1:0"}, func(string) string { return "" }, out, &strings.Builder{}, testDeps(t))
	}()
	var base string
	for deadline := time.Now().Add(5 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for line := range strings.SplitSeq(out.String(), "\n") {
			if v, ok := strings.CutPrefix(line, "url="); ok {
				base = v
			}
		}
	}
	if base == "" {
		t.Fatalf("--baseline-serve printed no url= line: %q", out.String())
	}
	var r result
	runJSON(t, testDeps(t), []string{"--url", base, "--client-id", baselineClientID, "--client-secret", baselineSecret, "--requests", "100", "-c", "2"}, &r)
	checkResult(t, &r)
	if r.OK != 100 {
		t.Errorf("ok %d; want 100 against the served baseline (status %v)", r.OK, r.Status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("--baseline-serve stopped with %v; want nil", err)
	}
}

// FuzzBaselineToken feeds the baseline's form and Basic parsing arbitrary
// input: it must answer with an OAuth status, never panic.
func FuzzBaselineToken(f *testing.F) {
	b, err := newBaseline("http://127.0.0.1:1", time.Now)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("grant_type=client_credentials", "Basic "+base64.StdEncoding.EncodeToString([]byte(baselineClientID+":"+baselineSecret)))
	f.Add("grant_type=client_credentials&scope=%zz", "Basic !!!")
	f.Add("scope=read+write&audience=api", "Basic "+base64.StdEncoding.EncodeToString([]byte("%:%")))
	f.Fuzz(func(t *testing.T, body, auth string) {
		r := httptest.NewRequest(http.MethodPost, "/oauth2/token", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		r.Header.Set("Authorization", auth)
		w := httptest.NewRecorder()
		b.ServeHTTP(w, r)
		switch w.Code {
		case 200, 400, 401:
		default:
			t.Errorf("status %d for body %q auth %q", w.Code, body, auth)
		}
	})
}
