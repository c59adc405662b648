package server

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// cookiePath is where a page trades a bearer token for the
// mercureAuthorization cookie.
const cookiePath = hubPath + "/cookie"

// handleCookie trades the bearer token of the request for an HttpOnly
// mercureAuthorization cookie (POST) or clears it (DELETE): a page hands
// the token over once and never keeps it where a script could read it;
// its EventSource, polls and WebSocket then send the cookie. The token
// must verify with the subscriber's or the publisher's key. A browser's
// request must come from an origin allowed with credentials (the CORS
// layer refuses others, and a page allowed only by "*" cannot set one):
// no other site can make a visitor's browser hold its token.
func (s *Server) handleCookie() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != "" && !s.cookieOriginAllowed(r) {
			writeError(w, errorf(http.StatusForbidden, "the cookie is set only for an origin allowed with credentials (--cors-origins)"))
			return
		}
		c := &http.Cookie{
			Name: auth.CookieName, Path: hubPath, HttpOnly: true, Secure: secureRequest(r),
			SameSite: http.SameSiteStrictMode,
		}
		if r.Method == http.MethodDelete {
			c.MaxAge = -1
			http.SetCookie(w, c)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		token, from, err := auth.TokenFromRequest(r)
		if err == nil && from != auth.FromHeader {
			err = errors.New("the token must come in the Authorization header")
		}
		if err != nil {
			writeError(w, errorf(http.StatusBadRequest, "send the token to trade as Authorization: Bearer <token>"))
			return
		}
		cred, err := s.credentials(token)
		if err != nil {
			writeError(w, s.unauthorized(r, err))
			return
		}
		c.Value = token
		if exp := cred.ExpiresAt(); !exp.IsZero() {
			c.MaxAge = max(int(time.Until(exp).Seconds()), 1)
			c.Expires = exp
		}
		http.SetCookie(w, c)
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNoContent)
	})
}

// secureRequest reports whether the client reached the hub over HTTPS,
// directly or through a proxy that says so.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}
