package oauth

import (
	"context"
	"fmt"
	"time"
)

// DenyTTL is how long a deny-list entry that revokes access tokens lasts:
// longer than any access token issued before it can live.
const DenyTTL = MaxTokenLifetime + time.Hour

// SubjectDenialID is the deny-list entry that revokes every access token
// issued, before the entry was made, to a subject: a user (tokens whose
// "sub" is the user) or a client (tokens whose "sub" or "client_id" is the
// client). RevokeSubject denies it for DenyTTL; tokens issued after that
// are not affected, so re-enabling needs no cleanup.
func SubjectDenialID(subject string) string { return "subject:" + subject }

// SubjectRevoker is what RevokeSubject needs from the store.
type SubjectRevoker interface {
	RevokeSubjectRefreshFamilies(ctx context.Context, subject string, at time.Time) ([]string, error)
	Deny(ctx context.Context, id string, until time.Time) error
}

// RevokeSubject revokes a user or a client (by id), as administration does
// when it disables or deletes one or resets a password: every refresh
// family of the subject (a client's: every family held by the client),
// and every access token issued to it up to now, by family id and by a
// subject denial (design D2). It returns how many live families it
// revoked.
func RevokeSubject(ctx context.Context, store SubjectRevoker, subject string, now time.Time) (int, error) {
	families, err := store.RevokeSubjectRefreshFamilies(ctx, subject, now)
	if err != nil {
		return 0, fmt.Errorf("revoke refresh families of %q: %w", subject, err)
	}
	until := now.Add(DenyTTL)
	for _, f := range families {
		if err := store.Deny(ctx, f, until); err != nil {
			return 0, fmt.Errorf("deny refresh family: %w", err)
		}
	}
	if err := store.Deny(ctx, SubjectDenialID(subject), until); err != nil {
		return 0, fmt.Errorf("deny subject: %w", err)
	}
	return len(families), nil
}

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
		// until - DenyTTL; iat has second precision, so a token
		// issued within the same second counts as before.
		if until, ok := denials[id]; ok && !t.IssuedAt.After(until.Add(-DenyTTL)) {
			return true, nil
		}
	}
	return false, nil
}
