package oauth

import (
	"errors"
	"net/url"
	"testing"

	"github.com/ory/fosite"
)

// The identifiers are RFC 8693's (sections 2.1 and 3), spelled out here
// from the RFC, not from the constants.
func TestTokenExchangeIdentifiers(t *testing.T) {
	for got, want := range map[string]string{
		GrantTypeTokenExchange: "urn:ietf:params:oauth:grant-type:token-exchange",
		TokenTypeAccessToken:   "urn:ietf:params:oauth:token-type:access_token",
		TokenTypeJWT:           "urn:ietf:params:oauth:token-type:jwt",
		TokenTypeIDToken:       "urn:ietf:params:oauth:token-type:id_token",
	} {
		if got != want {
			t.Errorf("identifier %q; want %q (RFC 8693)", got, want)
		}
	}
}

// actorClaim nests the previous actor (RFC 8693 section 4.1) and refuses
// a chain longer than maxActorDepth or one that is not objects.
func TestActorClaim(t *testing.T) {
	act, err := actorClaim("b", map[string]any{"sub": "a"})
	if err != nil || act["sub"] != "b" || act["act"].(map[string]any)["sub"] != "a" {
		t.Errorf("actorClaim(b, {sub: a}) = %v, %v; want {sub: b, act: {sub: a}}", act, err)
	}
	var chain any
	for range maxActorDepth {
		chain = map[string]any{"sub": "x", "act": chain}
		if chain.(map[string]any)["act"] == nil {
			delete(chain.(map[string]any), "act")
		}
	}
	if _, err := actorClaim("y", chain); err != nil {
		t.Errorf("actorClaim with %d earlier actors: %v; want it accepted", maxActorDepth, err)
	}
	for _, bad := range []any{map[string]any{"sub": "x", "act": chain}, "a string", map[string]any{"sub": "x", "act": 7}} {
		var rfc *fosite.RFC6749Error
		if _, err := actorClaim("y", bad); !errors.As(err, &rfc) || rfc.ErrorField != "invalid_request" {
			t.Errorf("actorClaim(y, %v) = %v; want invalid_request", bad, err)
		}
	}
}

func TestIssuedTokenType(t *testing.T) {
	for rt, want := range map[string]string{
		"": "urn:ietf:params:oauth:token-type:access_token",
		"urn:ietf:params:oauth:token-type:access_token":  "urn:ietf:params:oauth:token-type:access_token",
		"urn:ietf:params:oauth:token-type:jwt":           "urn:ietf:params:oauth:token-type:jwt",
		"urn:ietf:params:oauth:token-type:id_token":      "",
		"urn:ietf:params:oauth:token-type:refresh_token": "",
	} {
		got, ok := issuedTokenType(url.Values{"requested_token_type": {rt}})
		if got != want || ok != (want != "") {
			t.Errorf("issuedTokenType(%q) = %q, %v; want %q", rt, got, ok, want)
		}
	}
}
