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

	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("read %s: %v", sel, err)
		}
		return s
	}
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			loc, _ := chromedp.Run(ctx, chromedp.Location())
			t.Fatalf("%s (at %s): %v", what, loc, err)
		}
	}

	run("open the app and click sign in", chromedp.Navigate(app+"/"), chromedp.Click(chromedp.CSS("#login")),
		chromedp.WaitVisible(chromedp.CSS("#password")))
	run("wrong password", chromedp.SendKeys(chromedp.CSS("#username"), "ivan"), chromedp.SendKeys(chromedp.CSS("#password"), "nope"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS("#error")))
	if msg := text("#error"); !strings.Contains(msg, "wrong") {
		t.Errorf("error after a wrong password: %q; want it to say the password is wrong", msg)
	}
	run("tampered CSRF token", chromedp.SetValue(chromedp.CSS(`input[name="csrf_token"]`), "forged"),
		chromedp.SetValue(chromedp.CSS("#password"), "pw-ivan-12345"), chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitVisible(chromedp.CSS("main p")))
	if msg := text("main"); !strings.Contains(msg, "did not come from this site") {
		t.Errorf("page after a tampered CSRF token: %q", msg)
	}

	run("sign in again", chromedp.Navigate(app+"/"), chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#password")),
		chromedp.SendKeys(chromedp.CSS("#username"), "ivan"), chromedp.SendKeys(chromedp.CSS("#password"), "pw-ivan-12345"),
		chromedp.Submit(chromedp.CSS("#password")), chromedp.WaitVisible(chromedp.CSS(`button[value="allow"]`)))
	if msg := text("main"); !strings.Contains(msg, "Browser App") {
		t.Errorf("consent page: %q; want it to name the client", msg)
	}
	run("consent", chromedp.Click(chromedp.CSS(`button[value="allow"]`)), chromedp.WaitVisible(chromedp.CSS("#refresh")))
	if who := text("#who"); !strings.Contains(who, "u-42") || !strings.Contains(who, "Ivan I.") {
		t.Errorf("after login: %q; want the user's id and name (ID token and userinfo)", who)
	}
	run("refresh", chromedp.Click(chromedp.CSS("#refresh")), chromedp.WaitVisible(chromedp.CSS("#refresh")))
	if msg := text("main"); strings.Contains(msg, "failed") || !strings.Contains(msg, "u-42") {
		t.Errorf("after refresh: %q", msg)
	}
	run("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#login")))
	run("sign in after logout", chromedp.Click(chromedp.CSS("#login")), chromedp.WaitVisible(chromedp.CSS("#password")))

	// An open-redirect attempt: the page says so, the browser stays here.
	evil := ts.issuer + "/oauth2/authorize?" + url.Values{"client_id": {"browser-app"}, "response_type": {"code"},
		"redirect_uri": {"https://evil.example/callback"}, "scope": {"openid"}, "state": {"state-12345678"},
		"code_challenge": {strings.Repeat("a", 43)}, "code_challenge_method": {"S256"}}.Encode()
	run("unregistered redirect URI", chromedp.Navigate(evil), chromedp.WaitVisible(chromedp.CSS("main p")))
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if !strings.HasPrefix(loc, ts.issuer) || !strings.Contains(text("main"), "not valid") {
		t.Errorf("unregistered redirect URI: at %s, page %q; want Gatehouse's error page", loc, text("main"))
	}
}
