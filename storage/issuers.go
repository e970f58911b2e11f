package storage

import (
	"context"
	"time"
)

// Subject types of a TrustedIssuer: what its tokens' subjects name.
const (
	// SubjectUser maps a subject to the Gatehouse user of that username.
	SubjectUser = "user"
	// SubjectClient maps a subject to the Gatehouse client of that id.
	SubjectClient = "client"
)

// TrustedIssuer is an external token issuer an operator trusts (design
// D14): its tokens come in through the JWT bearer grant (RFC 7523) and
// token exchange (RFC 8693), and nothing about it is fetched unless it is
// registered here.
type TrustedIssuer struct {
	ID string
	// Issuer is the exact "iss" of its tokens and the base of its
	// discovery document (RFC 8414 section 3); unique.
	Issuer string
	// JWKSURI, when set, is where its keys are fetched from instead of the
	// jwks_uri of its discovery document.
	JWKSURI string
	// Audiences are the "aud" values its tokens may name to be accepted;
	// empty means Gatehouse's issuer and token endpoint.
	Audiences []string
	// Algorithms is the JWS "alg" allow-list (asymmetric only); empty
	// means the verifier's defaults.
	Algorithms []string
	// SubjectClaim is the claim that names the subject; empty means "sub".
	SubjectClaim string
	// SubjectType is SubjectUser or SubjectClient.
	SubjectType string
	// RolesClaim is a claim path in verifier.ClaimPath's string form
	// ("realm_access.roles"); empty takes no roles from the token.
	RolesClaim string
	// RoleMap maps upstream role names to Gatehouse roles; an allow-list:
	// roles it does not name are dropped.
	RoleMap map[string]string
	// MaxTokenAge bounds now - iat of an accepted token; zero means the
	// server's default.
	MaxTokenAge time.Duration
	// Provision lets a token whose subject names no Gatehouse user create
	// one (SubjectUser only): a user with that username, no password and
	// no roles of its own. Off by default: an unknown subject is refused.
	Provision bool
	Disabled  bool
	CreatedAt time.Time
	UpdatedAt time.Time
}

// TrustedIssuerStore keeps trusted issuers.
type TrustedIssuerStore interface {
	GetTrustedIssuer(ctx context.Context, id string) (TrustedIssuer, error)
	// GetTrustedIssuerByIssuer returns the issuer whose Issuer is iss,
	// compared byte for byte.
	GetTrustedIssuerByIssuer(ctx context.Context, iss string) (TrustedIssuer, error)
	// CreateTrustedIssuer stores a new issuer; its id and Issuer must be
	// unused (ErrAlreadyExists).
	CreateTrustedIssuer(ctx context.Context, ti TrustedIssuer) error
	// UpdateTrustedIssuer applies fn to the stored issuer atomically.
	UpdateTrustedIssuer(ctx context.Context, id string, fn func(TrustedIssuer) (TrustedIssuer, error)) error
	DeleteTrustedIssuer(ctx context.Context, id string) error
	// ListTrustedIssuers returns every issuer ordered by id.
	ListTrustedIssuers(ctx context.Context) ([]TrustedIssuer, error)
}
