package oauth

import (
	"crypto/rand"
	"encoding/base64"
	"html/template"
	"net/http"
)

// The hosted pages (login, consent, errors, logout) are server-rendered
// with html/template: no JavaScript, no external asset, labelled fields,
// errors in words. Every page gets a strict Content-Security-Policy (its
// one inline style allowed by a per-response nonce), frame-ancestors
// 'none' against clickjacking, no referrer and no caching.

// pageTemplates parses the pages once per server.
func pageTemplates() *template.Template {
	return template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · {{.Product}}</title>
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;color:#1b1b1b;background:#fff}
h1{font-size:1.4rem}label{display:block;margin-top:1rem;font-weight:600}
input[type=text],input[type=password]{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box;border:1px solid #555;border-radius:4px}
button{margin-top:1.2rem;padding:.6rem 1.2rem;font-size:1rem;border-radius:4px;border:1px solid #1a4fa0;background:#1a4fa0;color:#fff;cursor:pointer}
button.secondary{background:#fff;color:#1a4fa0}
button:focus,input:focus{outline:3px solid #f2a900;outline-offset:2px}
.error{color:#a00000;border:1px solid #a00000;padding:.6rem;border-radius:4px}
.logo{max-height:3rem}
</style></head>
<body><main>
{{if .Logo}}<img class="logo" src="{{.Logo}}" alt="{{.Product}}">{{end}}
<h1>{{.Title}}</h1>
{{if .Error}}<p class="error" role="alert" id="error">{{.Error}}</p>{{end}}
{{if eq .Kind "login"}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="authorization" value="{{.Authorization}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username" required autofocus{{if .Error}} aria-describedby="error"{{end}}>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
{{range .Connectors}}
<form method="post" action="{{$.Action}}">
<input type="hidden" name="csrf_token" value="{{$.CSRF}}">
<input type="hidden" name="authorization" value="{{$.Authorization}}">
<input type="hidden" name="connector" value="{{.ID}}">
<button type="submit" class="secondary" id="connector-{{.ID}}">Sign in with {{.Name}}</button>
</form>
{{end}}
{{else if eq .Kind "consent"}}
<p><strong>{{.Client}}</strong> asks to use your account{{if .Scopes}} for: {{range $i, $s := .Scopes}}{{if $i}}, {{end}}{{$s}}{{end}}{{end}}.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<input type="hidden" name="authorization" value="{{.Authorization}}">
<button type="submit" name="consent" value="allow">Allow</button>
<button type="submit" name="consent" value="deny" class="secondary">Deny</button>
</form>
{{else if eq .Kind "logout"}}
<form method="post" action="{{.Action}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button type="submit">Sign out</button>
</form>
{{else}}
<p>{{.Message}}</p>
{{end}}
</main></body></html>
`))
}

// page is what a hosted page shows.
type page struct {
	Kind, Title, Error, Message string
	Product                     string
	// Logo is the operator's data: URI (Config.LogoURI, checked to be a
	// data:image/ URI), trusted as such by html/template.
	Logo                  template.URL
	Nonce, CSRF           string
	Action, Authorization string
	Username, Client      string
	Scopes                []string
	// Connectors are the login page's "Sign in with" buttons.
	Connectors []connectorButton
}

// renderPage writes p with status and the hosted pages' headers.
func (s *Server) renderPage(w http.ResponseWriter, status int, p page) {
	p.Product, p.Logo = s.cfg.ProductName, template.URL(s.cfg.LogoURI)
	p.Nonce = randomToken()
	h := w.Header()
	img := ""
	if p.Logo != "" {
		img = "; img-src data:"
	}
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+p.Nonce+"'"+img+
		"; frame-ancestors 'none'; base-uri 'none'")
	// No form-action: browsers apply it to the redirects that follow a form
	// post, and the login form's answer is a redirect to the client.
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := s.pages.Execute(w, p); err != nil {
		s.logger.Error("render page", "kind", p.Kind, "err", err)
	}
}

// errorPage is an error the browser's user reads, for a request that must
// not be redirected (RFC 6749 section 4.1.2.1: an unknown client or a
// redirect URI that is not registered).
func (s *Server) errorPage(w http.ResponseWriter, status int, message string) {
	s.renderPage(w, status, page{Kind: "error", Title: "Sign-in failed", Message: message})
}

// randomToken is 256 bits from crypto/rand, base64url.
func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand documentation)
	return base64.RawURLEncoding.EncodeToString(b)
}
