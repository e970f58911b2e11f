package oauth

import (
	"context"
	"time"
)

// SubjectDenyTTL is how long a revoked subject stays on the deny list:
// longer than any access token issued before the revocation can live.
const SubjectDenyTTL = MaxTokenLifetime + time.Hour

// SubjectDenialID is the deny-list entry that revokes every access token
// issued, before the entry was made, to a subject: a user (tokens whose
// "sub" is the user) or a client (tokens whose "sub" or "client_id" is the
// client). Administration denies it for SubjectDenyTTL when it disables or
// deletes a user or client, or resets a password; tokens issued after that
// are not affected, so re-enabling needs no cleanup.
func SubjectDenialID(subject string) string { return "subject:" + subject }

// TokenRef is what the revocation check needs of an access token.
type TokenRef struct {
	ID       string // jti
	Family   string // fid, if any
	Subject  string
	ClientID string
	IssuedAt time.Time
}

// Revoked reports whether an access token was revoked: its jti or its
// refresh family is on the deny list (design D2), or its subject or client
// was revoked after the token was issued. It is one store read.
func (s *Server) Revoked(ctx context.Context, t TokenRef) (bool, error) {
	ids := []string{t.ID, SubjectDenialID(t.Subject)}
	if t.ClientID != t.Subject {
		ids = append(ids, SubjectDenialID(t.ClientID))
	}
	if t.Family != "" {
		ids = append(ids, t.Family)
	}
	denials, err := s.store.DeniedUntil(ctx, ids...)
	if err != nil || len(denials) == 0 {
		return false, err
	}
	now := s.now()
	for _, id := range []string{t.ID, t.Family} {
		if until, ok := denials[id]; ok && until.After(now) {
			return true, nil
		}
	}
	for _, id := range []string{SubjectDenialID(t.Subject), SubjectDenialID(t.ClientID)} {
		// Tokens issued up to the revocation, which was made at
		// until - SubjectDenyTTL; iat has second precision, so a token
		// issued within the same second counts as before.
		if until, ok := denials[id]; ok && !t.IssuedAt.After(until.Add(-SubjectDenyTTL)) {
			return true, nil
		}
	}
	return false, nil
}
