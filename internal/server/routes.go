package server

import (
	"net/http"
	"strings"
)

// hubPath is the Mercure hub's well-known URL path.
const hubPath = "/.well-known/mercure"

// routes lists every endpoint of the server.
func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET "+hubPath, s.cors.wrap(s.handleSubscribe()))
	mux.Handle("POST "+hubPath, s.cors.wrap(s.handlePublish()))
	mux.Handle("OPTIONS "+hubPath, s.cors.preflight())

	mux.Handle("POST "+cookiePath, s.cors.wrap(s.handleCookie()))
	mux.Handle("DELETE "+cookiePath, s.cors.wrap(s.handleCookie()))
	mux.Handle("OPTIONS "+cookiePath, s.cors.preflight())

	mux.Handle("GET "+hubPath+"/subscriptions", s.cors.wrap(s.handleSubscriptions()))
	mux.Handle("GET "+hubPath+"/subscriptions/{topic}", s.cors.wrap(s.handleSubscriptions()))
	mux.Handle("GET "+hubPath+"/subscriptions/{topic}/{subscriber}", s.cors.wrap(s.handleSubscriptions()))
	mux.Handle("OPTIONS "+hubPath+"/subscriptions", s.cors.preflight())
	mux.Handle("OPTIONS "+hubPath+"/subscriptions/", s.cors.preflight())

	mux.Handle("GET /healthz", s.handleHealth())
	mux.Handle("GET /readyz", s.handleReady())
	if !s.cfg.PrivateMetrics {
		mux.Handle("GET /metrics", s.MetricsHandler())
	}

	if s.cfg.State != nil {
		db := s.cors.wrap(s.handleDB())
		root := strings.TrimSuffix(s.cfg.DBPrefix, "/")
		for _, m := range []string{"GET", "PUT", "PATCH", "POST", "DELETE", "OPTIONS"} {
			mux.Handle(m+" "+root+"/", db)
			if root != "" {
				mux.Handle(m+" "+root, db)
			}
		}
		mux.Handle("POST "+revokePath, s.handleRevoke())
	}
	if s.cfg.Index != nil && (s.cfg.State == nil || s.cfg.DBPrefix != "/") {
		mux.Handle("GET /", s.cfg.Index)
	}
	return mux
}
