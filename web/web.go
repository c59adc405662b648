package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

//go:embed static
var static embed.FS

// contentTypes is explicit rather than mime.TypeByExtension, whose answer
// depends on the host's /etc/mime.types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".mjs":  "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// contentSecurityPolicy lets the page run only its own script and style.
// connect-src stays open because the page can be pointed at another hub.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self'; connect-src *; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// clientScripts are the hub's browser client, which pages of other origins
// load: as a module script, which is fetched with CORS, or from a page that
// only embeds cross-origin resources that allow it (COEP).
var clientScripts = map[string]bool{"/herald.js": true, "/herald.mjs": true}

type asset struct {
	body        []byte
	contentType string
	etag        string
}

// assets maps a request path to its file. It is built once: the files are
// compiled in, so their hashes never change while the process runs.
var assets = func() map[string]asset {
	m := make(map[string]asset)
	err := fs.WalkDir(static, "static", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := static.ReadFile(name)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(body)
		urlPath := "/" + name[len("static/"):]
		if urlPath == "/index.html" {
			urlPath = "/"
		}
		m[urlPath] = asset{
			body:        body,
			contentType: contentTypes[path.Ext(name)],
			etag:        `"` + hex.EncodeToString(sum[:12]) + `"`,
		}
		return nil
	})
	if err != nil {
		panic("web: reading embedded files: " + err.Error())
	}
	return m
}()

// Handler returns the handler of the live page: the index at "/" and its
// scripts, styles and icon beside it, among them the browser client
// /herald.js (and /herald.mjs, the same as a module). Any other path is 404
// and any method but GET and HEAD is 405.
//
// Responses carry an ETag and "Cache-Control: no-cache", so a browser
// revalidates and picks up a new release at once (a 304 when nothing
// changed: the client script must match the hub that serves it), and a
// Content-Security-Policy that forbids inline script. The client scripts
// may be loaded by any origin. The page uses relative links, so it also
// works mounted under a prefix with [http.StripPrefix].
func Handler() http.Handler {
	return http.HandlerFunc(serve)
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, ok := assets[r.URL.Path]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	if clientScripts[r.URL.Path] {
		h.Set("Access-Control-Allow-Origin", "*")
		h.Set("Cross-Origin-Resource-Policy", "cross-origin")
	}
	// ServeContent answers If-None-Match, Range and HEAD from the ETag and
	// the body; the zero modification time leaves Last-Modified out.
	http.ServeContent(w, r, r.URL.Path, time.Time{}, bytes.NewReader(a.body))
}
