package admin

import (
	"context"
	"time"

	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// ThrottleCounter is a login-attempt counter as an operator sees it
// (design D5). Counters are named by a digest, never by the username or
// address they count: look one up with ThrottleStatus.
type ThrottleCounter struct {
	Key     string    `json:"key"`
	Kind    string    `json:"kind"`
	Count   int       `json:"count"`
	Limit   int       `json:"limit"`
	Blocked bool      `json:"blocked"`
	Until   time.Time `json:"until"`
}

// ThrottleParams names the counters to look at or clear: those of a
// username (any spelling) or of a directory entry (an LDAP connector's id
// and the entry's DN, which is what a directory login is counted by), of a
// client address, of either together with an address, or one counter by
// key.
type ThrottleParams struct {
	Username  string `json:"username,omitempty"`
	Connector string `json:"connector,omitempty"`
	DN        string `json:"dn,omitempty"`
	Address   string `json:"address,omitempty"`
	Key       string `json:"key,omitempty"`
}

// maxListedBlocks bounds ListThrottleBlocks.
const maxListedBlocks = 1000

func counterOf(c storage.AttemptCount) ThrottleCounter {
	return ThrottleCounter{
		Key: oauth.FormatAttemptKey(c.Key), Kind: oauth.KindName(c.Key[0]), Count: c.Count, Limit: c.Limit,
		Blocked: c.Count >= c.Limit, Until: c.WindowEnd.UTC(),
	}
}

// ListThrottleBlocks returns the counters that refuse their next attempt
// until their window ends, latest first (at most 1000).
func (s *Service) ListThrottleBlocks(ctx context.Context) ([]ThrottleCounter, error) {
	cs, err := s.store.ListBlockedAttempts(ctx, s.now(), maxListedBlocks)
	if err != nil {
		return nil, err
	}
	out := []ThrottleCounter{}
	for _, c := range cs {
		if c.Key[0] != oauth.KindSlow {
			out = append(out, counterOf(c))
		}
	}
	return out, nil
}

func (p ThrottleParams) keys() ([]storage.AttemptKey, error) {
	entry := p.Connector != "" || p.DN != ""
	switch {
	case p.Key != "":
		if p.Username != "" || entry || p.Address != "" {
			return nil, &FieldError{Field: "key", Reason: "give a key, or a username or directory entry and/or an address, not both"}
		}
		k, err := oauth.ParseAttemptKey(p.Key)
		if err != nil {
			return nil, &FieldError{Field: "key", Reason: err.Error()}
		}
		return []storage.AttemptKey{k}, nil
	case entry && p.Username != "":
		return nil, &FieldError{Field: "username", Reason: "give a username or a directory entry (connector and dn), not both"}
	case entry && (p.Connector == "" || p.DN == ""):
		return nil, &FieldError{Field: "dn", Reason: "a directory entry is a connector id and a DN, both given"}
	case entry:
		return oauth.EntryThrottleKeys(p.Connector, p.DN, p.Address), nil
	case p.Username == "" && p.Address == "":
		return nil, &FieldError{Field: "username", Reason: "give a username, a directory entry, an address, or a key"}
	}
	return oauth.ThrottleKeys(p.Username, p.Address), nil
}

// ThrottleStatus returns the open counters of p: for a username or a
// directory entry, its total and slow lane; with an address too, that
// address's counters.
func (s *Service) ThrottleStatus(ctx context.Context, p ThrottleParams) ([]ThrottleCounter, error) {
	keys, err := p.keys()
	if err != nil {
		return nil, err
	}
	cs, err := s.store.GetAttempts(ctx, s.now(), keys...)
	if err != nil {
		return nil, err
	}
	out := []ThrottleCounter{}
	for _, c := range cs {
		out = append(out, counterOf(c))
	}
	return out, nil
}

// ClearThrottle deletes the counters of p, ending their blocks at once, and
// returns how many there were. It is audited (never with the username: the
// counters' keys stand for it) and counted as a metric.
func (s *Service) ClearThrottle(ctx context.Context, p ThrottleParams) (int, error) {
	keys, err := p.keys()
	if err != nil {
		return 0, err
	}
	open, err := s.store.GetAttempts(ctx, s.now(), keys...)
	if err != nil {
		return 0, err
	}
	n, err := s.store.ClearAttempts(ctx, keys...)
	if err != nil {
		return 0, err
	}
	for _, c := range open {
		kind := oauth.KindName(c.Key[0])
		s.audit(ctx, "throttle.clear", "throttle_counter", oauth.FormatAttemptKey(c.Key), "kind", kind, "count", c.Count, "until", c.WindowEnd.UTC())
		if s.observer != nil {
			s.observer.ThrottleCleared(kind)
		}
	}
	return n, nil
}
