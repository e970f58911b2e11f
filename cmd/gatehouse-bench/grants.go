package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// grant is one kind of token request.
type grant uint8

const (
	grantClientCredentials grant = iota
	grantPassword
	grantRefresh
	numGrants
)

var grantNames = [numGrants]string{"client_credentials", "password", "refresh"}

func (g grant) String() string { return grantNames[g] }

func grantByName(name string) (grant, bool) {
	i := slices.Index(grantNames[:], name)
	return grant(i), i >= 0
}

// endpoint is a token endpoint and what to send it. Its request bodies are
// encoded once; only refresh requests differ per request.
type endpoint struct {
	tokenURL      string
	authorization string // "Basic ..." with RFC 6749 section 2.3.1 encoding
	ccBody        string
	passwordBody  string
	bootstrapBody string // password grant with offline_access, starts a refresh chain
	scope         string
	audience      string
}

func newEndpoint(tokenURL, clientID, secret, username, password, scope, audience string) *endpoint {
	form := func(v url.Values) string {
		if scope != "" {
			v.Set("scope", scope)
		}
		if audience != "" {
			v.Set("audience", audience)
		}
		return v.Encode()
	}
	bootstrap := url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}
	scopes := strings.Fields(scope)
	if !slices.Contains(scopes, "offline_access") {
		scopes = append(scopes, "offline_access")
	}
	bootstrap.Set("scope", strings.Join(scopes, " "))
	if audience != "" {
		bootstrap.Set("audience", audience)
	}
	// RFC 6749 section 2.3.1: id and secret are form-encoded before Basic.
	creds := url.QueryEscape(clientID) + ":" + url.QueryEscape(secret)
	return &endpoint{
		tokenURL:      tokenURL,
		authorization: "Basic " + base64.StdEncoding.EncodeToString([]byte(creds)),
		ccBody:        form(url.Values{"grant_type": {"client_credentials"}}),
		passwordBody:  form(url.Values{"grant_type": {"password"}, "username": {username}, "password": {password}}),
		bootstrapBody: bootstrap.Encode(),
		scope:         scope,
		audience:      audience,
	}
}

// refreshBody asks for the next token of a chain. It sends no scope, so
// the grant keeps what the chain was granted (RFC 6749 section 6).
func (e *endpoint) refreshBody(token string) string {
	return url.Values{"grant_type": {"refresh_token"}, "refresh_token": {token}}.Encode()
}

// outcome is how one request ended: a status code, or a transport error
// class, or a problem with a 200 response.
type outcome struct {
	status    int    // 0 when the request got no response
	transport string // transport error class
	other     string // problem with a 200 response or the chain
	detail    string // first bytes of an error body or message
}

func (o outcome) ok() bool { return o.status == http.StatusOK && o.other == "" }

// maxBody bounds what a worker reads of a response.
const maxBody = 1 << 20

// post sends one token request and reads the whole response so that the
// connection goes back to the pool.
func post(ctx context.Context, c *http.Client, e *endpoint, body string, buf *bytes.Buffer) outcome {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.tokenURL, strings.NewReader(body))
	if err != nil {
		return outcome{transport: "request", detail: err.Error()}
	}
	req.Header = http.Header{
		"Content-Type":  {"application/x-www-form-urlencoded"},
		"Authorization": {e.authorization},
		"Accept":        {"application/json"},
	}
	resp, err := c.Do(req)
	if err != nil {
		return outcome{transport: classifyTransport(err), detail: err.Error()}
	}
	buf.Reset()
	_, err = buf.ReadFrom(io.LimitReader(resp.Body, maxBody))
	resp.Body.Close()
	if err != nil {
		return outcome{status: resp.StatusCode, transport: classifyTransport(err), detail: err.Error()}
	}
	o := outcome{status: resp.StatusCode}
	if resp.StatusCode != http.StatusOK {
		o.detail = truncate(strings.TrimSpace(buf.String()), 200)
	} else if !bytes.Contains(buf.Bytes(), []byte(`"access_token"`)) {
		o.other, o.detail = "no_access_token", truncate(buf.String(), 200)
	}
	return o
}

// refreshToken returns the refresh token of a successful response.
func refreshToken(body []byte) (string, error) {
	var r struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &r); err != nil {
		return "", fmt.Errorf("decode token response: %w", err)
	}
	if r.RefreshToken == "" {
		return "", errors.New("token response has no refresh_token; does the client have the refresh_token grant and offline_access?")
	}
	return r.RefreshToken, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
