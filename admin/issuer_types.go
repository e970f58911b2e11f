package admin

import "time"

// TrustedIssuer is an external issuer whose tokens Gatehouse accepts
// (design D14), as administrators see it.
type TrustedIssuer struct {
	ID string `json:"id"`
	// Issuer is the exact "iss" of the issuer's tokens.
	Issuer string `json:"issuer"`
	// JWKSURI is empty when keys come from the issuer's discovery document.
	JWKSURI string `json:"jwks_uri"`
	// Audiences are the accepted "aud" values; empty means Gatehouse's
	// issuer and token endpoint.
	Audiences []string `json:"audiences"`
	// Algorithms is the JWS allow-list; empty means the defaults (ES256,
	// ES384, RS256, PS256, EdDSA).
	Algorithms []string `json:"algorithms"`
	// SubjectClaim names the subject ("sub" by default); SubjectType says
	// whether it is a Gatehouse username ("user") or client id ("client").
	SubjectClaim string `json:"subject_claim"`
	SubjectType  string `json:"subject_type"`
	// RolesClaim is a claim path ("realm_access.roles", "groups",
	// "\"https://example.com/roles\""); RoleMap the allow-list from its
	// role names to Gatehouse roles.
	RolesClaim string            `json:"roles_claim"`
	RoleMap    map[string]string `json:"role_map"`
	// MaxTokenAgeSeconds bounds now - iat of an accepted token.
	MaxTokenAgeSeconds int64 `json:"max_token_age_seconds"`
	// Provision lets a token whose subject names no user create one
	// (subject_type "user" only); off by default.
	Provision bool      `json:"provision"`
	Disabled  bool      `json:"disabled"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// TrustedIssuerParams registers a trusted issuer.
type TrustedIssuerParams struct {
	// ID is optional; the server generates one when it is empty.
	ID                 string            `json:"id,omitempty"`
	Issuer             string            `json:"issuer"`
	JWKSURI            string            `json:"jwks_uri,omitempty"`
	Audiences          []string          `json:"audiences,omitempty"`
	Algorithms         []string          `json:"algorithms,omitempty"`
	SubjectClaim       string            `json:"subject_claim,omitempty"`
	SubjectType        string            `json:"subject_type,omitempty"`
	RolesClaim         string            `json:"roles_claim,omitempty"`
	RoleMap            map[string]string `json:"role_map,omitempty"`
	MaxTokenAgeSeconds int64             `json:"max_token_age_seconds,omitempty"`
	Provision          bool              `json:"provision,omitempty"`
	Disabled           bool              `json:"disabled,omitempty"`
}

// TrustedIssuerPatch changes the fields it sets and leaves the others.
type TrustedIssuerPatch struct {
	Issuer             *string            `json:"issuer,omitempty"`
	JWKSURI            *string            `json:"jwks_uri,omitempty"`
	Audiences          *[]string          `json:"audiences,omitempty"`
	Algorithms         *[]string          `json:"algorithms,omitempty"`
	SubjectClaim       *string            `json:"subject_claim,omitempty"`
	SubjectType        *string            `json:"subject_type,omitempty"`
	RolesClaim         *string            `json:"roles_claim,omitempty"`
	RoleMap            *map[string]string `json:"role_map,omitempty"`
	MaxTokenAgeSeconds *int64             `json:"max_token_age_seconds,omitempty"`
	Provision          *bool              `json:"provision,omitempty"`
	Disabled           *bool              `json:"disabled,omitempty"`
}
