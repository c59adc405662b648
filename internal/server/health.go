package server

import (
	"net/http"
)

// handleHealth answers whether the process is alive.
func (s *Server) handleHealth() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, "application/json", map[string]any{"status": "ok", "version": s.cfg.Version})
	})
}

// handleReady answers whether the server should receive traffic: not while
// draining, and only when the journal can commit (so publishes would go
// through).
func (s *Server) handleReady() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.isDraining() {
			writeError(w, errorf(http.StatusServiceUnavailable, "draining"))
			return
		}
		if err := s.ping(r.Context()); err != nil {
			s.faults.Warn("readiness: journal unavailable", "err", err)
			writeError(w, errorf(http.StatusServiceUnavailable, "journal unavailable"))
			return
		}
		writeJSON(w, "application/json", map[string]any{"status": "ready"})
	})
}
