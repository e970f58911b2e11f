package keys

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse/gatehouse/storage"
)

// KeyStore is what the manager needs from storage: the shared keys and an
// atomic read-modify-write over them (storage.KeyStore).
type KeyStore interface {
	ListSigningKeys(ctx context.Context) ([]storage.SigningKey, error)
	UpdateSigningKeys(ctx context.Context, fn func(old []storage.SigningKey) ([]storage.SigningKey, error)) error
}

// Defaults for zero Options fields.
const (
	DefaultRotationPeriod   = 24 * time.Hour
	DefaultJWKSMaxAge       = 5 * time.Minute
	DefaultRefreshInterval  = 10 * time.Second
	DefaultMaxTokenLifetime = 10 * time.Minute
	DefaultLeeway           = time.Minute
)

// Options configures a Manager. Zero fields take the defaults above.
type Options struct {
	// Algorithm of new keys: ES256 (default), RS256 or EdDSA. Changing it
	// takes effect with the next key generated; existing keys finish their
	// lifecycle.
	Algorithm string
	// Secrets seal and open the private keys. Required for everything but
	// List.
	Secrets *Secrets
	// Now is the clock; default time.Now.
	Now func() time.Time
	// RotationPeriod is how long a key signs before it is replaced. The
	// effective period is at least PublishLead.
	RotationPeriod time.Duration
	// JWKSMaxAge is the Cache-Control max-age the JWKS is served with.
	JWKSMaxAge time.Duration
	// RefreshInterval is how often each instance rereads the keys from
	// the store (Run).
	RefreshInterval time.Duration
	// PublishLead is how long a new key is published before it may sign.
	// It must be at least JWKSMaxAge + RefreshInterval, so that by the time
	// any instance signs with a key, every JWKS a verifier still caches
	// was fetched after every instance published it. Default JWKSMaxAge +
	// RefreshInterval + Leeway.
	PublishLead time.Duration
	// MaxTokenLifetime is the longest lifetime of any access token signed,
	// per-client overrides included. A retired key stays published for
	// RefreshInterval + MaxTokenLifetime + Leeway.
	MaxTokenLifetime time.Duration
	// Leeway covers clock skew between instances and verifiers' own
	// leeway on "exp". Default DefaultLeeway.
	Leeway time.Duration
	// Logger receives rotations and refresh failures; never key material.
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	o.Algorithm = cmp.Or(o.Algorithm, ES256)
	if o.Now == nil {
		o.Now = time.Now
	}
	o.RotationPeriod = cmp.Or(o.RotationPeriod, DefaultRotationPeriod)
	o.JWKSMaxAge = cmp.Or(o.JWKSMaxAge, DefaultJWKSMaxAge)
	o.RefreshInterval = cmp.Or(o.RefreshInterval, DefaultRefreshInterval)
	o.MaxTokenLifetime = cmp.Or(o.MaxTokenLifetime, DefaultMaxTokenLifetime)
	o.Leeway = cmp.Or(o.Leeway, DefaultLeeway)
	o.PublishLead = cmp.Or(o.PublishLead, o.JWKSMaxAge+o.RefreshInterval+o.Leeway)
	o.Logger = cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	return o
}

// Validate reports every problem with o (after defaults) at once.
func (o Options) Validate() error {
	var errs []error
	if !supported(o.Algorithm) {
		errs = append(errs, fmt.Errorf("algorithm %q: want one of %v", o.Algorithm, SupportedAlgorithms()))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"rotation period", o.RotationPeriod}, {"JWKS max-age", o.JWKSMaxAge}, {"refresh interval", o.RefreshInterval},
		{"publish lead", o.PublishLead}, {"max token lifetime", o.MaxTokenLifetime}, {"leeway", o.Leeway}} {
		if d.v < 0 {
			errs = append(errs, fmt.Errorf("%s %v is negative", d.name, d.v))
		}
	}
	if min := o.JWKSMaxAge + o.RefreshInterval; o.PublishLead < min {
		errs = append(errs, fmt.Errorf("publish lead %v is shorter than JWKS max-age %v + refresh interval %v: verifiers could meet tokens of a key their cached JWKS lacks",
			o.PublishLead, o.JWKSMaxAge, o.RefreshInterval))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("keys: options: %w", err)
	}
	return nil
}

// retention is how long a retired key stays published: an instance may
// sign with it until its next refresh, and a token lives MaxTokenLifetime
// plus the verifiers' leeway.
func (o Options) retention() time.Duration {
	return o.RefreshInterval + o.MaxTokenLifetime + o.Leeway
}
