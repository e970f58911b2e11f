package admin

import "time"

// User is a user as administrators see it: everything but the password
// hash.
type User struct {
	ID string `json:"id"`
	// Username is the stored form: NFC after Unicode case folding.
	Username string   `json:"username"`
	Roles    []string `json:"roles"`
	// Email, EmailVerified and Name are the optional OpenID Connect
	// profile claims (OIDC Core 1.0 section 5.1); empty when unset.
	Email         string    `json:"email"`
	EmailVerified bool      `json:"email_verified"`
	Name          string    `json:"name"`
	Disabled      bool      `json:"disabled"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// UserWithPassword is a new user and, when the server generated it, the
// password, shown this once.
type UserWithPassword struct {
	User
	Password string `json:"password,omitempty"`
}

// UserParams creates a user.
type UserParams struct {
	// Username is compared case-insensitively and in Unicode NFC, so
	// "Alice" and "alice" are one user.
	Username string `json:"username"`
	// Password is optional: empty means the server generates one and
	// returns it once.
	Password string   `json:"password,omitempty"`
	Roles    []string `json:"roles,omitempty"`
	// Email is an address without a display name (RFC 5322 addr-spec);
	// EmailVerified says the operator checked it; Name is the full name.
	Email         string `json:"email,omitempty"`
	EmailVerified bool   `json:"email_verified,omitempty"`
	Name          string `json:"name,omitempty"`
}

// UserPatch changes the profile fields it sets and leaves the others; an
// empty string removes a value. Changing the email without saying
// email_verified marks it unverified.
type UserPatch struct {
	Email         *string `json:"email,omitempty"`
	EmailVerified *bool   `json:"email_verified,omitempty"`
	Name          *string `json:"name,omitempty"`
}

// PasswordParams sets a user's password; an empty Password means the
// server generates one and returns it once.
type PasswordParams struct {
	Password string `json:"password,omitempty"`
}

// RolesParams names roles to add or remove.
type RolesParams struct {
	Roles []string `json:"roles"`
}
