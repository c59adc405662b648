package server

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/state"
	"github.com/heraldhub/herald/internal/state/tree"
)

// dbGet answers a read: the value at the path, shallow or queried, with
// its ETag when asked (X-Firebase-ETag, If-None-Match).
func (s *Server) dbGet(w http.ResponseWriter, r *http.Request, req dbRequest) {
	if !s.canRead(req, req.path) {
		writeDBError(w, permissionDenied)
		return
	}
	format, herr := dbFormat(req)
	if herr != nil {
		writeDBError(w, herr)
		return
	}
	if herr := s.waitAfter(r); herr != nil {
		writeDBError(w, herr)
		return
	}
	q, queried, err := tree.ParseQuery(req.query)
	if err != nil {
		writeDBError(w, errorf(http.StatusBadRequest, err.Error()))
		return
	}
	if queried && format.Shallow {
		writeDBError(w, errorf(http.StatusBadRequest, "Mixing 'shallow' and querying parameters is not supported"))
		return
	}
	v := s.cfg.State.Snapshot().Get(req.ns, req.path)
	if queried {
		v = v.Query(q)
	}
	etag := ""
	if r.Header.Get("X-Firebase-ETag") == "true" || r.Header.Get("If-None-Match") != "" {
		etag = v.ETag()
		w.Header().Set("ETag", etag)
		if inm := r.Header.Get("If-None-Match"); inm != "" && inm == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if req.query.Get("print") == "silent" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if r.Method == http.MethodHead {
		return
	}
	// Streamed: a large tree is encoded as it is sent, never whole.
	bw := bufio.NewWriterSize(w, 32<<10)
	if err := v.WriteJSON(bw, format); err != nil {
		return // the client went away
	}
	_ = bw.WriteByte('\n')
	_ = bw.Flush()
}

// waitAfterTimeout bounds how long a read waits for the write that its
// Herald-After header names.
const waitAfterTimeout = 10 * time.Second

// waitAfter waits until the tree holds the write that the request's
// Herald-After header names (the Herald-Event-ID of a write's answer, from
// any node), so that a read on one node sees a write made on another.
// A node's own writes are always visible to it once answered.
func (s *Server) waitAfter(r *http.Request) *httpError {
	id := r.Header.Get("Herald-After")
	if id == "" {
		return nil
	}
	epoch, seq, ok := journal.ParseID(id)
	if !ok || epoch != s.cfg.Journal.Epoch() {
		return errorf(http.StatusBadRequest, "Herald-After names no write of this server's journal")
	}
	ctx, cancel := context.WithTimeout(r.Context(), waitAfterTimeout)
	defer cancel()
	if err := s.cfg.State.WaitApplied(ctx, seq); err != nil {
		return unavailable("the write named by Herald-After has not arrived yet", 1)
	}
	return nil
}

// dbFormat reads print= and shallow=.
func dbFormat(req dbRequest) (tree.Format, *httpError) {
	var f tree.Format
	switch p := req.query.Get("print"); p {
	case "", "silent":
	case "pretty":
		f.Pretty = true
	default:
		return f, errorf(http.StatusBadRequest, "print="+p+" is not supported: use pretty or silent")
	}
	switch sh := req.query.Get("shallow"); sh {
	case "", "false":
	case "true":
		f.Shallow = true
	default:
		return f, errorf(http.StatusBadRequest, "shallow must be true or false")
	}
	if req.query.Has("format") && req.query.Get("format") != "json" {
		return f, errorf(http.StatusBadRequest, "format="+req.query.Get("format")+" is not supported (priorities are not kept)")
	}
	return f, nil
}

// dbWrite applies PUT, PATCH, POST and DELETE: the body parsed whole
// before anything is written, access checked at every location written,
// the write recorded in the journal; answered with what was written.
func (s *Server) dbWrite(w http.ResponseWriter, r *http.Request, req dbRequest) {
	format, herr := dbFormat(req)
	if herr != nil {
		writeDBError(w, herr)
		return
	}
	lim := s.cfg.State.Limits()
	var body []byte
	if req.method != http.MethodDelete {
		var err error
		body, err = io.ReadAll(http.MaxBytesReader(w, r.Body, int64(lim.MaxBytes)))
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			writeDBError(w, errorf(http.StatusRequestEntityTooLarge, "Data to write exceeds the maximum size of "+strconv.Itoa(lim.MaxBytes)+" bytes."))
			return
		case err != nil:
			writeDBError(w, errorf(http.StatusBadRequest, "could not read the request body"))
			return
		}
	}
	wr := state.Write{NS: req.ns, Path: req.path, IfMatch: r.Header.Get("If-Match")}
	var err error
	switch req.method {
	case http.MethodPut:
		wr.Kind = state.Put
		wr.Value, err = tree.Parse(body, lim)
	case http.MethodPost:
		wr.Kind = state.Push
		wr.Value, err = tree.Parse(body, lim)
		if err == nil && len(req.path) >= maxPathDepth {
			writeDBError(w, errorf(http.StatusBadRequest, "Path is too deep: at most 32 keys."))
			return
		}
	case http.MethodPatch:
		wr.Kind = state.Patch
		wr.Changes, err = tree.ParseUpdate(body, lim)
	case http.MethodDelete:
		wr.Kind = state.Put
	}
	if err == nil {
		err = checkDepth(wr)
	}
	if err != nil {
		writeDBError(w, errorf(http.StatusBadRequest, err.Error()))
		return
	}
	if !s.mayWrite(req, wr) {
		writeDBError(w, permissionDenied)
		return
	}
	res, err := s.cfg.State.Write(r.Context(), wr)
	if err != nil {
		s.dbWriteError(w, r.Context(), err)
		return
	}
	w.Header().Set("Herald-Event-ID", res.ID)
	if r.Header.Get("X-Firebase-ETag") == "true" {
		w.Header().Set("ETag", s.cfg.State.Snapshot().Get(req.ns, res.Path).ETag())
	}
	if req.query.Get("print") == "silent" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var answer []byte
	switch req.method {
	case http.MethodPost:
		answer = (*tree.Node)(nil).Set(tree.Path{"name"}, tree.String(res.Path[len(res.Path)-1])).AppendJSON(nil, format)
	case http.MethodPatch:
		answer = appendChanges(nil, res.Changes, format)
	case http.MethodPut:
		answer = res.Value.AppendJSON(nil, format)
	default:
		answer = []byte("null")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(append(answer, '\n'))
}

// appendChanges is the answer to a PATCH, as Firebase gives it: the
// update as sent (its keys the relative paths), server values resolved.
func appendChanges(dst []byte, changes []tree.Change, f tree.Format) []byte {
	dst = append(dst, '{')
	for i, c := range changes {
		if i > 0 {
			dst = append(dst, ',')
		}
		key, _ := json.Marshal(strings.Join(c.Rel, "/"))
		dst = append(dst, key...)
		dst = append(dst, ':')
		dst = c.Value.AppendJSON(dst, tree.Format{Shallow: f.Shallow})
	}
	return append(dst, '}')
}

// checkDepth refuses a write that would nest the tree deeper than
// Firebase's 32 levels: the path's keys and the value's levels below it.
func checkDepth(wr state.Write) error {
	deepest := len(wr.Path) + wr.Value.Depth()
	if wr.Kind == state.Push {
		deepest++
	}
	for _, c := range wr.Changes {
		deepest = max(deepest, len(wr.Path)+len(c.Rel)+c.Value.Depth())
	}
	if deepest > maxPathDepth {
		return &tree.Error{Msg: "Data to write is too deep: the tree nests at most 32 levels."}
	}
	return nil
}

// mayWrite asks the access rules about every location wr writes: a
// multi-path update needs each of its paths.
func (s *Server) mayWrite(req dbRequest, wr state.Write) bool {
	if wr.Kind != state.Patch {
		return s.canWrite(req, wr.Path)
	}
	for _, c := range wr.Changes {
		if !s.canWrite(req, append(append(tree.Path(nil), wr.Path...), c.Rel...)) {
			return false
		}
	}
	return true
}

// dbWriteError answers a write the store refused.
func (s *Server) dbWriteError(w http.ResponseWriter, ctx context.Context, err error) {
	var cond *state.ConditionError
	var terr *tree.Error
	switch {
	case errors.As(err, &cond):
		// Firebase's 412: the current value and its ETag, for the
		// client's next attempt (the Admin SDK's transactions read both).
		w.Header().Set("ETag", cond.ETag)
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusPreconditionFailed)
		_, _ = w.Write(append(cond.Value.AppendJSON(nil, tree.Format{}), '\n'))
	case errors.As(err, &terr):
		writeDBError(w, errorf(http.StatusBadRequest, terr.Error()))
	case errors.Is(err, state.ErrTooManyNamespaces):
		writeDBError(w, errorf(http.StatusBadRequest, "Too many databases on this server."))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		if ctx.Err() == nil {
			s.log.Warn("state write failed", "err", err)
		}
		writeDBError(w, unavailable("the write was not stored, retry later", 1))
	case errors.Is(err, state.ErrClosed), errors.Is(err, journal.ErrClosed):
		writeDBError(w, unavailable("server shutting down", 1))
	default:
		s.log.Warn("state write failed", "err", err)
		writeDBError(w, unavailable("the write was not stored, retry later", 1))
	}
}
