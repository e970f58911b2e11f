package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/gatehouse/gatehouse/admin"
)

// bootstrapCmd creates the first admin client when no client holds the
// admin role, and prints its credentials once to stdout: the terminal of
// the operator who runs it, never the server's log stream (serve does not
// create one outside dev mode). Run again, it creates nothing.
type bootstrapCmd struct {
	storeCmd
}

func (c *bootstrapCmd) Run(ctx context.Context, e *cliEnv) error {
	return c.withService(ctx, e, func(ctx context.Context, svc *admin.Service) error {
		var text bytes.Buffer
		created, err := admin.Bootstrap(ctx, svc, &text)
		if err != nil {
			return err
		}
		if !created {
			fmt.Fprintln(e.stderr, "a client with the admin role exists already; nothing created (`gatehouse clients list` shows it, `gatehouse clients rotate-secret NAME` gives it a new secret)")
		}
		out := map[string]any{"created": created}
		for k, v := range keyValues(text.String()) {
			out[k] = v
		}
		return c.print(e.stdout, out, func(w io.Writer) { w.Write(text.Bytes()) })
	})
}

// keyValues is the key=value lines of text ("#" lines are comments), as
// admin.Bootstrap and dev mode print credentials, for --json; the names
// stay as printed (admin_client_id, client_id, ...).
func keyValues(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(k, "#") {
			out[k] = v
		}
	}
	return out
}
