// Package console is the analyst console: a few hand-written pages, a
// stylesheet and a script, embedded in the binary and served by chemledgerd
// on its HTTPS listener under /console/. The pages hold no data and no
// authorisation rules of their own: the script calls the same JSON API as
// curl and the CLI, as the browser's client certificate, so the same
// authorisation table and the same audit trail apply to every view. What
// the evidence is worth is checked in the browser (inclusion proofs and the
// checkpoint's signature, with WebCrypto), and a disposition is signed in
// the browser with a key that never leaves the page.
package console

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed assets
var assets embed.FS

// policy is the Content-Security-Policy of every console response: only
// the console's own script and stylesheet run, the page talks only to its
// own origin, nothing may frame it, and no form may post anywhere (the
// disposition is sent by the script, with a header a cross-site page
// cannot set).
const policy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var page = template.Must(template.ParseFS(assets, "assets/index.html"))

// Caller names the principal of a request (the member and roles of its
// client certificate), for the page header; the server supplies it.
type Caller func(*http.Request) (member string, roles []string)

// Handler serves the console: GET /console/ is the page (every view of
// the single-page console starts there), GET /console/static/NAME its
// assets.
func Handler(caller Caller) http.Handler {
	static, err := fs.Sub(assets, "assets/static")
	if err != nil {
		panic(err)
	}
	started := time.Now()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", policy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		rest := strings.TrimPrefix(r.URL.Path, Prefix)
		switch {
		case rest == "":
			member, roles := caller(r)
			var b bytes.Buffer
			if err := page.Execute(&b, struct {
				Member string
				Roles  string
			}{member, strings.Join(roles, " ")}); err != nil {
				http.Error(w, "console page: "+err.Error(), http.StatusInternalServerError)
				return
			}
			// The page names the caller, so it is never cached.
			h.Set("Cache-Control", "no-store")
			h.Set("Content-Type", "text/html; charset=utf-8")
			http.ServeContent(w, r, "index.html", started, bytes.NewReader(b.Bytes()))
		case strings.HasPrefix(rest, "static/"):
			// Files by exact name only: no directory listings, no
			// index.html redirects.
			name := strings.TrimPrefix(rest, "static/")
			b, err := fs.ReadFile(static, name)
			if err != nil || !fs.ValidPath(name) || path.Ext(name) == "" {
				http.NotFound(w, r)
				return
			}
			h.Set("Cache-Control", "no-cache")
			http.ServeContent(w, r, name, started, bytes.NewReader(b))
		default:
			http.NotFound(w, r)
		}
	})
}
