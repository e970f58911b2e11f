package main

import (
	"bufio"
	"context"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gatehouse/gatehouse/storage"
	"github.com/gatehouse/gatehouse/storage/postgres/pgtest"
)

// chromium returns a headless Chromium context, one browser per test; the
// test fails, saying what to install, when there is no Chromium (Debian's
// chromium package; .ci/run installs it).
func chromium(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium on PATH: install Debian's chromium package (apt-get install chromium): %v", err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(func() { cancelTimeout(); cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// startWebapp builds and runs cmd/example-webapp, the relying party of the
// README, against issuer on a free loopback port, and returns its URL.
func startWebapp(t *testing.T, issuer, clientID string, port string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "example-webapp")
	if out, err := exec.Command("go", "build", "-o", bin, "../example-webapp").CombinedOutput(); err != nil {
		t.Fatalf("build example-webapp: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "--issuer", issuer, "--client-id", clientID, "--addr", "127.0.0.1:"+port)
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if strings.Contains(sc.Text(), "open http://") {
			go func() {
				for sc.Scan() {
				}
			}()
			return "http://127.0.0.1:" + port
		}
		t.Logf("example-webapp: %s", sc.Text())
	}
	t.Fatal("example-webapp did not start")
	return ""
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port
}

// TestBrowserLogin drives headless Chromium through cmd/example-webapp, a
// relying party built on x/oauth2 and go-oidc, and Gatehouse's hosted
// pages, on PostgreSQL: a wrong password shows an error on the page, a
// form whose CSRF token was tampered with is refused, then login, consent
// (the client is third-party), the code exchange with PKCE, ID-token and
// userinfo checks, a refresh and RP-initiated logout, after which signing
// in needs the password again. An authorization request with an
// unregistered redirect URI shows an error page instead of redirecting.
func TestBrowserLogin(t *testing.T) {
	ts := startServer(t, withPostgres(pgtest.URL(t)))
	port := freePort(t)
	ts.addClient(t, storage.Client{ID: "browser-app", Name: "Browser App", Public: true, ThirdParty: true,
		GrantTypes: []string{"authorization_code", "refresh_token"}, Scopes: []string{"openid", "profile", "email", "offline_access"},
		RedirectURIs: []string{"http://127.0.0.1/callback"}, PostLogoutRedirectURIs: []string{"http://127.0.0.1:" + port + "/"}})
	ts.addUser(t, "u-42", "ivan", "pw-ivan-12345", "user")
	if err := ts.app.store.UpdateUser(context.Background(), "u-42", func(u storage.User) (storage.User, error) {
		u.Name = "Ivan I."
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	app := startWebapp(t, ts.issuer, "browser-app", port)
	ctx := chromium(t)

	// text reads an element's text; a read that races the page's
	// replacement (a stale node id) is retried, at most three times.
	text := func(sel string) string {
		t.Helper()
		var err error
		for range 3 {
			var s string
			if s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel))); err == nil {
				return s
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("read %s: %v", sel, err)
		return ""
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}

	// nav runs actions that navigate (a click, a form submission) and waits
	// for the new page to load, so that the next step never touches a
	// node of the page being replaced.
	nav := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if _, err := chromedp.RunResponse(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}

	run("open the app", chromedp.Navigate(app+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	nav("click sign in", chromedp.Click(chromedp.CSS("#login")))
	run("fill in a wrong password", chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#username"), "ivan"), chromedp.SendKeys(chromedp.CSS("#password"), "nope"))
	nav("submit a wrong password", chromedp.Submit(chromedp.CSS("#password")))
	run("error shown", chromedp.WaitVisible(chromedp.CSS("#error")))
	if msg := text("#error"); !strings.Contains(msg, "wrong") {
		t.Errorf("error after a wrong password: %q; want it to say the password is wrong", msg)
	}
	run("tamper with the CSRF token", chromedp.SetValue(chromedp.CSS(`input[name="csrf_token"]`), "forged"),
		chromedp.SetValue(chromedp.CSS("#password"), "pw-ivan-12345"))
	nav("submit the tampered form", chromedp.Submit(chromedp.CSS("#password")))
	run("refusal shown", chromedp.WaitVisible(chromedp.CSS("main p")))
	if msg := text("main"); !strings.Contains(msg, "did not come from this site") {
		t.Errorf("page after a tampered CSRF token: %q", msg)
	}

	run("open the app again", chromedp.Navigate(app+"/"), chromedp.WaitVisible(chromedp.CSS("#login")))
	nav("click sign in again", chromedp.Click(chromedp.CSS("#login")))
	run("fill in the password", chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#username"), "ivan"), chromedp.SendKeys(chromedp.CSS("#password"), "pw-ivan-12345"))
	nav("sign in", chromedp.Submit(chromedp.CSS("#password")))
	run("consent page", chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	if msg := text("main"); !strings.Contains(msg, "Browser App") {
		t.Errorf("consent page: %q; want it to name the client", msg)
	}
	nav("consent", chromedp.Click(chromedp.CSS(`button[value="allow"]`)))
	run("signed in", chromedp.WaitVisible(chromedp.CSS("#refresh")))
	if who := text("#who"); !strings.Contains(who, "u-42") || !strings.Contains(who, "Ivan I.") {
		t.Errorf("after login: %q; want the user's id and name (ID token and userinfo)", who)
	}
	nav("refresh", chromedp.Click(chromedp.CSS("#refresh")))
	run("refreshed", chromedp.WaitVisible(chromedp.CSS("#refresh")))
	if msg := text("main"); strings.Contains(msg, "failed") || !strings.Contains(msg, "u-42") {
		t.Errorf("after refresh: %q", msg)
	}
	nav("logout", chromedp.Click(chromedp.CSS("#logout")))
	run("signed out", chromedp.WaitVisible(chromedp.CSS("#login")))
	nav("sign in after logout", chromedp.Click(chromedp.CSS("#login")))
	run("asked for the password again", chromedp.WaitVisible(chromedp.CSS("#password")))

	// An open-redirect attempt: the page says so, the browser stays here.
	evil := ts.issuer + "/oauth2/authorize?" + url.Values{"client_id": {"browser-app"}, "response_type": {"code"},
		"redirect_uri": {"https://evil.example/callback"}, "scope": {"openid"}, "state": {"state-12345678"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}.Encode()
	run("unregistered redirect URI", chromedp.Navigate(evil), chromedp.WaitVisible(chromedp.CSS("main p")))
	// chromedp.Navigate waits for the page to load.
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasPrefix(loc, ts.issuer) || !strings.Contains(text("main"), "not valid") {
		t.Errorf("unregistered redirect URI: at %s, page %q; want Gatehouse's error page", loc, text("main"))
	}
}
