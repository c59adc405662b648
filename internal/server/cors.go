package server

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// corsPolicy decides which browser origins may subscribe and publish.
//
// Listed origins get credentials (the mercureAuthorization cookie); "*"
// allows any origin but never with credentials. A request whose Origin is
// neither allowed nor the server's own is refused with 403 before it does
// anything: CORS alone would only hide the response, while a cross-site
// POST carrying a cookie would still publish (CSRF).
type corsPolicy struct {
	any     bool
	origins map[string]bool
}

func newCORSPolicy(origins []string) (*corsPolicy, error) {
	p := &corsPolicy{origins: make(map[string]bool)}
	for _, o := range origins {
		o = strings.TrimSpace(o)
		switch {
		case o == "":
			continue
		case o == "*":
			p.any = true
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			return nil, fmt.Errorf("server: CORS origin %q is not of the form scheme://host[:port]", o)
		}
		p.origins[u.Scheme+"://"+u.Host] = true
	}
	return p, nil
}

// check reports whether origin may use the hub and whether it gets
// credentials.
func (p *corsPolicy) check(r *http.Request, origin string) (allowed, credentials bool) {
	if p.origins[origin] {
		return true, true
	}
	if sameOrigin(r, origin) {
		return true, true
	}
	return p.any, false
}

// sameOrigin reports whether origin is the scheme and host the request was
// sent to. Behind a proxy that terminates TLS, X-Forwarded-Proto gives the
// scheme: a page's script cannot set that header on a cross-origin request
// (it is not among the headers a preflight allows).
func sameOrigin(r *http.Request, origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	} else if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

func (p *corsPolicy) setHeaders(h http.Header, origin string, credentials bool) {
	h.Add("Vary", "Origin")
	if credentials {
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	} else {
		h.Set("Access-Control-Allow-Origin", "*")
	}
	h.Set("Access-Control-Expose-Headers", "Last-Event-ID, WWW-Authenticate, ETag, Herald-Event-ID")
}

// wrap applies the policy to an endpoint.
func (p *corsPolicy) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin == "" {
			next.ServeHTTP(w, r)
			return
		}
		allowed, credentials := p.check(r, origin)
		if !allowed {
			writeError(w, errorf(http.StatusForbidden, "origin not allowed"))
			return
		}
		p.setHeaders(w.Header(), origin, credentials)
		next.ServeHTTP(w, r)
	})
}

// preflight answers CORS preflight requests for the hub's routes.
func (p *corsPolicy) preflight() http.Handler {
	return p.preflightFor("GET, POST, DELETE, OPTIONS", "Authorization, Content-Type, Last-Event-ID, Cache-Control")
}

// preflightFor answers CORS preflight requests, allowing methods and
// headers.
func (p *corsPolicy) preflightFor(methods, headers string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed, credentials := p.check(r, origin)
		if origin == "" || !allowed {
			writeError(w, errorf(http.StatusForbidden, "origin not allowed"))
			return
		}
		h := w.Header()
		p.setHeaders(h, origin, credentials)
		h.Set("Access-Control-Allow-Methods", methods)
		h.Set("Access-Control-Allow-Headers", headers)
		h.Set("Access-Control-Max-Age", "600")
		w.WriteHeader(http.StatusNoContent)
	})
}
