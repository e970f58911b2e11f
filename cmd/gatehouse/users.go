package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

// usersCmd is `gatehouse users`. Passwords are read from standard input
// (--password-stdin) or a file (--password-file), never from a flag
// value, so they stay out of shell history.
type usersCmd struct {
	Create      usersCreateCmd      `cmd:"" help:"Create a user; without a password one is generated and printed once." example:"gatehouse users create --username bob --roles user,editor --password-file /run/secrets/bob-password"`
	List        usersListCmd        `cmd:"" help:"List users." example:"gatehouse users list --json"`
	Show        usersShowCmd        `cmd:"" help:"Show one user (by username or id)." example:"gatehouse users show alice"`
	Update      usersUpdateCmd      `cmd:"" help:"Change a user's profile (the email and name userinfo serves); only the flags given change." example:"gatehouse users update alice --email alice@example.com --email-verified --name Alice"`
	SetPassword usersSetPasswordCmd `cmd:"" help:"Set or generate a user's password; revokes its refresh tokens." example:"gatehouse users set-password alice --password-file /run/secrets/alice-password"`
	Disable     usersDisableCmd     `cmd:"" help:"Disable a user; its refresh and access tokens stop at once." example:"gatehouse users disable alice"`
	Enable      usersEnableCmd      `cmd:"" help:"Enable a user." example:"gatehouse users enable alice --json"`
	Delete      usersDeleteCmd      `cmd:"" help:"Delete a user and revoke its tokens." example:"gatehouse users delete alice"`
	Roles       usersRolesCmd       `cmd:"" help:"Add or remove a user's roles (they appear in the user's next access token)." example:"gatehouse users roles add alice auditor"`
	Renormalize usersRenormalizeCmd `cmd:"" help:"Rewrite usernames stored before case folding into the current form." example:"gatehouse users renormalize --json"`
}

type usersRolesCmd struct {
	Add    usersRolesAddCmd    `cmd:"" help:"Add roles." example:"gatehouse users roles add alice editor auditor"`
	Remove usersRolesRemoveCmd `cmd:"" help:"Remove roles." example:"gatehouse users roles remove alice editor --json"`
}

// userRef is the positional user argument.
type userRef struct {
	User string `arg:"" help:"Username or user id (after -- when it starts with -)."`
}

// passwordFlags are --password-stdin and --password-file.
type passwordFlags struct {
	PasswordStdin bool   `name:"password-stdin" help:"Read the password from standard input (one line)."`
	PasswordFile  string `name:"password-file" help:"Read the password from this file (one line)."`
}

// read returns the password given, or "" when none is, which asks the
// service to generate one.
func (p passwordFlags) read(stdin io.Reader) (string, error) {
	return readSecretInput(stdin, p.PasswordStdin, p.PasswordFile, "password")
}

// readSecretInput reads one line from standard input (useStdin) or from
// file, for the --<what>-stdin and --<what>-file flags; neither given is
// "". The value never appears in an error.
func readSecretInput(stdin io.Reader, useStdin bool, file, what string) (string, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case useStdin && file != "":
		return "", fmt.Errorf("--%s-stdin and --%s-file: choose one", what, what)
	case useStdin:
		if stdin == nil {
			return "", fmt.Errorf("--%s-stdin: no standard input", what)
		}
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return "", fmt.Errorf("--%s-stdin: %w", what, err)
		}
	case file != "":
		if b, err = os.ReadFile(file); err != nil {
			return "", fmt.Errorf("--%s-file: %w", what, err)
		}
	default:
		return "", nil
	}
	// One line: a trailing newline (echo, editors) is not part of it.
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", fmt.Errorf("the %s given is empty", what)
	}
	if bytes.ContainsAny(b, "\r\n") {
		return "", fmt.Errorf("the %s given has more than one line", what)
	}
	return string(b), nil
}

func printUser(w io.Writer, u admin.User) {
	fmt.Fprintf(w, "user_id:\t%s\nusername:\t%s\nstatus:\t%s\nroles:\t%s\ncreated:\t%s\nupdated:\t%s\n",
		u.ID, u.Username, status(u.Disabled), joinOr(u.Roles), u.CreatedAt.Format(time.RFC3339), u.UpdatedAt.Format(time.RFC3339))
	if u.Email != "" || u.Name != "" {
		fmt.Fprintf(w, "email:\t%s\nemail verified:\t%v\nname:\t%s\n", u.Email, u.EmailVerified, u.Name)
	}
}

type usersCreateCmd struct {
	storeCmd
	Username string   `name:"username" help:"Username; compared case-insensitively."`
	Roles    wordList `name:"roles" help:"Comma-separated roles."`
	profileFlags
	passwordFlags
}

// profileFlags are the optional profile claims userinfo serves (OIDC Core
// 1.0 section 5.1). Pointers tell a flag not given from an empty one.
type profileFlags struct {
	Email         *string `name:"email" help:"Email address (no display name)."`
	EmailVerified *bool   `name:"email-verified" negatable:"" help:"The email address was checked."`
	Name          *string `name:"name" help:"Full name."`
}

type usersUpdateCmd struct {
	userCmd
	profileFlags
}

func (c *usersUpdateCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.change(ctx, e, func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error) {
		return svc.UpdateUser(ctx, u.ID, admin.UserPatch{Email: c.Email, EmailVerified: c.EmailVerified, Name: c.Name})
	})
}

func (c *usersCreateCmd) Run(ctx context.Context, e *cliEnv) error {
	password, err := c.read(e.stdin)
	if err != nil {
		return err
	}
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		u, err := svc.CreateUser(ctx, admin.UserParams{Username: c.Username, Password: password, Roles: c.Roles,
			Email: deref(c.Email), EmailVerified: deref(c.EmailVerified), Name: deref(c.Name)})
		if err != nil {
			return cliError(err)
		}
		return c.print(e.stdout, renameID(u, "user_id"), func(w io.Writer) {
			fmt.Fprintf(w, "user_id=%s\nusername=%s\n", u.ID, u.Username)
			if u.Password != "" {
				fmt.Fprintf(w, "# The generated password is shown once.\npassword=%s\n", u.Password)
			}
		})
	})
}

type usersListCmd struct {
	storeCmd
}

func (c *usersListCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		us, err := svc.ListUsers(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, renameID(us, "user_id"), func(w io.Writer) {
			fmt.Fprintln(w, "ID\tUSERNAME\tROLES\tSTATUS")
			for _, u := range us {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.ID, u.Username, joinOr(u.Roles), status(u.Disabled))
			}
		})
	})
}

// withUser runs fn with the service and the user ref names (by id or
// username).
func (c *storeCmd) withUser(ctx context.Context, e *cliEnv, ref userRef, fn func(context.Context, *admin.Service, admin.User) error) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		u, err := svc.FindUser(ctx, ref.User)
		if err != nil {
			return err
		}
		return fn(ctx, svc, u)
	})
}

// userCmd is a command on one user that prints the user it leaves.
type userCmd struct {
	storeCmd
	userRef
}

// change runs fn on the user and prints the result.
func (c *userCmd) change(ctx context.Context, e *cliEnv, fn func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error)) error {
	return c.withUser(ctx, e, c.userRef, func(ctx context.Context, svc *admin.Service, u admin.User) error {
		if fn != nil {
			var err error
			if u, err = fn(ctx, svc, u); err != nil {
				return cliError(err)
			}
		}
		return c.print(e.stdout, renameID(u, "user_id"), func(w io.Writer) { printUser(w, u) })
	})
}

type usersShowCmd struct{ userCmd }

func (c *usersShowCmd) Run(ctx context.Context, e *cliEnv) error { return c.change(ctx, e, nil) }

type usersDisableCmd struct{ userCmd }

func (c *usersDisableCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.change(ctx, e, func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error) {
		return svc.DisableUser(ctx, u.ID)
	})
}

type usersEnableCmd struct{ userCmd }

func (c *usersEnableCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.change(ctx, e, func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error) {
		return svc.EnableUser(ctx, u.ID)
	})
}

type usersRolesAddCmd struct {
	userCmd
	Roles []string `arg:"" help:"Roles to add."`
}

func (c *usersRolesAddCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.change(ctx, e, func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error) {
		return svc.AddUserRoles(ctx, u.ID, admin.RolesParams{Roles: c.Roles})
	})
}

type usersRolesRemoveCmd struct {
	userCmd
	Roles []string `arg:"" help:"Roles to remove."`
}

func (c *usersRolesRemoveCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.change(ctx, e, func(ctx context.Context, svc *admin.Service, u admin.User) (admin.User, error) {
		return svc.RemoveUserRoles(ctx, u.ID, admin.RolesParams{Roles: c.Roles})
	})
}

type usersSetPasswordCmd struct {
	userCmd
	passwordFlags
}

func (c *usersSetPasswordCmd) Run(ctx context.Context, e *cliEnv) error {
	password, err := c.read(e.stdin)
	if err != nil {
		return err
	}
	return c.withUser(ctx, e, c.userRef, func(ctx context.Context, svc *admin.Service, u admin.User) error {
		generated, err := svc.SetPassword(ctx, u.ID, admin.PasswordParams{Password: password})
		if err != nil {
			return cliError(err)
		}
		out := map[string]any{"user_id": u.ID, "username": u.Username}
		if generated != "" {
			out["password"] = generated
		}
		return c.print(e.stdout, out, func(w io.Writer) {
			fmt.Fprintf(w, "password of %s set; its tokens are revoked\n", u.Username)
			if generated != "" {
				fmt.Fprintf(w, "# The generated password is shown once.\npassword=%s\n", generated)
			}
		})
	})
}

type usersDeleteCmd struct{ userCmd }

func (c *usersDeleteCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withUser(ctx, e, c.userRef, func(ctx context.Context, svc *admin.Service, u admin.User) error {
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		return c.print(e.stdout, map[string]any{"user_id": u.ID, "username": u.Username, "deleted": true}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted user %s (%s); its tokens are revoked\n", u.Username, u.ID)
		})
	})
}

type usersRenormalizeCmd struct {
	storeCmd
}

func (c *usersRenormalizeCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		rs, err := svc.RenormalizeUsernames(ctx)
		if err != nil {
			return err
		}
		return c.print(e.stdout, renameID(rs, "user_id"), func(w io.Writer) {
			fmt.Fprintln(w, "ID\tFROM\tTO\tRESULT")
			for _, r := range rs {
				result := "renamed"
				if r.Conflict {
					result = "conflict: another user holds the new form; kept"
				}
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.From, r.To, result)
			}
		})
	})
}
