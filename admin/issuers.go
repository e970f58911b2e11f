package admin

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/discovery/verifier"
	"github.com/gatehouse/gatehouse/oauth"
	"github.com/gatehouse/gatehouse/storage"
)

// Limits on trusted-issuer fields.
const (
	maxURLLen          = 512 // issuer and jwks_uri, bytes
	maxClaimPathLen    = 256 // roles_claim, bytes
	maxUpstreamRoleLen = 256 // a role_map key, bytes
	// MaxTokenAge bounds a trusted issuer's maximum token age.
	MaxTokenAge = oauth.MaxTrustedTokenAge
)

// issuerAlgorithms are the JWS algorithms a trusted issuer may be allowed:
// asymmetric only. "none" and HS* never (RFC 8725 sections 3.1, 3.2): a
// key from a JWKS is public, and a MAC with it proves nothing.
var issuerAlgorithms = []string{"ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA"}

func (s *Service) issuerView(ti storage.TrustedIssuer) TrustedIssuer {
	v := TrustedIssuer{
		ID: ti.ID, Issuer: ti.Issuer, JWKSURI: ti.JWKSURI, Audiences: nonNil(ti.Audiences),
		Algorithms: nonNil(ti.Algorithms), SubjectClaim: ti.SubjectClaim, SubjectType: ti.SubjectType,
		RolesClaim: ti.RolesClaim, RoleMap: maps.Clone(ti.RoleMap),
		MaxTokenAgeSeconds: int64(ti.MaxTokenAge / time.Second), Provision: ti.Provision, Disabled: ti.Disabled,
		CreatedAt: ti.CreatedAt.UTC(), UpdatedAt: ti.UpdatedAt.UTC(),
	}
	if v.RoleMap == nil {
		v.RoleMap = map[string]string{}
	}
	if v.SubjectClaim == "" {
		v.SubjectClaim = "sub"
	}
	return v
}

// checkIssuerSpec validates p as a whole and returns the record's fields
// (without id and timestamps).
func (s *Service) checkIssuerSpec(p TrustedIssuerParams) (storage.TrustedIssuer, error) {
	var (
		ti  storage.TrustedIssuer
		err error
	)
	if ti.Issuer, err = checkFetchURL("issuer", p.Issuer, true); err != nil {
		return ti, err
	}
	if s.issuer != "" && strings.TrimSuffix(ti.Issuer, "/") == strings.TrimSuffix(s.issuer, "/") {
		return ti, fieldErr("issuer", "is Gatehouse's own issuer; its tokens are not assertions")
	}
	if p.JWKSURI != "" {
		if ti.JWKSURI, err = checkFetchURL("jwks_uri", p.JWKSURI, false); err != nil {
			return ti, err
		}
	}
	if ti.Audiences, err = cleanAudiences(p.Audiences); err != nil {
		return ti, err
	}
	if ti.Algorithms, err = cleanList("algorithms", p.Algorithms, func(a string) error {
		if !slices.Contains(issuerAlgorithms, a) {
			return fieldErr("algorithms", "algorithm %q is not allowed: asymmetric algorithms only (%s), never none or HS*", a, strings.Join(issuerAlgorithms, ", "))
		}
		return nil
	}); err != nil {
		return ti, err
	}
	if ti.SubjectClaim, err = checkSubjectClaim(p.SubjectClaim); err != nil {
		return ti, err
	}
	switch p.SubjectType {
	case "", storage.SubjectUser:
		ti.SubjectType = storage.SubjectUser
	case storage.SubjectClient:
		ti.SubjectType = storage.SubjectClient
	default:
		return ti, fieldErr("subject_type", "must be %q (a Gatehouse username) or %q (a Gatehouse client id)", storage.SubjectUser, storage.SubjectClient)
	}
	if p.RolesClaim != "" {
		if len(p.RolesClaim) > maxClaimPathLen || !storage.ValidText(p.RolesClaim) {
			return ti, fieldErr("roles_claim", "must be valid UTF-8 of at most %d bytes", maxClaimPathLen)
		}
		path, err := verifier.ParseClaimPath(p.RolesClaim)
		if err != nil {
			return ti, fieldErr("roles_claim", "%v", err)
		}
		if err := (verifier.Config{Issuer: "https://x", Audience: "x", RolesClaim: path}).Validate(); err != nil {
			return ti, fieldErr("roles_claim", "%q cannot hold roles (a registered claim or an empty name)", p.RolesClaim)
		}
		ti.RolesClaim = path.String()
	}
	if ti.RoleMap, err = s.cleanRoleMap(p.RoleMap); err != nil {
		return ti, err
	}
	if len(ti.RoleMap) > 0 && ti.RolesClaim == "" {
		return ti, fieldErr("roles_claim", "is required with a role_map: it says where the roles to map are")
	}
	if p.MaxTokenAgeSeconds < 0 || p.MaxTokenAgeSeconds > int64(MaxTokenAge/time.Second) {
		return ti, fieldErr("max_token_age_seconds", "must be 0 (the server default, %v) or between 1 and %d", oauth.DefaultMaxTokenAge, int64(MaxTokenAge/time.Second))
	}
	ti.MaxTokenAge = time.Duration(p.MaxTokenAgeSeconds) * time.Second
	if p.Provision && ti.SubjectType != storage.SubjectUser {
		return ti, fieldErr("provision", "applies to subject_type %q only: clients are never created from a token", storage.SubjectUser)
	}
	ti.Provision = p.Provision
	ti.Disabled = p.Disabled
	return ti, nil
}

// checkFetchURL checks a URL Gatehouse will fetch from (design D14): an
// absolute https URL with no user information or fragment (http only on a
// loopback host, for development), valid text of bounded length. An issuer
// has no query either (RFC 8414 section 2).
func checkFetchURL(field, raw string, issuer bool) (string, error) {
	if raw == "" {
		return "", fieldErr(field, "is required")
	}
	if len(raw) > maxURLLen || !storage.ValidText(raw) || strings.IndexFunc(raw, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fieldErr(field, "must be a URL of at most %d bytes without spaces or control characters", maxURLLen)
	}
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || !oauth.FetchableURL(u) || u.Fragment != "" || strings.Contains(raw, "#") {
		return "", fieldErr(field, "%q must be an https URL (http only on 127.0.0.1, [::1] or localhost) without user information or fragment", raw)
	}
	if issuer && u.RawQuery != "" {
		return "", fieldErr(field, "%q must not have a query (RFC 8414 section 2)", raw)
	}
	return raw, nil
}

// checkSubjectClaim allows a top-level claim name; "sub" is the default.
// Claims that are not subjects (iss, aud, times, jti) are refused.
func checkSubjectClaim(claim string) (string, error) {
	switch claim {
	case "":
		return "", nil
	case "iss", "aud", "exp", "nbf", "iat", "jti", "scope", "scp":
		return "", fieldErr("subject_claim", "%q does not name a subject", claim)
	}
	if len(claim) > maxClaimName || !utf8.ValidString(claim) || strings.IndexFunc(claim, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return "", fieldErr("subject_claim", "must be a claim name of at most %d bytes without spaces or control characters", maxClaimName)
	}
	if claim == "sub" {
		return "", nil
	}
	return claim, nil
}

// cleanRoleMap checks an allow-list mapping: upstream names are the
// issuer's text (any printable text up to maxUpstreamRoleLen bytes), the
// Gatehouse roles follow checkRole.
func (s *Service) cleanRoleMap(m map[string]string) (map[string]string, error) {
	if len(m) == 0 {
		return nil, nil
	}
	if len(m) > maxListLen {
		return nil, fieldErr("role_map", "has more than %d entries", maxListLen)
	}
	out := make(map[string]string, len(m))
	for _, from := range slices.Sorted(maps.Keys(m)) {
		if from == "" || len(from) > maxUpstreamRoleLen || !storage.ValidText(from) || strings.IndexFunc(from, unicode.IsControl) >= 0 {
			return nil, fieldErr("role_map", "upstream role %q must be 1 to %d bytes of text without control characters", from, maxUpstreamRoleLen)
		}
		if err := checkRole("role_map."+from, m[from]); err != nil {
			return nil, err
		}
		out[from] = m[from]
	}
	return out, nil
}

func issuerConflict(iss string) error {
	return &ConflictError{Field: "issuer", Reason: fmt.Sprintf("issuer %q is already trusted", iss)}
}

// CreateTrustedIssuer registers an external issuer.
func (s *Service) CreateTrustedIssuer(ctx context.Context, p TrustedIssuerParams) (TrustedIssuer, error) {
	id := p.ID
	if id == "" {
		id = newID("ti-")
	} else if err := checkClientID(id); err != nil {
		return TrustedIssuer{}, err
	}
	ti, err := s.checkIssuerSpec(p)
	if err != nil {
		return TrustedIssuer{}, err
	}
	now := s.now().UTC()
	ti.ID, ti.CreatedAt, ti.UpdatedAt = id, now, now
	if err := s.store.CreateTrustedIssuer(ctx, ti); err != nil {
		if errors.Is(err, storage.ErrAlreadyExists) {
			if _, getErr := s.store.GetTrustedIssuer(ctx, id); getErr == nil {
				return TrustedIssuer{}, &ConflictError{Field: "id", Reason: fmt.Sprintf("a trusted issuer with id %q exists", id)}
			}
			return TrustedIssuer{}, issuerConflict(ti.Issuer)
		}
		return TrustedIssuer{}, fmt.Errorf("create trusted issuer: %w", err)
	}
	s.auditIssuer(ctx, "issuer.create", ti)
	return s.issuerView(ti), nil
}

func (s *Service) auditIssuer(ctx context.Context, action string, ti storage.TrustedIssuer) {
	s.audit(ctx, action, "trusted_issuer", ti.ID, "issuer", ti.Issuer, "jwks_uri", ti.JWKSURI, "audiences", ti.Audiences,
		"algorithms", ti.Algorithms, "subject_claim", ti.SubjectClaim, "subject_type", ti.SubjectType, "provision", ti.Provision,
		"roles_claim", ti.RolesClaim, "role_map", ti.RoleMap, "max_token_age", ti.MaxTokenAge.String(), "disabled", ti.Disabled)
}

// ListTrustedIssuers returns every trusted issuer, ordered by id.
func (s *Service) ListTrustedIssuers(ctx context.Context) ([]TrustedIssuer, error) {
	all, err := s.store.ListTrustedIssuers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list trusted issuers: %w", err)
	}
	out := make([]TrustedIssuer, 0, len(all))
	for _, ti := range all {
		out = append(out, s.issuerView(ti))
	}
	slices.SortFunc(out, func(a, b TrustedIssuer) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// GetTrustedIssuer returns one trusted issuer by id.
func (s *Service) GetTrustedIssuer(ctx context.Context, id string) (TrustedIssuer, error) {
	ti, err := s.store.GetTrustedIssuer(ctx, id)
	if err = recordErr(err, "trusted issuer", id, "get trusted issuer"); err != nil {
		return TrustedIssuer{}, err
	}
	return s.issuerView(ti), nil
}

// FindTrustedIssuer returns the trusted issuer whose id, or else whose
// issuer URL, is ref.
func (s *Service) FindTrustedIssuer(ctx context.Context, ref string) (TrustedIssuer, error) {
	ti, err := s.GetTrustedIssuer(ctx, ref)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		return ti, err
	}
	byURL, uerr := s.store.GetTrustedIssuerByIssuer(ctx, ref)
	switch {
	case errors.Is(uerr, storage.ErrNotFound):
		return TrustedIssuer{}, err
	case uerr != nil:
		return TrustedIssuer{}, fmt.Errorf("get trusted issuer: %w", uerr)
	}
	return s.issuerView(byURL), nil
}

// UpdateTrustedIssuer applies p, validating the result as a whole with the
// rules of creation.
func (s *Service) UpdateTrustedIssuer(ctx context.Context, id string, p TrustedIssuerPatch) (TrustedIssuer, error) {
	var out storage.TrustedIssuer
	err := s.store.UpdateTrustedIssuer(ctx, id, func(cur storage.TrustedIssuer) (storage.TrustedIssuer, error) {
		want := TrustedIssuerParams{Issuer: cur.Issuer, JWKSURI: cur.JWKSURI, Audiences: cur.Audiences,
			Algorithms: cur.Algorithms, SubjectClaim: cur.SubjectClaim, SubjectType: cur.SubjectType,
			RolesClaim: cur.RolesClaim, RoleMap: cur.RoleMap, MaxTokenAgeSeconds: int64(cur.MaxTokenAge / time.Second),
			Provision: cur.Provision, Disabled: cur.Disabled}
		setIf(&want.Issuer, p.Issuer)
		setIf(&want.JWKSURI, p.JWKSURI)
		setIf(&want.Audiences, p.Audiences)
		setIf(&want.Algorithms, p.Algorithms)
		setIf(&want.SubjectClaim, p.SubjectClaim)
		setIf(&want.SubjectType, p.SubjectType)
		setIf(&want.RolesClaim, p.RolesClaim)
		setIf(&want.RoleMap, p.RoleMap)
		setIf(&want.MaxTokenAgeSeconds, p.MaxTokenAgeSeconds)
		setIf(&want.Provision, p.Provision)
		setIf(&want.Disabled, p.Disabled)
		ti, err := s.checkIssuerSpec(want)
		if err != nil {
			return cur, err
		}
		ti.ID, ti.CreatedAt, ti.UpdatedAt = id, cur.CreatedAt, s.now().UTC()
		out = ti
		return ti, nil
	})
	var fe *FieldError
	switch {
	case errors.As(err, &fe):
		return TrustedIssuer{}, fe
	case errors.Is(err, storage.ErrNotFound):
		return TrustedIssuer{}, &NotFoundError{Kind: "trusted issuer", ID: id}
	case errors.Is(err, storage.ErrAlreadyExists):
		return TrustedIssuer{}, issuerConflict(out.Issuer)
	case err != nil:
		return TrustedIssuer{}, fmt.Errorf("update trusted issuer: %w", err)
	}
	s.auditIssuer(ctx, "issuer.update", out)
	return s.issuerView(out), nil
}

// DeleteTrustedIssuer deletes a trusted issuer: its tokens are refused
// from then on. Gatehouse tokens already issued from its assertions live
// out their (short) lifetime.
func (s *Service) DeleteTrustedIssuer(ctx context.Context, id string) error {
	err := s.store.DeleteTrustedIssuer(ctx, id)
	if err = recordErr(err, "trusted issuer", id, "delete trusted issuer"); err != nil {
		return err
	}
	s.audit(ctx, "issuer.delete", "trusted_issuer", id)
	return nil
}

// setIf sets *dst to *p when p is set.
func setIf[T any](dst *T, p *T) {
	if p != nil {
		*dst = *p
	}
}
