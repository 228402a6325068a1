// Package ui is the manager's web UI: the VM list and the metrics tab, as
// HTML, CSS and JavaScript modules embedded in bin/manager, and the handler
// that serves them under a strict Content-Security-Policy. The chart library
// (uPlot) comes from npm: `make ui-assets` copies it into npm/, which in a
// fresh clone holds only a README, and the page then says charts are
// unavailable.
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

// assets holds static/ (our own files) and npm/ (what make ui-assets copied
// in, or only its README).
//
//go:embed static npm
var assets embed.FS

// Prefix is the URL path under which every asset but the page itself is
// served: /ui/app.css is static/app.css, /ui/npm/uPlot.iife.min.js is
// npm/uPlot.iife.min.js.
const Prefix = "/ui/"

// CSP is the Content-Security-Policy of every UI response: everything from
// the manager's own origin only, no inline script or style, no plugins, no
// framing, and forms that can only post back to the manager.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; " +
	"form-action 'self'; frame-ancestors 'none'"

// contentTypes are the types of the files the UI serves, by extension; a
// file with another extension (npm/README.md) is not served.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
}

// indexFile is the page served at / (and at /ui/ for convenience).
const indexFile = "static/index.html"

// Handler serves the UI: GET or HEAD / is the page, /ui/... its assets.
// Anything else is a 404 (or a 405 for other methods), as plain text.
func Handler() http.Handler { return newHandler(assets) }

// ChartsAvailable reports whether uPlot was embedded (make ui-assets ran
// before the build).
func ChartsAvailable() bool { return chartsIn(assets) }

func chartsIn(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, "npm/uPlot.iife.min.js")
	return err == nil
}

// handler serves files of fsys, read once at construction.
type handler struct {
	files map[string]file // by URL path
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// newHandler reads every servable file of fsys (static/ and npm/) into
// memory; the UI is a few hundred kilobytes.
func newHandler(fsys fs.FS) *handler {
	h := &handler{files: map[string]file{}}
	for _, dir := range []string{"static", "npm"} {
		fs.WalkDir(fsys, dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil // a missing npm/ is as good as an empty one
			}
			ct, ok := contentTypes[path.Ext(p)]
			if !ok {
				return nil
			}
			body, err := fs.ReadFile(fsys, p)
			if err != nil {
				return nil
			}
			sum := sha256.Sum256(body)
			f := file{body: body, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
			h.files[urlPath(p)] = f
			if p == indexFile {
				h.files["/"] = f
			}
			return nil
		})
	}
	return h
}

// urlPath maps a file of the embedded tree to its URL: static/x is /ui/x,
// npm/x is /ui/npm/x.
func urlPath(p string) string {
	if rest, ok := strings.CutPrefix(p, "static/"); ok {
		return Prefix + rest
	}
	return Prefix + p
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", CSP)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("X-Frame-Options", "DENY")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		plain(w, http.StatusMethodNotAllowed, "method "+r.Method+" is not allowed on "+r.URL.Path+" (allowed: GET, HEAD)")
		return
	}
	p := r.URL.Path
	if p == Prefix || p == Prefix+"index.html" {
		p = "/"
	}
	f, ok := h.files[p]
	if !ok {
		plain(w, http.StatusNotFound, "no UI file "+r.URL.Path+missingHint(p))
		return
	}
	hdr.Set("Content-Type", f.contentType)
	// Revalidate every time: the ETag makes that a 304, and a new
	// manager build is picked up at once.
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("ETag", f.etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(f.body))
}

// missingHint explains a missing chart library.
func missingHint(p string) string {
	if strings.HasPrefix(p, Prefix+"npm/") {
		return "; this manager was built without the chart library (run make, which installs it from npm, then rebuild)"
	}
	return ""
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	w.Write([]byte(msg + "\n"))
}
