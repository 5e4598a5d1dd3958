package api

import (
	"embed"
	"io/fs"
	"net/http"
)

// uiFiles is the delivery log page (docs/ui.md): static HTML, one script, one style
// sheet and an icon, no build step. The page holds no data; it calls the JSON routes with the token
// the user enters, so it sees exactly what that token may see.
//
//go:embed ui/index.html ui/app.js ui/app.css ui/favicon.svg
var uiFiles embed.FS

// uiRoute is the page's route pattern, as the access log and metrics name it.
const uiRoute = "GET /ui/"

// uiCSP allows the page its own script, style, images and fetches, nothing inline and
// nothing from elsewhere, and no framing.
const uiCSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// ui serves the delivery log page under /ui/ without a token; /ui redirects there.
func (s *Server) ui() http.Handler {
	sub, err := fs.Sub(uiFiles, "ui")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix("/ui/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.route = uiRoute
		}
		if r.URL.Path == "/ui" {
			http.Redirect(w, r, "/ui/", http.StatusMovedPermanently)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", uiCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
