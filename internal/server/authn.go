package server

import (
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// authenticate returns the verified claims of the request's token, nil
// claims when it carries none, or an error to answer with 401. query is
// r.URL.Query(), parsed once by the caller.
func (s *Server) authenticate(r *http.Request, query url.Values, key *auth.Key) (*auth.Claims, auth.Source, error) {
	token, from, err := auth.TokenFrom(r, query)
	if errors.Is(err, auth.ErrNoToken) {
		return nil, from, nil
	}
	if err != nil {
		return nil, from, err
	}
	claims, err := s.verify(key, token)
	return claims, from, err
}

// verify returns the claims of token as verified with key.
func (s *Server) verify(key *auth.Key, token string) (*auth.Claims, error) {
	if key == nil {
		return nil, auth.ErrInvalidToken
	}
	claims := s.tokens.get(key, token, time.Now())
	if claims == nil {
		v := auth.Verifier{Key: *key}
		var err error
		if claims, err = v.Verify(token); err != nil {
			return nil, err
		}
		s.tokens.put(key, token, claims)
	}
	if s.isRevoked(claims.ID) {
		return nil, errTokenRevoked
	}
	return claims, nil
}

// tokenCache remembers verified tokens: a publisher or a reconnecting
// subscriber presents the same token many times, and verifying it (decode,
// signature, claims, selector compilation) is most of a publish's cost
// after HTTP itself. Claims are immutable once verified; an entry is used
// only until the token expires, and only with the key that verified it.
type tokenCache struct {
	mu      sync.Mutex
	entries map[tokenKey]*auth.Claims
}

type tokenKey struct {
	key   *auth.Key
	token string
}

// maxCachedTokens bounds the cache; past it, entries are dropped at random.
const maxCachedTokens = 10000

func (c *tokenCache) get(key *auth.Key, token string, now time.Time) *auth.Claims {
	c.mu.Lock()
	defer c.mu.Unlock()
	claims := c.entries[tokenKey{key, token}]
	if claims == nil {
		return nil
	}
	if !claims.ExpiresAt.IsZero() && !now.Before(claims.ExpiresAt) {
		delete(c.entries, tokenKey{key, token})
		return nil
	}
	return claims
}

func (c *tokenCache) put(key *auth.Key, token string, claims *auth.Claims) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil {
		c.entries = make(map[tokenKey]*auth.Claims)
	}
	if len(c.entries) >= maxCachedTokens {
		n := 0
		for k := range c.entries { // map order is random: a random half goes
			delete(c.entries, k)
			if n++; n >= maxCachedTokens/2 {
				break
			}
		}
	}
	c.entries[tokenKey{key, token}] = claims
}

// unauthorized is the answer to a failed authentication, with an RFC 6750
// challenge. The detail of a verification failure is logged, not sent.
func (s *Server) unauthorized(r *http.Request, err error) *httpError {
	s.metrics.authFailures.Inc()
	s.refusals.Info("unauthorized", "path", r.URL.Path, "remote", r.RemoteAddr, "err", err)
	e := authError(err)
	e.challenge = auth.Challenge(err)
	if errors.Is(err, auth.ErrNoToken) {
		e.msg += noTokenHint(r, s.cfg.Anonymous)
	}
	return e
}

// noTokenHint tells a request without a token where one goes and, for a
// subscriber, that the hub could let it in without one.
func noTokenHint(r *http.Request, anonymous bool) string {
	const where = "send a token as Authorization: Bearer <token>, the authorization query parameter or the mercureAuthorization cookie"
	switch {
	case r.Method == http.MethodPost:
		return ": publishing needs a token whose mercure.publish claim matches the topics (herald token --publish makes one); " + where
	case !anonymous && r.URL.Path == hubPath:
		return ": this hub admits only subscribers with a token (its --anonymous flag lets others in); " + where
	}
	return ": " + where
}

// authError is what the client sees of a failed authentication: 400 for
// credentials that cannot be read, 401 for anything else, a missing,
// invalid or expired token or a failure to verify one, so that an
// unexpected error never lets a request through nor reads as a server
// fault.
func authError(err error) *httpError {
	switch {
	case errors.Is(err, auth.ErrInvalidRequest):
		return errorf(http.StatusBadRequest, "malformed credentials")
	case err == nil, errors.Is(err, auth.ErrNoToken):
		return errorf(http.StatusUnauthorized, "unauthorized")
	case errors.Is(err, auth.ErrTokenExpired):
		return errorf(http.StatusUnauthorized, "unauthorized: token expired")
	case errors.Is(err, errTokenRevoked):
		return errorf(http.StatusUnauthorized, "unauthorized: token revoked")
	}
	return errorf(http.StatusUnauthorized, "unauthorized: invalid token")
}

// forbidden answers 403 with an insufficient_scope challenge.
func (s *Server) forbidden(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", auth.Challenge(auth.ErrInsufficientScope))
	writeError(w, errorf(http.StatusForbidden, msg))
}

// cookieOriginAllowed protects cookie-authenticated writes from cross-site
// request forgery: the browser must say where the request comes from, and
// that origin must be allowed (the CORS layer has already refused a
// foreign Origin; here a request without Origin falls back to Referer, and
// one with neither is refused, as the Mercure specification advises).
func (s *Server) cookieOriginAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		ref, err := url.Parse(r.Referer())
		if err != nil || ref.Host == "" {
			return false
		}
		origin = ref.Scheme + "://" + ref.Host
	}
	allowed, credentials := s.cors.check(r, origin)
	return allowed && credentials
}
