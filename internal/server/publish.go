package server

import (
	"cmp"
	"context"
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
)

// maxIDLength bounds publisher-chosen and Last-Event-ID values.
const maxIDLength = 1024

// maxRetry bounds the retry hint a publisher may set.
const maxRetry = 24 * time.Hour

// handlePublish is the Mercure publish endpoint: POST a form, get the
// event's ID back.
func (s *Server) handlePublish() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		claims, from, err := s.authenticate(r, s.cfg.PublisherKey)
		if err != nil || claims == nil {
			s.unauthorized(w, r, cmp.Or(err, auth.ErrNoToken))
			return
		}
		if from == auth.FromCookie && !s.cookieOriginAllowed(r) {
			writeError(w, errorf(http.StatusForbidden, "cookie-authenticated publish needs an allowed Origin or Referer"))
			return
		}
		ev, herr := s.parseUpdate(w, r)
		if herr != nil {
			s.metrics.publishErrors.Inc()
			writeError(w, herr)
			return
		}
		if !claims.CanPublish(ev.Topics) {
			s.metrics.publishErrors.Inc()
			s.forbidden(w, "not allowed to publish to these topics")
			return
		}
		start := time.Now()
		err = s.cfg.Hub.Publish(r.Context(), ev)
		s.metrics.appendLatency.Observe(time.Since(start))
		if err != nil {
			s.metrics.publishErrors.Inc()
			writeError(w, s.publishError(r, err))
			return
		}
		s.metrics.publishes.Inc()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(ev.ID))
	})
}

func (s *Server) publishError(r *http.Request, err error) *httpError {
	switch {
	case errors.Is(err, journal.ErrDuplicateID):
		return errorf(http.StatusConflict, "an event with this id already exists")
	case errors.Is(err, journal.ErrReservedID):
		return errorf(http.StatusBadRequest, "invalid id: the urn:herald: prefix is reserved")
	case errors.Is(err, journal.ErrInvalidEvent):
		// parseUpdate refuses what the hub would; this keeps a rule added
		// to the hub alone from surfacing as "journal unavailable".
		return errorf(http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		return errorf(http.StatusServiceUnavailable, "request canceled")
	}
	s.log.Error("publish failed", "err", err)
	return errorf(http.StatusServiceUnavailable, "journal unavailable, retry later")
}

// parseUpdate reads and validates a publish form. Anything a subscriber
// could not receive exactly as sent is refused, never rewritten.
func (s *Server) parseUpdate(w http.ResponseWriter, r *http.Request) (*journal.Event, *httpError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, errorf(http.StatusUnsupportedMediaType, "publish body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, errorf(http.StatusRequestEntityTooLarge, "publish body over "+strconv.FormatInt(s.cfg.MaxBodyBytes, 10)+" bytes")
		}
		return nil, errorf(http.StatusBadRequest, "malformed form body")
	}
	form := r.PostForm
	for _, f := range []string{"data", "id", "type", "retry", "private"} {
		if len(form[f]) > 1 {
			return nil, errorf(http.StatusBadRequest, "field "+f+" given more than once")
		}
	}

	ev := &journal.Event{Topics: form["topic"]}
	if len(ev.Topics) == 0 {
		return nil, errorf(http.StatusBadRequest, "missing topic")
	}
	if len(ev.Topics) > s.cfg.MaxTopics {
		return nil, errorf(http.StatusBadRequest, "too many topics (at most "+strconv.Itoa(s.cfg.MaxTopics)+")")
	}
	for _, t := range ev.Topics {
		if herr := s.checkTopic(t, "topic"); herr != nil {
			return nil, herr
		}
		if reservedTopic(t) {
			return nil, errorf(http.StatusForbidden, "topics under "+hubPath+" are reserved for the hub")
		}
	}

	data := form.Get("data")
	if !utf8.ValidString(data) {
		return nil, errorf(http.StatusBadRequest, "data must be valid UTF-8")
	}
	ev.Data = []byte(data)

	ev.ID = form.Get("id")
	if herr := checkField("id", ev.ID); herr != nil {
		return nil, herr
	}
	if journal.CheckReservedID(ev.ID) != nil {
		return nil, errorf(http.StatusBadRequest, "invalid id: the urn:herald: prefix is reserved")
	}
	if ev.ID == earliest {
		// A client holding it would resume from the start of history.
		return nil, errorf(http.StatusBadRequest, "invalid id: earliest is reserved")
	}
	ev.Type = form.Get("type")
	if herr := checkField("type", ev.Type); herr != nil {
		return nil, herr
	}

	if v := form.Get("retry"); v != "" {
		ms, err := strconv.ParseUint(v, 10, 64)
		if err != nil || time.Duration(ms)*time.Millisecond > maxRetry {
			return nil, errorf(http.StatusBadRequest, "invalid retry: want milliseconds, a whole number up to 86400000")
		}
		ev.Retry = time.Duration(ms) * time.Millisecond
	}

	switch strings.ToLower(form.Get("private")) {
	case "", "off", "false", "0":
	case "on", "true", "1":
		ev.Private = true
	default:
		return nil, errorf(http.StatusBadRequest, "invalid private: want on, true or 1")
	}
	return ev, nil
}

// checkField refuses an SSE field value that would break the frame: CR or
// LF would inject fields, NUL makes browsers drop the id.
func checkField(name, v string) *httpError {
	if strings.ContainsAny(v, "\r\n\x00") {
		return errorf(http.StatusBadRequest, "invalid "+name+": must not contain CR, LF or NUL")
	}
	if !utf8.ValidString(v) {
		return errorf(http.StatusBadRequest, "invalid "+name+": must be valid UTF-8")
	}
	if len(v) > maxIDLength {
		return errorf(http.StatusBadRequest, "invalid "+name+": longer than "+strconv.Itoa(maxIDLength)+" bytes")
	}
	return nil
}

// checkTopic validates a topic or selector: non-empty UTF-8 without
// control characters, within the length limit.
func (s *Server) checkTopic(t, what string) *httpError {
	if t == "" {
		return errorf(http.StatusBadRequest, "empty "+what)
	}
	if len(t) > s.cfg.MaxSelectorLength {
		return errorf(http.StatusBadRequest, what+" longer than "+strconv.Itoa(s.cfg.MaxSelectorLength)+" bytes")
	}
	if !utf8.ValidString(t) {
		return errorf(http.StatusBadRequest, what+" must be valid UTF-8")
	}
	for _, c := range t {
		if c < 0x20 || (c >= 0x7f && c <= 0x9f) {
			return errorf(http.StatusBadRequest, what+" must not contain control characters")
		}
	}
	return nil
}

// reservedTopic reports whether a topic lies in the hub's own namespace,
// where only the hub publishes (subscription events).
func reservedTopic(t string) bool {
	u, err := url.Parse(t)
	if err != nil {
		return strings.HasPrefix(t, hubPath)
	}
	return u.Path == hubPath || strings.HasPrefix(u.Path, hubPath+"/")
}
