package oauth

import (
	"net/url"
	"testing"
	"time"
)

// TestUpstreamAuthTime: with max_age the upstream's auth_time is required
// and must be within max_age of the request; with prompt=login it must
// not be before the request; the login's auth_time is the upstream's
// (never in the future), else now.
func TestUpstreamAuthTime(t *testing.T) {
	started := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := started.Add(20 * time.Second)
	sixty := int64(60)
	zero := int64(0)
	tests := []struct {
		name     string
		ra       upstreamReauth
		upstream time.Time
		want     time.Time // zero: refused
	}{
		{"nothing asked, no auth_time", upstreamReauth{}, time.Time{}, now},
		{"nothing asked, old auth_time kept", upstreamReauth{}, started.Add(-time.Hour), started.Add(-time.Hour)},
		{"future auth_time clamped", upstreamReauth{}, now.Add(time.Hour), now},
		{"max_age without auth_time", upstreamReauth{MaxAge: &sixty}, time.Time{}, time.Time{}},
		{"max_age, stale", upstreamReauth{MaxAge: &sixty}, started.Add(-61 * time.Second), time.Time{}},
		{"max_age, within", upstreamReauth{MaxAge: &sixty}, started.Add(-59 * time.Second), started.Add(-59 * time.Second)},
		{"max_age=0, fresh", upstreamReauth{MaxAge: &zero}, started.Add(5 * time.Second), started.Add(5 * time.Second)},
		{"max_age=0, before the request", upstreamReauth{MaxAge: &zero}, started.Add(-time.Second), time.Time{}},
		{"prompt=login, before the request", upstreamReauth{Login: true}, started.Add(-time.Second), time.Time{}},
		{"prompt=login, fresh", upstreamReauth{Login: true}, started, started},
		{"prompt=login, no auth_time", upstreamReauth{Login: true}, time.Time{}, now},
	}
	for _, tc := range tests {
		got, err := upstreamAuthTime(tc.ra, tc.upstream, started, now)
		if tc.want.IsZero() != (err != nil) || !got.Equal(tc.want) {
			t.Errorf("%s: %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}
	for q, want := range map[string]upstreamReauth{
		"prompt=login+consent&max_age=60": {Login: true, MaxAge: &sixty},
		"prompt=consent&max_age=-1":       {},
		"max_age=abc":                     {},
	} {
		v, _ := url.ParseQuery(q)
		got := reauthOf(v)
		if got.Login != want.Login || (got.MaxAge == nil) != (want.MaxAge == nil) || got.MaxAge != nil && *got.MaxAge != *want.MaxAge {
			t.Errorf("reauthOf(%s) = %+v; want %+v", q, got, want)
		}
	}
}
