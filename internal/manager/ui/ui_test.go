package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeAssets is a small tree shaped like the embedded one; withCharts adds
// what make ui-assets copies in.
func fakeAssets(withCharts bool) fstest.MapFS {
	fsys := fstest.MapFS{
		"static/index.html": {Data: []byte("<!doctype html><title>fcmon manager</title>")},
		"static/app.css":    {Data: []byte("body{}")},
		"static/js/main.js": {Data: []byte("import './api.js';")},
		"static/icon.svg":   {Data: []byte("<svg/>")},
		"static/notes.txt":  {Data: []byte("not served")},
		"npm/README.md":     {Data: []byte("placeholder")},
	}
	if withCharts {
		fsys["npm/uPlot.iife.min.js"] = &fstest.MapFile{Data: []byte("var uPlot=1;")}
		fsys["npm/uPlot.min.css"] = &fstest.MapFile{Data: []byte(".uplot{}")}
	}
	return fsys
}

func get(h http.Handler, method, path string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestServes: the page and each asset with its type, the CSP and nosniff;
// unknown and unservable files are 404s.
func TestServes(t *testing.T) {
	h := newHandler(fakeAssets(true))
	for _, tc := range []struct {
		path, status, ctype, body string
	}{
		{"/", "200", "text/html; charset=utf-8", "<title>fcmon manager</title>"},
		{"/ui/", "200", "text/html; charset=utf-8", "<!doctype html>"},
		{"/ui/index.html", "200", "text/html; charset=utf-8", "<!doctype html>"},
		{"/ui/app.css", "200", "text/css; charset=utf-8", "body{}"},
		{"/ui/js/main.js", "200", "text/javascript; charset=utf-8", "import"},
		{"/ui/icon.svg", "200", "image/svg+xml", "<svg/>"},
		{"/ui/npm/uPlot.iife.min.js", "200", "text/javascript; charset=utf-8", "var uPlot"},
		{"/ui/npm/uPlot.min.css", "200", "text/css; charset=utf-8", ".uplot"},
		{"/ui/notes.txt", "404", "text/plain; charset=utf-8", "no UI file /ui/notes.txt"},
		{"/ui/npm/README.md", "404", "text/plain; charset=utf-8", "no UI file"},
		{"/ui/../ui.go", "404", "text/plain; charset=utf-8", "no UI file"},
		{"/ui/static/index.html", "404", "text/plain; charset=utf-8", "no UI file"},
	} {
		w := get(h, "GET", tc.path)
		if got := w.Result().Status[:3]; got != tc.status {
			t.Errorf("GET %s: status %s, want %s", tc.path, got, tc.status)
		}
		if got := w.Header().Get("Content-Type"); got != tc.ctype {
			t.Errorf("GET %s: Content-Type %q, want %q", tc.path, got, tc.ctype)
		}
		if !strings.Contains(w.Body.String(), tc.body) {
			t.Errorf("GET %s: body %q lacks %q", tc.path, w.Body, tc.body)
		}
		if got := w.Header().Get("Content-Security-Policy"); got != CSP {
			t.Errorf("GET %s: CSP %q", tc.path, got)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", tc.path)
		}
	}
}

// TestCSP: the policy allows only the manager's own origin and no inline
// script or style.
func TestCSP(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'",
		"connect-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(CSP, want) {
			t.Errorf("CSP lacks %q: %s", want, CSP)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*", "http:", "https:"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q: %s", bad, CSP)
		}
	}
}

// TestWithoutCharts: a build without make ui-assets still serves the page;
// the chart library is a 404 that says how to get it.
func TestWithoutCharts(t *testing.T) {
	fsys := fakeAssets(false)
	if chartsIn(fsys) {
		t.Fatal("chartsIn: true without uPlot")
	}
	if !chartsIn(fakeAssets(true)) {
		t.Fatal("chartsIn: false with uPlot")
	}
	h := newHandler(fsys)
	if w := get(h, "GET", "/"); w.Code != 200 {
		t.Errorf("GET / without charts: %d", w.Code)
	}
	w := get(h, "GET", "/ui/npm/uPlot.iife.min.js")
	if w.Code != 404 || !strings.Contains(w.Body.String(), "built without the chart library (run make") {
		t.Errorf("missing uPlot: %d %q", w.Code, w.Body)
	}
	// No npm directory at all is as good as an empty one.
	delete(fsys, "npm/README.md")
	if w := get(newHandler(fsys), "GET", "/ui/app.css"); w.Code != 200 {
		t.Errorf("without npm/: %d", w.Code)
	}
}

// TestMethodsAndCaching: HEAD works, other methods are 405 with Allow, and
// a matching ETag answers 304.
func TestMethodsAndCaching(t *testing.T) {
	h := newHandler(fakeAssets(true))
	if w := get(h, "HEAD", "/ui/app.css"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d, %d bytes", w.Code, w.Body.Len())
	}
	w := get(h, "POST", "/")
	if w.Code != 405 || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	first := get(h, "GET", "/ui/app.css")
	etag := first.Header().Get("ETag")
	if etag == "" || first.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("caching headers %q", first.Header())
	}
	if w := get(h, "GET", "/ui/app.css", "If-None-Match", etag); w.Code != 304 {
		t.Errorf("If-None-Match: %d, want 304", w.Code)
	}
}

// TestEmbedded: the real embedded tree has the page, its modules and
// styles, and no file the handler would not serve is reachable.
func TestEmbedded(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/ui/app.css", "/ui/icon.svg", "/ui/js/main.js", "/ui/js/api.js",
		"/ui/js/list.js", "/ui/js/vm.js", "/ui/js/metrics.js", "/ui/js/chart.js"} {
		if w := get(h, "GET", p); w.Code != 200 {
			t.Errorf("GET %s: %d", p, w.Code)
		}
	}
	w := get(h, "GET", "/")
	for _, want := range []string{`<script type="module" src="/ui/js/main.js">`, `<link rel="stylesheet" href="/ui/app.css">`} {
		if !strings.Contains(w.Body.String(), want) {
			t.Errorf("index lacks %s", want)
		}
	}
	if strings.Contains(w.Body.String(), "<script>") || strings.Contains(w.Body.String(), "style=") {
		t.Error("index has inline script or style, which the CSP blocks")
	}
	t.Logf("charts embedded: %v", ChartsAvailable())

	// Every module is preloaded by the page, so none waits for the module
	// importing it: a new module must be added to index.html.
	mods, err := fs.Glob(assets, "static/js/*.js")
	if err != nil || len(mods) < 5 {
		t.Fatal(mods, err)
	}
	for _, m := range mods {
		link := `<link rel="modulepreload" href="/ui/js/` + path.Base(m) + `">`
		if path.Base(m) != "main.js" && !strings.Contains(w.Body.String(), link) {
			t.Errorf("index.html lacks %s", link)
		}
	}
}

// TestScriptsStaySafe guards the UI's own code: no HTML parsing of data
// (innerHTML and friends), no eval, and no address outside the manager's
// origin, which the CSP would block anyway (example URLs in placeholders
// aside).
func TestScriptsStaySafe(t *testing.T) {
	banned := []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
		"new Function", "http://", "https://", "localStorage"}
	err := fs.WalkDir(assets, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || path.Ext(p) != ".js" {
			return err
		}
		src, err := fs.ReadFile(assets, p)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(src), "\n") {
			if strings.Contains(line, "placeholder:") {
				continue // an example URL shown in an empty field
			}
			if strings.Contains(line, "'http://www.w3.org/2000/svg'") {
				continue // SVG's namespace name, not an address anything fetches
			}
			for _, b := range banned {
				if strings.Contains(line, b) {
					t.Errorf("%s:%d uses %q", p, i+1, b)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
