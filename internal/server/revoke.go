package server

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"slices"
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
// every write that leaves something at /revoked/{jti} of the system
// database, whatever its shape (a put at the token's entry or below it, a
// put of /revoked or of the root, a patch of any of them with paths as
// keys, as a Firebase client's update sends).
func revokedBy(ns string, op *tree.Op) []string {
	if ns != state.SystemNamespace {
		return nil
	}
	var ids []string
	written := func(p tree.Path, v *tree.Node) {
		if v == nil {
			return
		}
		switch {
		case len(p) == 0:
			v = v.Child("revoked")
		case p[0] != "revoked":
			return
		case len(p) >= 2:
			ids = append(ids, p[1])
			return
		}
		v.Range(func(id string, entry *tree.Node) bool {
			ids = append(ids, id)
			return true
		})
	}
	switch op.Kind {
	case tree.KindPut:
		written(op.Path, op.Value)
	case tree.KindPatch:
		for _, c := range op.Changes {
			written(append(slices.Clip(op.Path), c.Rel...), c.Value)
		}
	}
	return ids
}
