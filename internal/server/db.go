package server

import (
	"cmp"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/rules"
	"github.com/heraldhub/herald/internal/state/tree"
)

// The state tree's REST API speaks the Firebase Realtime Database's: the
// routes, methods, query parameters, headers, statuses and error bodies
// its REST clients and Admin SDKs expect (docs/state.md).

// DefaultDBPrefix is where the state tree is served unless
// Config.DBPrefix says otherwise.
const DefaultDBPrefix = "/db"

// maxPathDepth bounds the keys of a path, as Firebase bounds the depth of
// its tree.
const maxPathDepth = 32

// dbRequest is a state tree request, read and authenticated.
type dbRequest struct {
	method string
	ns     string
	path   tree.Path
	query  url.Values
	who    rules.Who
	claims *auth.Claims // nil: admin or anonymous
}

// handleDB serves the state tree: reads, writes and streams.
func (s *Server) handleDB() http.Handler {
	preflight := s.cors.preflightFor("GET, PUT, PATCH, POST, DELETE, OPTIONS",
		"Authorization, Content-Type, Last-Event-ID, Cache-Control, X-Firebase-ETag, If-Match, If-None-Match, X-HTTP-Method-Override, Herald-After")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodOptions {
			preflight.ServeHTTP(w, r)
			return
		}
		// Firebase's answers are never cached, errors included.
		w.Header().Set("Cache-Control", "no-cache")
		req, herr := s.parseDB(r)
		if herr != nil {
			if herr.status == http.StatusNotFound && s.cfg.DBPrefix == "/" && s.cfg.Index != nil && r.Method == http.MethodGet {
				// At the root, what is not the tree (no .json) is the
				// live page's.
				w.Header().Del("Cache-Control")
				s.cfg.Index.ServeHTTP(w, r)
				return
			}
			writeDBError(w, herr)
			return
		}
		if herr := s.limitDB(r, req); herr != nil {
			writeDBError(w, herr)
			return
		}
		switch req.method {
		case http.MethodGet, http.MethodHead:
			if wantsEventStream(r) {
				s.serveDBStream(w, r, req)
				return
			}
			s.dbGet(w, r, req)
		case http.MethodPut, http.MethodPatch, http.MethodPost, http.MethodDelete:
			start := time.Now()
			aw := &accessWriter{ResponseWriter: w}
			s.dbWrite(aw, r, req)
			s.metrics.dbWritten(aw.finalStatus(), time.Since(start))
		default:
			w.Header().Set("Allow", "GET, PUT, PATCH, POST, DELETE")
			writeDBError(w, errorf(http.StatusMethodNotAllowed, "Method not allowed."))
		}
	})
}

// uncleanDBPath reports whether escaped, a URL path, is under the tree's
// prefix and has a segment that path cleaning would remove (".", "..")
// or an empty one inside it.
func uncleanDBPath(prefix, escaped string) bool {
	rest, ok := strings.CutPrefix(escaped, strings.TrimSuffix(prefix, "/"))
	if !ok || !strings.HasPrefix(rest, "/") {
		return false
	}
	rest = strings.TrimSuffix(rest, ".json")
	return strings.Contains(rest, "/./") || strings.Contains(rest, "/../") || strings.Contains(rest[1:], "//") ||
		strings.HasSuffix(rest, "/.") || strings.HasSuffix(rest, "/..")
}

// wantsEventStream reports whether a GET asks for a stream.
func wantsEventStream(r *http.Request) bool {
	for _, v := range r.Header.Values("Accept") {
		if strings.Contains(v, "text/event-stream") {
			return true
		}
	}
	return false
}

// parseDB reads a state tree request: the method (as overridden), the
// namespace, the path, and who asks.
func (s *Server) parseDB(r *http.Request) (dbRequest, *httpError) {
	req := dbRequest{method: r.Method, query: r.URL.Query()}
	if r.Method == http.MethodPost {
		// Clients that can only POST (Firebase's X-HTTP-Method-Override).
		override := r.Header.Get("X-HTTP-Method-Override")
		if override == "" {
			override = req.query.Get("x-http-method-override")
		}
		switch m := strings.ToUpper(override); m {
		case "":
		case http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodGet:
			req.method = m
		default:
			return req, errorf(http.StatusBadRequest, "Invalid X-HTTP-Method-Override: "+override)
		}
	}
	rest, ok := strings.CutPrefix(r.URL.EscapedPath(), strings.TrimSuffix(s.cfg.DBPrefix, "/"))
	if !ok {
		return req, errorf(http.StatusNotFound, "Not found.")
	}
	rest, hasJSON := strings.CutSuffix(rest, ".json")
	if !hasJSON && s.cfg.DBPrefix == "/" {
		// At the server's root only the .json form is the tree's, so that
		// /healthz and the like stay Herald's.
		return req, errorf(http.StatusNotFound, "Not found.")
	}
	p, err := tree.ParsePath(rest)
	if err != nil {
		return req, errorf(http.StatusBadRequest, err.Error())
	}
	if len(p) > maxPathDepth {
		return req, errorf(http.StatusBadRequest, "Path is too deep: at most 32 keys.")
	}
	req.path = p
	req.ns = state.DefaultNamespace
	if ns := req.query.Get("ns"); ns != "" {
		if !state.ValidNamespace(ns) {
			return req, errorf(http.StatusBadRequest, "Invalid ns: a database name is 1 to 63 letters, digits, '-' or '_'.")
		}
		req.ns = ns
	}
	who, claims, herr := s.dbCaller(r, req.query)
	if herr != nil {
		return req, herr
	}
	if req.ns == state.SystemNamespace && !who.Admin {
		return req, permissionDenied
	}
	req.who, req.claims = who, claims
	return req, nil
}

// dbCaller authenticates a state tree request: the admin token, a JWT
// (its db grants and claims), or nobody. Firebase clients send the token
// as ?auth=; EventSource cannot set headers either. Cookies are not read:
// a write must not ride a browser's ambient credentials.
func (s *Server) dbCaller(r *http.Request, query url.Values) (rules.Who, *auth.Claims, *httpError) {
	var token string
	if v := r.Header.Get("Authorization"); v != "" {
		t, ok := strings.CutPrefix(v, "Bearer ")
		if !ok {
			return rules.Who{}, nil, errorf(http.StatusUnauthorized, "Could not parse auth token: the Authorization header is not Bearer <token>.")
		}
		token = strings.TrimSpace(t)
	} else {
		token = cmp.Or(query.Get("auth"), query.Get("access_token"))
	}
	if token == "" {
		return rules.Who{}, nil, nil
	}
	if admin := s.cfg.DBAdminToken; admin != "" && subtle.ConstantTimeCompare([]byte(token), []byte(admin)) == 1 {
		return rules.Who{Admin: true}, nil, nil
	}
	claims, err := s.verify(s.cfg.SubscriberKey, token)
	if err != nil && s.cfg.PublisherKey != nil && !errors.Is(err, auth.ErrTokenExpired) && !errors.Is(err, errTokenRevoked) {
		// Not the subscriber key's (an expired or revoked token was: its
		// error says why): perhaps the publisher key's.
		if c, perr := s.verify(s.cfg.PublisherKey, token); perr == nil || errors.Is(perr, auth.ErrTokenExpired) || errors.Is(perr, errTokenRevoked) {
			claims, err = c, perr
		}
	}
	if err != nil {
		s.metrics.authFailures.Inc()
		msg := "Could not parse auth token."
		switch {
		case errors.Is(err, auth.ErrTokenExpired):
			msg = "Auth token is expired."
		case errors.Is(err, errTokenRevoked):
			msg = "Auth token is revoked."
		}
		return rules.Who{}, nil, errorf(http.StatusUnauthorized, msg)
	}
	read, err := rules.ParseGrants(claims.DBRead)
	if err == nil {
		var write rules.Grants
		if write, err = rules.ParseGrants(claims.DBWrite); err == nil {
			who := rules.Who{ReadGrants: read, WriteGrants: write, Auth: &rules.Auth{UID: claims.Subject}}
			if s.cfg.DBAccess.Rules() != nil {
				// Only rules read the claims; decoding them is not free.
				who.Auth.Token = claims.Map()
			}
			return who, claims, nil
		}
	}
	return rules.Who{}, nil, errorf(http.StatusUnauthorized, "Could not parse auth token: "+err.Error())
}

// canRead and canWrite ask the access rules.
func (s *Server) canRead(req dbRequest, p tree.Path) bool {
	return s.cfg.DBAccess.CanRead(p, req.who, time.Now())
}

func (s *Server) canWrite(req dbRequest, p tree.Path) bool {
	return s.cfg.DBAccess.CanWrite(p, req.who, time.Now())
}

// permissionDenied is Firebase's answer to a read or write the rules do
// not allow.
var permissionDenied = errorf(http.StatusUnauthorized, "Permission denied")

// writeDBError answers as Firebase does: {"error": "..."}.
func writeDBError(w http.ResponseWriter, e *httpError) {
	h := w.Header()
	if e.retryAfter != "" {
		h.Set("Retry-After", e.retryAfter)
	} else if e.status == http.StatusServiceUnavailable || e.status == http.StatusTooManyRequests {
		h.Set("Retry-After", defaultRetryAfter)
	}
	h.Del("Content-Length")
	h.Del("ETag")
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(e.status)
	body, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{e.msg})
	_, _ = w.Write(append(body, '\n'))
}

// limitDB applies the state tree's rate limit to the caller of req.
func (s *Server) limitDB(r *http.Request, req dbRequest) *httpError {
	if req.who.Admin {
		return nil
	}
	caller := "addr:" + s.limits.clientAddress(r)
	if req.claims != nil && req.claims.Subject != "" {
		caller = "sub:" + req.claims.Subject
	}
	if refused := s.limits.allowDB(caller); refused != nil {
		s.metrics.refused.WithLabelValues(refused.reason).Inc()
		s.refusals.Info("state request refused", "reason", refused.reason, "caller", caller)
		return tooMany(refused)
	}
	return nil
}
