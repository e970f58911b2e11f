package admin

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse/gatehouse/keys"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Defaults for Config fields left zero, and for AuthConfig.
const (
	// DefaultAdminRole is the role that grants the admin API.
	DefaultAdminRole = "gatehouse-admin"
	// DefaultAdminScope is the scope that grants the admin API.
	DefaultAdminScope = "gatehouse:admin"
)

// Bounds the admin rules enforce.
const (
	// MinTokenLifetime and MaxTokenLifetime bound a client's access-token
	// lifetime; zero means the server's default.
	MinTokenLifetime = time.Second
	MaxTokenLifetime = oauth.MaxTokenLifetime
	// MaxSecretGrace bounds how long a rotated secret may stay valid.
	MaxSecretGrace = 30 * 24 * time.Hour
)

// Config is what a Service needs. Store and Hasher are required.
type Config struct {
	Store storage.Store
	// Hasher hashes user passwords (argon2id, design D5); use the oauth
	// server's, so that its parameters are the ones logins check.
	Hasher *oauth.PasswordHasher
	// Logger receives one "audit" event per change; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Scopes are the scopes the server knows; a client may be given only
	// these.
	Scopes []string
	// GrantTypes are the grants the server serves; default
	// oauth.GrantTypes().
	GrantTypes []string
	// AdminRole is the role Bootstrap gives the admin client; default
	// DefaultAdminRole.
	AdminRole string
	// ClientChanged, when set, is told the id of every client that was
	// updated, deleted or given a new secret, so that the token service of
	// this process drops its cached copy at once (oauth.Server.ForgetClient).
	ClientChanged func(id string)
	// Observer, when set, is told of every throttle counter an operator
	// clears (a metric); nil is fine.
	Observer oauth.PasswordObserver
	// Secrets seal connector secrets (keys.Secrets.SealData); without
	// them a connector can be created only without a secret.
	Secrets *keys.Secrets
}

// Service holds the admin rules for clients and users. It is safe for
// concurrent use.
type Service struct {
	store      storage.Store
	hasher     *oauth.PasswordHasher
	logger     *slog.Logger
	now        func() time.Time
	scopes     []string
	grantTypes []string
	adminRole  string
	changed    func(id string)
	observer   oauth.PasswordObserver
	secrets    *keys.Secrets
}

// NewService returns a Service for cfg.
func NewService(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Store == nil {
		errs = append(errs, errors.New("admin: a store is required"))
	}
	if cfg.Hasher == nil {
		errs = append(errs, errors.New("admin: a password hasher is required"))
	}
	if cfg.AdminRole == "" {
		cfg.AdminRole = DefaultAdminRole
	} else if err := checkRole("admin_role", cfg.AdminRole); err != nil {
		errs = append(errs, fmt.Errorf("admin: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.GrantTypes == nil {
		cfg.GrantTypes = oauth.GrantTypes()
	}
	return &Service{
		store:      cfg.Store,
		hasher:     cfg.Hasher,
		logger:     cfg.Logger,
		now:        cfg.Now,
		scopes:     slices.Clone(cfg.Scopes),
		grantTypes: slices.Clone(cfg.GrantTypes),
		adminRole:  cfg.AdminRole,
		changed:    cfg.ClientChanged,
		observer:   cfg.Observer,
		secrets:    cfg.Secrets,
	}, nil
}

// AdminRole returns the role that marks an admin client.
func (s *Service) AdminRole() string { return s.adminRole }

type actorKey struct{}

// WithActor returns ctx naming who makes the changes made with it, for the
// audit log ("client:ops-bot", "user:u-…", "cli:alice").
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

func actorOf(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// audit logs one change. attrs must never hold a secret, a password or a
// hash: callers pass names, ids, counts and times only.
// The event's time is the service clock's.
func (s *Service) audit(ctx context.Context, action, objectType, objectID string, attrs ...any) {
	// Every change is audited, so this is the one place that also tells
	// the token service which client records to drop from its cache.
	if objectType == "client" && s.changed != nil {
		s.changed(objectID)
	}
	h := s.logger.Handler()
	if !h.Enabled(ctx, slog.LevelInfo) {
		return
	}
	r := slog.NewRecord(s.now(), slog.LevelInfo, "audit", 0)
	r.Add("actor", actorOf(ctx), "action", action, "object_type", objectType, "object_id", objectID)
	r.Add(attrs...)
	if err := h.Handle(ctx, r); err != nil {
		// The change is made; a lost audit line must at least be seen.
		s.logger.ErrorContext(ctx, "audit log write failed", "action", action, "object_id", objectID, "err", err)
	}
}

// inTx runs fn in a store transaction carried by its context.
func (s *Service) inTx(ctx context.Context, fn func(ctx context.Context) error) error {
	tctx, err := s.store.BeginTX(ctx)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	if err := fn(tctx); err != nil {
		if rbErr := s.store.Rollback(tctx); rbErr != nil {
			s.logger.WarnContext(ctx, "admin: rollback", "err", rbErr)
		}
		return err
	}
	if err := s.store.Commit(tctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// revokeSubject revokes a user's or client's refresh families and every
// access token issued to it so far (oauth.RevokeSubject).
func (s *Service) revokeSubject(ctx context.Context, subject string) (int, error) {
	return oauth.RevokeSubject(ctx, s.store, subject, s.now())
}

// newID returns a random identifier with prefix: 26 base32 characters,
// 130 bits.
func newID(prefix string) string {
	return prefix + strings.ToLower(rand.Text())
}
