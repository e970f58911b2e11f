package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/gatehouse/gatehouse/admin"
)

const usersUsage = `Usage: gatehouse users COMMAND [flags]

Commands:
  create              create a user; without a password one is generated and printed once
  list                list users
  show USER           show one user (by id or username)
  set-password USER   set or generate a user's password; revokes its refresh tokens
  disable USER        disable a user; its refresh and access tokens stop at once
  enable USER         enable a user
  delete USER         delete a user and revoke its tokens
  roles add USER ROLE...     add roles (they appear in the user's next access token)
  roles remove USER ROLE...  remove roles
  renormalize         rewrite usernames stored before case folding into the current form

Passwords are read from standard input (--password-stdin) or a file
(--password-file), never from a flag value, so they stay out of shell history.

Run 'gatehouse users COMMAND --help' for a command's flags and an example.
`

func runUsers(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usersUsage)
		return errors.New("users: no command given")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "create":
		return usersCreate(ctx, args, getenv, stdin, stdout, stderr)
	case "list":
		return usersList(ctx, args, getenv, stdout, stderr)
	case "show":
		return usersShow(ctx, args, getenv, stdout, stderr)
	case "set-password":
		return usersSetPassword(ctx, args, getenv, stdin, stdout, stderr)
	case "disable", "enable", "delete":
		return usersChange(ctx, cmd, args, getenv, stdout, stderr)
	case "roles":
		return usersRoles(ctx, args, getenv, stdout, stderr)
	case "renormalize":
		return usersRenormalize(ctx, args, getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usersUsage)
		return nil
	default:
		fmt.Fprint(stderr, usersUsage)
		return fmt.Errorf("users: unknown command %q", cmd)
	}
}

// passwordFlags are --password-stdin and --password-file.
type passwordFlags struct {
	fromStdin *bool
	file      *string
}

func registerPasswordFlags(c *adminCmd) passwordFlags {
	return passwordFlags{
		fromStdin: c.fs.Bool("password-stdin", false, "read the password from standard input (one line)"),
		file:      c.fs.String("password-file", "", "read the password from this file (one line)"),
	}
}

// read returns the password given, or "" when none is, which asks the
// service to generate one.
func (p passwordFlags) read(stdin io.Reader) (string, error) {
	var (
		b   []byte
		err error
	)
	switch {
	case *p.fromStdin && *p.file != "":
		return "", errors.New("--password-stdin and --password-file: choose one")
	case *p.fromStdin:
		if stdin == nil {
			return "", errors.New("--password-stdin: no standard input")
		}
		b, err = io.ReadAll(io.LimitReader(stdin, 64<<10))
		if err != nil {
			return "", fmt.Errorf("--password-stdin: %w", err)
		}
	case *p.file != "":
		if b, err = os.ReadFile(*p.file); err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
	default:
		return "", nil
	}
	// One line: a trailing newline (echo, editors) is not part of it.
	b = bytes.TrimSuffix(b, []byte("\n"))
	b = bytes.TrimSuffix(b, []byte("\r"))
	if len(b) == 0 {
		return "", errors.New("the password given is empty")
	}
	if bytes.ContainsAny(b, "\r\n") {
		return "", errors.New("the password given has more than one line")
	}
	return string(b), nil
}

func printUser(w io.Writer, u admin.User) {
	fmt.Fprintf(w, "id:\t%s\nusername:\t%s\nstatus:\t%s\nroles:\t%s\ncreated:\t%s\nupdated:\t%s\n",
		u.ID, u.Username, status(u.Disabled), joinOr(u.Roles), u.CreatedAt.Format(time.RFC3339), u.UpdatedAt.Format(time.RFC3339))
}

func usersCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newAdminCmd("users create", getenv, stdout, stderr, "gatehouse users create --username NAME [--roles R[,R]] [--password-stdin | --password-file F]",
		"printf '%s\\n' \"$PASSWORD\" | gatehouse users create --username alice --roles user,editor --password-stdin")
	username := c.fs.String("username", "", "username; compared case-insensitively")
	roles := c.fs.String("roles", "", "comma-separated roles")
	pw := registerPasswordFlags(c)
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	password, err := pw.read(stdin)
	if err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	u, err := svc.CreateUser(ctx, admin.UserParams{Username: *username, Password: password, Roles: listFlag(*roles)})
	if err != nil {
		return cliError(err)
	}
	return c.print(u, func(w io.Writer) {
		fmt.Fprintf(w, "user_id=%s\nusername=%s\n", u.ID, u.Username)
		if u.Password != "" {
			fmt.Fprintf(w, "# The generated password is shown once.\npassword=%s\n", u.Password)
		}
	})
}

func usersList(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users list", getenv, stdout, stderr, "gatehouse users list [--json]", "gatehouse users list --json")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	us, err := svc.ListUsers(ctx)
	if err != nil {
		return err
	}
	return c.print(us, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tUSERNAME\tROLES\tSTATUS")
		for _, u := range us {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", u.ID, u.Username, joinOr(u.Roles), status(u.Disabled))
		}
	})
}

// openUser opens the service and finds the user named by id or username.
func (c *adminCmd) openUser(ctx context.Context, ref string) (context.Context, *admin.Service, admin.User, func(), error) {
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return nil, nil, admin.User{}, nil, err
	}
	u, err := svc.FindUser(ctx, ref)
	if err != nil {
		done()
		return nil, nil, admin.User{}, nil, err
	}
	return ctx, svc, u, done, nil
}

func usersShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users show", getenv, stdout, stderr, "gatehouse users show USER [--json]", "gatehouse users show alice")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	_, _, u, done, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer done()
	return c.print(u, func(w io.Writer) { printUser(w, u) })
}

func usersSetPassword(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := newAdminCmd("users set-password", getenv, stdout, stderr, "gatehouse users set-password USER [--password-stdin | --password-file F]",
		"gatehouse users set-password alice --password-file /run/secrets/alice")
	pw := registerPasswordFlags(c)
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	password, err := pw.read(stdin)
	if err != nil {
		return err
	}
	ctx, svc, u, done, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer done()
	generated, err := svc.SetPassword(ctx, u.ID, admin.PasswordParams{Password: password})
	if err != nil {
		return cliError(err)
	}
	out := map[string]any{"id": u.ID, "username": u.Username}
	if generated != "" {
		out["password"] = generated
	}
	return c.print(out, func(w io.Writer) {
		fmt.Fprintf(w, "password of %s set; its tokens are revoked\n", u.Username)
		if generated != "" {
			fmt.Fprintf(w, "# The generated password is shown once.\npassword=%s\n", generated)
		}
	})
}

func usersChange(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users "+cmd, getenv, stdout, stderr, "gatehouse users "+cmd+" USER [--json]", "gatehouse users "+cmd+" alice")
	pos, err := c.parse(args, 1, 1)
	if err != nil {
		return err
	}
	ctx, svc, u, done, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer done()
	switch cmd {
	case "disable":
		u, err = svc.DisableUser(ctx, u.ID)
	case "enable":
		u, err = svc.EnableUser(ctx, u.ID)
	case "delete":
		if err := svc.DeleteUser(ctx, u.ID); err != nil {
			return err
		}
		return c.print(map[string]any{"id": u.ID, "username": u.Username, "deleted": true}, func(w io.Writer) {
			fmt.Fprintf(w, "deleted user %s (%s); its tokens are revoked\n", u.Username, u.ID)
		})
	}
	if err != nil {
		return err
	}
	return c.print(u, func(w io.Writer) { printUser(w, u) })
}

func usersRoles(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "remove") {
		fmt.Fprint(stderr, usersUsage)
		return errors.New("users roles: want add or remove")
	}
	verb := args[0]
	c := newAdminCmd("users roles "+verb, getenv, stdout, stderr, "gatehouse users roles "+verb+" USER ROLE...",
		"gatehouse users roles "+verb+" alice editor auditor")
	pos, err := c.parse(args[1:], 2, -1)
	if err != nil {
		return err
	}
	ctx, svc, u, done, err := c.openUser(ctx, pos[0])
	if err != nil {
		return err
	}
	defer done()
	p := admin.RolesParams{Roles: pos[1:]}
	if verb == "add" {
		u, err = svc.AddUserRoles(ctx, u.ID, p)
	} else {
		u, err = svc.RemoveUserRoles(ctx, u.ID, p)
	}
	if err != nil {
		return err // names "roles", the positional arguments
	}
	return c.print(u, func(w io.Writer) { printUser(w, u) })
}

func usersRenormalize(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c := newAdminCmd("users renormalize", getenv, stdout, stderr, "gatehouse users renormalize [--json]", "gatehouse users renormalize")
	if _, err := c.parse(args, 0, 0); err != nil {
		return err
	}
	ctx, svc, done, err := c.open(ctx)
	if err != nil {
		return err
	}
	defer done()
	rs, err := svc.RenormalizeUsernames(ctx)
	if err != nil {
		return err
	}
	return c.print(rs, func(w io.Writer) {
		fmt.Fprintln(w, "ID\tFROM\tTO\tRESULT")
		for _, r := range rs {
			result := "renamed"
			if r.Conflict {
				result = "conflict: another user holds the new form; kept"
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", r.ID, r.From, r.To, result)
		}
	})
}
