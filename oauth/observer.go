package oauth

import (
	"context"
	"time"
)

// Observer is told what the protocol layer does, for metrics and the
// access log (design D12). cmd/gatehouse implements it over Prometheus;
// Config.Observer nil observes nothing. Every label it receives has a
// bounded set of values: grant types, RFC 6749 error codes, token types.
// Never a client id or user, except to ClientAuthenticated, which is for
// the request's own log line and must not become a label.
type Observer interface {
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
	// ThrottleBlocked reports a password-grant request refused by the
	// failed-login throttle.
	ThrottleBlocked(ctx context.Context)
	// PasswordHashWait reports how long a password hash waited for a free
	// slot (0 when it did not wait).
	PasswordHashWait(d time.Duration)
}

// NopObserver observes nothing.
type NopObserver struct{}

func (NopObserver) TokenRequest(context.Context, string, string) {}
func (NopObserver) TokenIssued(context.Context, string, string)  {}
func (NopObserver) ClientAuthenticated(context.Context, string)  {}
func (NopObserver) RefreshReuse(context.Context)                 {}
func (NopObserver) Revoked(context.Context, string)              {}
func (NopObserver) ThrottleBlocked(context.Context)              {}
func (NopObserver) PasswordHashWait(time.Duration)               {}

// grantLabel is r's grant type as a label: one of GrantTypes or "other".
func grantLabel(gt string) string {
	for _, g := range GrantTypes {
		if g == gt {
			return g
		}
	}
	return "other"
}
