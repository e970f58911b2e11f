package oauth

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/storage"
)

// UpstreamIdentity is what a connector kind read about a user from the
// upstream (an OpenID provider's ID token, an LDAP entry and its groups).
type UpstreamIdentity struct {
	// Subject is the upstream's stable identifier of the user; required.
	Subject string
	// Email and EmailVerified: EmailVerified must be true only when the
	// upstream vouches for the address (OIDC Core 1.0 section 5.1).
	Email         string
	EmailVerified bool
	Name          string
	// PreferredUsername names a provisioned user ("<connector>/<name>").
	PreferredUsername string
	// Roles are the upstream's role or group names, before the
	// connector's role map.
	Roles []string
	// AuthTime is when the user authenticated upstream (an OpenID
	// provider's auth_time); zero when the upstream did not say.
	AuthTime time.Time
}

// Why linking refused an upstream identity. Login pages show a fixed
// message per error; the password grant answers invalid_grant.
var (
	// ErrConnectorDisabled: the connector is disabled.
	ErrConnectorDisabled = errors.New("oauth: connector disabled")
	// ErrNotProvisioned: the identity is linked to no user, and the
	// connector neither provisions nor could link it by email.
	ErrNotProvisioned = errors.New("oauth: no user is linked to this upstream identity")
	// ErrLinkRefused: the identity's email is not verified upstream, not
	// in an allowed domain, or matches more than one user.
	ErrLinkRefused = errors.New("oauth: upstream identity refused")
	// ErrUserDisabled: the linked user is disabled in Gatehouse.
	ErrUserDisabled = errors.New("oauth: linked user disabled")
	// ErrUpstreamRevoked is what an UpstreamRereader returns (wrapped)
	// when the upstream no longer knows the user, has disabled it, or
	// refused the upstream grant: the refresh is refused and its family
	// revoked.
	ErrUpstreamRevoked = errors.New("oauth: user removed or disabled upstream")
)

// UpstreamRereader is what a connector kind implements so that a refresh
// re-reads a linked user upstream (issue 16 point 4: roles are re-read at
// every refresh; a user removed upstream cannot refresh). Reread returns
// the identity as the upstream sees it now; an error wrapping
// ErrUpstreamRevoked refuses the refresh (invalid_grant) and revokes the
// family; any other error is an outage, answered 503
// temporarily_unavailable, and the family lives. A kind may return a
// changed link (a rotated upstream refresh token); Gatehouse stores it.
type UpstreamRereader interface {
	Reread(ctx context.Context, c storage.Connector, link storage.IdentityLink) (UpstreamIdentity, storage.IdentityLink, error)
}

// LinkStore is what linking needs from the store.
type LinkStore interface {
	storage.IdentityLinkStore
	GetUser(ctx context.Context, id string) (storage.User, error)
	UpdateUser(ctx context.Context, id string, fn func(storage.User) (storage.User, error)) error
}

// Bounds on what an upstream may send.
const (
	maxUpstreamSubject = 255 // OIDC Core 1.0 section 2: sub is at most 255 ASCII characters
	maxUpstreamText    = 512
	maxUpstreamRoles   = 256
)

// LinkIdentity finds the Gatehouse user of an upstream identity that
// connector c authenticated, at login (both kinds share it):
//
//  1. A link of (c.ID, id.Subject) names the user.
//  2. Otherwise, with c.LinkByEmail, the identity is linked to the one
//     user whose email equals id.Email, and only when the upstream says
//     the email is verified and the user's email is verified too; a
//     matching email without both is ErrLinkRefused (account takeover
//     otherwise), as is an email two users share, and a user already
//     linked to another identity of c (an address the provider recycled).
//  3. Otherwise, with c.Provision, a user is created with its link in one
//     atomic step (storage.IdentityLinkStore.CreateIdentityLink), so of
//     concurrent first logins of one identity exactly one provisions; the
//     others find its link. A provisioned user has no password.
//  4. Otherwise ErrNotProvisioned.
//
// When c.RoleMap is not empty, the connector manages the user's roles:
// they are replaced by the upstream roles mapped through it (an
// allow-list, verifier.MapRoles) at every login and every refresh, so
// tokens and refreshes carry them from the user record as they do for
// local users. With c.EmailDomains, only an identity with a verified
// email in one of them is admitted. The link's LastLoginAt is set to now.
func LinkIdentity(ctx context.Context, st LinkStore, c storage.Connector, id UpstreamIdentity, now time.Time) (storage.User, storage.IdentityLink, error) {
	if c.Disabled {
		return storage.User{}, storage.IdentityLink{}, ErrConnectorDisabled
	}
	if err := checkUpstream(c, id); err != nil {
		return storage.User{}, storage.IdentityLink{}, err
	}
	// Two passes: a lost race to create the link is followed by reading
	// the winner's link.
	for range 2 {
		link, err := st.GetIdentityLink(ctx, c.ID, id.Subject)
		if err == nil {
			return applyUpstream(ctx, st, c, link, id, now)
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return storage.User{}, storage.IdentityLink{}, fmt.Errorf("link identity: %w", err)
		}
		link, user, err := newLink(ctx, st, c, id, now)
		if err != nil {
			return storage.User{}, storage.IdentityLink{}, err
		}
		if err = st.CreateIdentityLink(ctx, link, user); err == nil {
			return applyUpstream(ctx, st, c, link, id, now)
		}
		if user != nil && errors.Is(err, storage.ErrAlreadyExists) {
			// The username may have been taken, not the link: name the
			// user by its upstream subject, else by its own random id
			// (which no other user's name holds), so that a name someone
			// else holds never blocks a first login.
			for _, name := range []string{provisionedUsername(c.ID, id.Subject), provisionedUsername(c.ID, user.ID)} {
				if _, lerr := st.GetIdentityLink(ctx, c.ID, id.Subject); !errors.Is(lerr, storage.ErrNotFound) || name == "" || name == user.Username {
					continue
				}
				u := *user
				u.Username = name
				if err = st.CreateIdentityLink(ctx, link, &u); err == nil {
					return applyUpstream(ctx, st, c, link, id, now)
				}
				if !errors.Is(err, storage.ErrAlreadyExists) {
					break
				}
			}
		}
		if !errors.Is(err, storage.ErrAlreadyExists) {
			return storage.User{}, storage.IdentityLink{}, fmt.Errorf("link identity: %w", err)
		}
	}
	return storage.User{}, storage.IdentityLink{}, fmt.Errorf("link identity: %w", storage.ErrUnavailable)
}

// checkUpstream refuses what no store can hold and what the connector's
// email domains do not admit.
func checkUpstream(c storage.Connector, id UpstreamIdentity) error {
	if id.Subject == "" || len(id.Subject) > maxUpstreamSubject || !storage.ValidText(id.Subject) {
		return fmt.Errorf("%w: upstream subject empty, too long or not text", ErrLinkRefused)
	}
	for _, s := range []string{id.Email, id.Name, id.PreferredUsername} {
		if len(s) > maxUpstreamText || !storage.ValidText(s) {
			return fmt.Errorf("%w: upstream profile too long or not text", ErrLinkRefused)
		}
	}
	if len(id.Roles) > maxUpstreamRoles {
		return fmt.Errorf("%w: %d upstream roles", ErrLinkRefused, len(id.Roles))
	}
	if len(c.EmailDomains) > 0 {
		_, domain, ok := strings.Cut(id.Email, "@")
		if !ok || !id.EmailVerified || !slices.Contains(c.EmailDomains, strings.ToLower(domain)) {
			return fmt.Errorf("%w: email not verified or not in an allowed domain", ErrLinkRefused)
		}
	}
	return nil
}

// newLink decides how an unlinked identity is linked: to an existing user
// by email, or to a new user (returned, to be created with the link).
func newLink(ctx context.Context, st LinkStore, c storage.Connector, id UpstreamIdentity, now time.Time) (storage.IdentityLink, *storage.User, error) {
	link := storage.IdentityLink{ConnectorID: c.ID, Subject: id.Subject, CreatedAt: now, LastLoginAt: now}
	if c.LinkByEmail && id.Email != "" {
		users, err := st.FindUsersByEmail(ctx, id.Email)
		if err != nil {
			return link, nil, fmt.Errorf("link identity: %w", err)
		}
		switch {
		case len(users) > 1:
			return link, nil, fmt.Errorf("%w: %d users have this email", ErrLinkRefused, len(users))
		case len(users) == 1 && (!id.EmailVerified || !users[0].EmailVerified):
			return link, nil, fmt.Errorf("%w: linking by email needs the email verified upstream and here", ErrLinkRefused)
		case len(users) == 1:
			// A user linked through this connector already is another
			// upstream account's (a recycled address): refused, as
			// Keycloak refuses, never a second identity on the account.
			links, err := st.ListUserIdentityLinks(ctx, users[0].ID)
			if err != nil {
				return link, nil, fmt.Errorf("link identity: %w", err)
			}
			// (A link of this very identity is a concurrent first login's:
			// creating the link then fails and the next pass reads it.)
			if slices.ContainsFunc(links, func(l storage.IdentityLink) bool { return l.ConnectorID == c.ID && l.Subject != id.Subject }) {
				return link, nil, fmt.Errorf("%w: the user with this email is linked to another identity of this connector", ErrLinkRefused)
			}
			link.UserID = users[0].ID
			return link, nil, nil
		}
	}
	if !c.Provision {
		return link, nil, ErrNotProvisioned
	}
	userID := "u-" + strings.ToLower(rand.Text())
	name := cmpOr(provisionedUsername(c.ID, id.PreferredUsername), provisionedUsername(c.ID, id.Email),
		provisionedUsername(c.ID, id.Subject), provisionedUsername(c.ID, userID))
	u := &storage.User{
		ID:       userID,
		Username: name,
		Email:    id.Email, EmailVerified: id.EmailVerified, Name: id.Name,
		CreatedAt: now, UpdatedAt: now,
	}
	if len(c.RoleMap) > 0 {
		u.Roles = verifier.MapRoles(id.Roles, c.RoleMap)
	}
	link.UserID, link.Provisioned = u.ID, true
	return link, u, nil
}

// maxProvisionedUsername bounds a provisioned username, in runes, as
// the admin API bounds usernames.
const maxProvisionedUsername = 128

// provisionedUsername is "<connector>/<name>" normalized, or "" when name
// is empty, too long, or holds a character the username rules refuse
// (anything but letters, digits, marks and . _ @ + -: no control, bidi or
// format characters from an upstream's profile in a username).
func provisionedUsername(connector, name string) string {
	n := NormalizeUsername(connector + "/" + name)
	prefix := NormalizeUsername(connector + "/")
	rest, ok := strings.CutPrefix(n, prefix)
	if !ok || !usernameText(rest) || utf8.RuneCountInString(n) > maxProvisionedUsername {
		return ""
	}
	return n
}

// usernameText reports whether s is not empty and holds only what the
// username rules allow: letters, digits, marks and . _ @ + -.
func usernameText(s string) bool {
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsMark(r) && !strings.ContainsRune("._@+-", r) {
			return false
		}
	}
	return s != ""
}

func cmpOr(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

// applyUpstream writes what the upstream is the source of truth for (the
// mapped roles, when the connector has a role map) to the linked user,
// records the login on the link, and returns both.
func applyUpstream(ctx context.Context, st LinkStore, c storage.Connector, link storage.IdentityLink, id UpstreamIdentity, now time.Time) (storage.User, storage.IdentityLink, error) {
	user, err := SyncUpstreamRoles(ctx, st, c, link.UserID, id.Roles, now)
	if err != nil {
		return storage.User{}, storage.IdentityLink{}, err
	}
	err = st.UpdateIdentityLink(ctx, link.ConnectorID, link.Subject, func(l storage.IdentityLink) (storage.IdentityLink, error) {
		l.LastLoginAt = now
		link = l
		return l, nil
	})
	if err != nil {
		return storage.User{}, storage.IdentityLink{}, fmt.Errorf("link identity: %w", err)
	}
	return user, link, nil
}

// SyncUpstreamRoles sets user userID's roles to upstream mapped through
// c.RoleMap, when c has one (else it leaves them), and returns the user. A
// disabled user is ErrUserDisabled. The user is written only when its
// roles changed.
func SyncUpstreamRoles(ctx context.Context, st LinkStore, c storage.Connector, userID string, upstream []string, now time.Time) (storage.User, error) {
	u, err := st.GetUser(ctx, userID)
	if err != nil {
		return storage.User{}, fmt.Errorf("linked user: %w", err)
	}
	if u.Disabled {
		return storage.User{}, ErrUserDisabled
	}
	if len(c.RoleMap) == 0 {
		return u, nil
	}
	roles := verifier.MapRoles(upstream, c.RoleMap)
	slices.Sort(roles)
	if slices.Equal(roles, slices.Sorted(slices.Values(u.Roles))) {
		return u, nil
	}
	err = st.UpdateUser(ctx, userID, func(cur storage.User) (storage.User, error) {
		if cur.Disabled {
			return cur, ErrUserDisabled
		}
		cur.Roles, cur.UpdatedAt = roles, now
		u = cur
		return cur, nil
	})
	if err != nil {
		return storage.User{}, fmt.Errorf("linked user roles: %w", err)
	}
	return u, nil
}
