package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"

	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// revokePath is the admin endpoint that revokes tokens by their ID (the
// jti claim).
const revokePath = "/.well-known/herald/revoke"

// Revocations are kept in the state tree itself, in the system database
// (state.SystemNamespace), at /revoked/{jti}: the time, in Unix
// milliseconds, until which the token stays refused (its expiry), or true
// for ever. So they are durable, ordered and replicated like any write,
// and survive the journal's retention. Only the admin token reaches that
// database.

// isRevoked reports whether the token ID id is revoked now.
func (s *Server) isRevoked(id string) bool {
	if id == "" || s.cfg.State == nil || tree.ValidKey(id) != nil {
		return false
	}
	v := s.cfg.State.Snapshot().Get(state.SystemNamespace, tree.Path{"revoked", id})
	if v == nil {
		return false
	}
	// A number is the time the revocation lapses; true is for ever.
	if ms, ok := v.Float(); ok {
		return time.Now().UnixMilli() < int64(ms)
	}
	return true
}

// errTokenRevoked refuses a request with a revoked token, and ends the
// state streams opened with one.
var errTokenRevoked = fmt.Errorf("%w: the token was revoked", auth.ErrInvalidToken)

// handleRevoke revokes tokens: POST with the admin token (Bearer) and the
// form fields jti (repeatable) and, optionally, until (Unix seconds: the
// token's exp, after which the revocation may lapse). Requests with a
// revoked token are refused from then on, and the state streams opened
// with one end with auth_revoked.
func (s *Server) handleRevoke() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admin := s.cfg.DBAdminToken
		token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if admin == "" || subtle.ConstantTimeCompare([]byte(token), []byte(admin)) != 1 {
			writeDBError(w, errorf(http.StatusUnauthorized, "revoking tokens needs the admin token (--db-admin-token) as Authorization: Bearer"))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			writeDBError(w, errorf(http.StatusBadRequest, "malformed form body"))
			return
		}
		ids := r.Form["jti"]
		if len(ids) == 0 {
			writeDBError(w, errorf(http.StatusBadRequest, "missing jti: the IDs of the tokens to revoke"))
			return
		}
		value := tree.Bool(true)
		if u := r.Form.Get("until"); u != "" {
			secs, err := strconv.ParseInt(u, 10, 64)
			if err != nil || secs <= 0 {
				writeDBError(w, errorf(http.StatusBadRequest, "until must be a Unix time in seconds"))
				return
			}
			value = tree.Number(float64(secs * 1000))
		}
		changes := make([]tree.Change, 0, len(ids))
		for _, id := range ids {
			if err := tree.ValidKey(id); err != nil {
				writeDBError(w, errorf(http.StatusBadRequest, "jti "+strconv.Quote(id)+" cannot be revoked: "+err.Error()))
				return
			}
			changes = append(changes, tree.Change{Rel: tree.Path{id}, Value: value})
		}
		_, err := s.cfg.State.Write(r.Context(), state.Write{
			NS: state.SystemNamespace, Kind: state.Patch, Path: tree.Path{"revoked"}, Changes: changes,
		})
		if err != nil {
			s.dbWriteError(w, r.Context(), err)
			return
		}
		s.endRevoked(ids)
		s.log.Info("tokens revoked", "jti", ids)
		w.WriteHeader(http.StatusNoContent)
	})
}

// endRevoked ends the state streams of the tokens with the IDs given, with
// auth_revoked.
func (s *Server) endRevoked(ids []string) {
	revoked := make(map[string]bool, len(ids))
	for _, id := range ids {
		revoked[id] = true
	}
	s.dbStreams.each(func(t *dbStream) {
		if t.who.claims != nil && revoked[t.who.claims.ID] {
			t.sess.End(errTokenRevoked)
		}
	})
}

// revokedBy returns the token IDs that a write to the state tree revokes:
// a patch of the system database's /revoked, or a put below it.
func revokedBy(ns string, op *tree.Op) []string {
	if ns != state.SystemNamespace || len(op.Path) == 0 || op.Path[0] != "revoked" {
		return nil
	}
	switch {
	case op.Kind == tree.KindPut && len(op.Path) == 2 && op.Value != nil:
		return []string{op.Path[1]}
	case op.Kind == tree.KindPatch && len(op.Path) == 1:
		var ids []string
		for _, c := range op.Changes {
			if len(c.Rel) == 1 && c.Value != nil {
				ids = append(ids, c.Rel[0])
			}
		}
		return ids
	}
	return nil
}
