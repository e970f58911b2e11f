package admin

import (
	"context"
	"errors"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Renamed is a user whose stored username RenormalizeUsernames changed, or
// could not change because the new form is taken.
type Renamed struct {
	ID   string `json:"id"`
	From string `json:"from"`
	To   string `json:"to"`
	// Conflict: another user already holds To; the user keeps From (it
	// still logs in, through the old-form fallback) until an operator
	// resolves it.
	Conflict bool `json:"conflict,omitempty"`
}

// RenormalizeUsernames rewrites every stored username that is not in the
// current form (oauth.NormalizeUsername: NFC after case folding), such as
// users created when usernames were only lower-cased. Each rename is
// audited. Running it twice changes nothing the second time.
func (s *Service) RenormalizeUsernames(ctx context.Context) ([]Renamed, error) {
	users, err := s.store.ListUsers(ctx)
	if err != nil {
		return nil, err
	}
	out := []Renamed{}
	for _, u := range users {
		to := oauth.NormalizeUsername(u.Username)
		if to == u.Username {
			continue
		}
		r := Renamed{ID: u.ID, From: u.Username, To: to}
		_, err := s.updateUser(ctx, u.ID, func(u *storage.User) error { u.Username = to; return nil })
		switch {
		case errors.Is(err, storage.ErrAlreadyExists):
			r.Conflict = true
		case err != nil:
			return out, err
		default:
			s.audit(ctx, "user.renormalize", "user", u.ID, "from", r.From, "to", r.To)
		}
		out = append(out, r)
	}
	return out, nil
}
