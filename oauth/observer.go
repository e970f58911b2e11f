package oauth

import (
	"context"
	"time"
)

// PasswordObserver is told about the password path's events: throttle
// blocks and clears, and how long password hashes waited for a slot. Its
// methods must be quick and safe for concurrent use. Every place that
// takes one accepts nil.
type PasswordObserver interface {
	// ThrottleBlocked: a counter of this kind (KindName) reached its limit;
	// its next attempt in the window is refused.
	ThrottleBlocked(kind string)
	// ThrottleCleared: an operator cleared a counter of this kind.
	ThrottleCleared(kind string)
	// PasswordHashWait: a hash waited this long for a slot; outcome is
	// "ok", "queue_full" (refused at once) or "deadline" (gave up).
	PasswordHashWait(wait time.Duration, outcome string)
}

// Observer is told what the protocol layer does, for metrics and the
// access log (design D12). cmd/gatehouse implements it over Prometheus;
// Config.Observer nil observes nothing. Every label it receives has a
// bounded set of values: grant types, RFC 6749 error codes, token types,
// throttle counter kinds. Never a client id or user, except to
// ClientAuthenticated, which is for the request's own log line and must
// not become a label.
type Observer interface {
	PasswordObserver
	// TokenRequest reports one token-endpoint request: its grant type
	// (one of GrantTypes, or "other") and its outcome ("ok" or the RFC
	// 6749 section 5.2 error code answered).
	TokenRequest(ctx context.Context, grant, outcome string)
	// TokenIssued reports a token handed out: "access_token" or
	// "refresh_token", by grant type.
	TokenIssued(ctx context.Context, grant, tokenType string)
	// ClientAuthenticated names the client a request authenticated as.
	ClientAuthenticated(ctx context.Context, clientID string)
	// RefreshReuse reports a refresh token presented again after its
	// rotation (RFC 9700 section 4.14.2): its family is revoked.
	RefreshReuse(ctx context.Context)
	// Revoked reports a successful RFC 7009 revocation: "access_token"
	// when the token was a verified access token, else "other" (a refresh
	// token, or a token Gatehouse does not know).
	Revoked(ctx context.Context, tokenType string)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) TokenRequest(context.Context, string, string) {}
func (NopObserver) TokenIssued(context.Context, string, string)  {}
func (NopObserver) ClientAuthenticated(context.Context, string)  {}
func (NopObserver) RefreshReuse(context.Context)                 {}
func (NopObserver) Revoked(context.Context, string)              {}
func (NopObserver) ThrottleBlocked(string)                       {}
func (NopObserver) ThrottleCleared(string)                       {}
func (NopObserver) PasswordHashWait(time.Duration, string)       {}

// grantLabel is r's grant type as a label: one of GrantTypes or "other".
func grantLabel(gt string) string {
	for _, g := range GrantTypes() {
		if g == gt {
			return g
		}
	}
	return "other"
}
