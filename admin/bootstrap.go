package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/gatehouse/gatehouse/storage"
)

// BootstrapClientName is the name of the admin client Bootstrap creates.
const BootstrapClientName = "gatehouse-admin"

// Bootstrap makes sure an administrator can reach the admin API on a new
// installation: if no client has the admin role, it creates one (grant
// client_credentials, role AdminRole, no audiences, so its tokens carry
// the issuer as "aud") and prints its credentials once to out as
// key=value lines. It reports whether it created one.
//
// out must never be a log stream: `gatehouse bootstrap` passes the
// terminal of the operator who runs it, and serve passes stdout only in
// its throwaway, loopback-only dev mode.
//
// Instances that start together agree: the client name is unique, so
// exactly one creates the client and prints its secret; the others find
// it and print nothing.
func Bootstrap(ctx context.Context, svc *Service, out io.Writer) (created bool, err error) {
	ctx = WithActor(ctx, "bootstrap")
	name := BootstrapClientName
	for attempt := 0; attempt < 3; attempt++ {
		if has, err := svc.HasAdminClient(ctx); err != nil || has {
			return false, err
		}
		c, err := svc.CreateClient(ctx, ClientParams{
			Name:       name,
			GrantTypes: []string{"client_credentials"},
			Roles:      []string{svc.adminRole},
		})
		var conflict *ConflictError
		switch {
		case errors.As(err, &conflict):
			// Another instance created it, or a client without the
			// role holds the name: look again, then take another name.
			name = BootstrapClientName + "-" + newID("")[:6]
			continue
		case err != nil:
			return false, fmt.Errorf("bootstrap admin client: %w", err)
		}
		_, err = fmt.Fprintf(out, "# Gatehouse admin client: store the secret now, it is not shown again.\n"+
			"# Get a token with the client_credentials grant and call /admin/v1/.\n"+
			"admin_client_id=%s\nadmin_client_secret=%s\nadmin_role=%s\n", c.ID, c.ClientSecret, svc.adminRole)
		return true, err
	}
	return false, errors.New("bootstrap admin client: the name stays taken")
}

// HasAdminClient reports whether some client holds the admin role.
func (s *Service) HasAdminClient(ctx context.Context) (bool, error) {
	all, err := s.store.ListClients(ctx)
	if err != nil {
		return false, fmt.Errorf("bootstrap: list clients: %w", err)
	}
	return slices.ContainsFunc(all, func(c storage.Client) bool { return slices.Contains(c.Roles, s.adminRole) }), nil
}
