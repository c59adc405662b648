package server

import (
	"cmp"
	"context"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"
	"github.com/heraldhub/herald/internal/journal"
)

// handlePublish is the Mercure publish endpoint: POST a form, get the
// event's ID back.
func (s *Server) handlePublish() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// No query, the usual case, is not parsed into an empty map; a
		// malformed one is refused after authentication, with the form.
		var query url.Values
		var queryErr error
		if r.URL.RawQuery != "" {
			query, queryErr = url.ParseQuery(r.URL.RawQuery)
		}
		claims, from, err := s.authenticate(r, query, s.cfg.PublisherKey)
		if err != nil || claims == nil {
			writeError(w, s.unauthorized(r, cmp.Or(err, auth.ErrNoToken)))
			return
		}
		if from == auth.FromCookie && !s.cookieOriginAllowed(r) {
			writeError(w, errorf(http.StatusForbidden, "cookie-authenticated publish needs an allowed Origin or Referer"))
			return
		}
		// authenticate read the token once already; a valid one is found
		// again the same way.
		token, _, _ := auth.TokenFrom(r, query)
		if herr := s.allowPublish(token, claims, r.RemoteAddr); herr != nil {
			writeError(w, herr)
			return
		}
		ev, herr := s.parseUpdate(w, r, queryErr)
		if herr != nil {
			s.metrics.publishErrors.Inc()
			writeError(w, herr)
			return
		}
		if herr := s.publish(r.Context(), claims, ev); herr != nil {
			writeError(w, herr)
			return
		}
		w.Header()["Content-Type"] = plainText
		_, _ = w.Write([]byte(ev.ID))
		s.metrics.publishHTTP.Observe(time.Since(start).Seconds())
	})
}

// plainText is the Content-Type of a publish's answer, shared by every
// answer rather than made for each (net/http copies it to write it).
var plainText = []string{"text/plain; charset=utf-8"}

// allowPublish applies the publish rate limit of token.
func (s *Server) allowPublish(token string, claims *auth.Claims, remote string) *httpError {
	refused := s.limits.allowPublish(token)
	if refused == nil {
		return nil
	}
	s.metrics.refused.WithLabelValues(refused.reason).Inc()
	s.refusals.Info("publish refused", "reason", refused.reason, "remote", remote, "subject", claims.Subject)
	return tooMany(refused)
}

// publish publishes an update of a publisher with claims, whatever
// carried it (a form, a WebSocket message), and says what went wrong.
func (s *Server) publish(ctx context.Context, claims *auth.Claims, ev *journal.Event) *httpError {
	wait, herr := s.queuePublish(ctx, claims, ev)
	if herr != nil {
		return herr
	}
	return wait()
}

// queuePublish is publish in two steps: it checks the update and queues
// it in the journal, and wait waits until it is stored (see [hub.Hub.Queue]).
func (s *Server) queuePublish(ctx context.Context, claims *auth.Claims, ev *journal.Event) (wait func() *httpError, herr *httpError) {
	// Checked before the grants, so that a malformed update is answered
	// as such, and grants are never matched against a flood of topics.
	if err := s.checkUpdate(ev); err != nil {
		s.metrics.publishErrors.Inc()
		return nil, s.publishError(ctx, err)
	}
	if !claims.CanPublish(ev.Topics) {
		s.metrics.publishErrors.Inc()
		e := errorf(http.StatusForbidden, "not allowed to publish to these topics")
		e.challenge = auth.Challenge(auth.ErrInsufficientScope)
		return nil, e
	}
	// A journal that cannot take the event (one that retries until its
	// context ends, as a clustered journal with no server in reach does)
	// is answered 503 in time, and the publisher tries again.
	cctx := withDeadline(ctx, s.cfg.PublishTimeout)
	stored, err := s.queue(cctx, ev)
	if err != nil {
		cctx.release()
		return nil, s.publishError(ctx, err)
	}
	return func() *httpError {
		defer cctx.release()
		if err := stored(); err != nil {
			return s.publishError(ctx, err)
		}
		return nil
	}, nil
}

// Publish publishes ev for a caller that needs no token: a program that
// embeds the hub. The update obeys the rules it would over HTTP (those of
// the hub and the hub's reserved topics); a refused update gives an error
// wrapping [journal.ErrInvalidEvent], an [*journal.EventError] whose
// Field and Reason say why. Grants and the publish rate limit, which are
// a token's, do not apply.
func (s *Server) Publish(ctx context.Context, ev *journal.Event) error {
	if err := s.checkUpdate(ev); err != nil {
		s.metrics.publishErrors.Inc()
		if errors.Is(err, errHubTopic) {
			return &journal.EventError{Field: "topic", Reason: "reserved for the hub (under " + hubPath + ")", Rule: journal.ErrInvalidEvent}
		}
		return err
	}
	return s.commit(ctx, ev)
}

// commit appends a checked update to the journal, through the hub.
func (s *Server) commit(ctx context.Context, ev *journal.Event) error {
	wait, err := s.queue(ctx, ev)
	if err != nil {
		return err
	}
	return wait()
}

// queue is commit in two steps (see [hub.Hub.Queue]).
func (s *Server) queue(ctx context.Context, ev *journal.Event) (wait func() error, err error) {
	start := time.Now()
	stored, err := s.cfg.Hub.Queue(ctx, ev)
	if err != nil {
		s.metrics.appendLatency.Observe(time.Since(start).Seconds())
		s.metrics.publishErrors.Inc()
		return nil, err
	}
	return func() error {
		err := stored()
		s.metrics.appendLatency.Observe(time.Since(start).Seconds())
		if err != nil {
			s.metrics.publishErrors.Inc()
			return err
		}
		s.metrics.publishes.Inc()
		return nil
	}, nil
}

// errHubTopic refuses a publisher's update on a topic of the hub's own
// namespace, where the hub alone publishes (subscription events).
var errHubTopic = errors.New("topics under " + hubPath + " are reserved for the hub")

// checkUpdate applies the rules of an event, then the publish endpoint's
// own: the hub's topics are not for publishers.
func (s *Server) checkUpdate(ev *journal.Event) error {
	if err := s.cfg.Hub.Validate(ev); err != nil {
		return err
	}
	if slices.ContainsFunc(ev.Topics, hubTopic) {
		return errHubTopic
	}
	return nil
}

// publishError is what the publisher sees of an update refused or not
// stored: 400 for an invalid event, naming the field; 403 for the hub's
// topics; 409 for an ID already stored; 503 for anything else, which is
// logged and not shown.
func (s *Server) publishError(ctx context.Context, err error) *httpError {
	if invalid, ok := errors.AsType[*journal.EventError](err); ok {
		return errorf(http.StatusBadRequest, "invalid "+invalid.Field+": "+invalid.Reason)
	}
	switch {
	case errors.Is(err, errHubTopic):
		return errorf(http.StatusForbidden, errHubTopic.Error())
	case errors.Is(err, journal.ErrDuplicateID):
		return errorf(http.StatusConflict, "an event with this id already exists")
	case errors.Is(err, journal.ErrInvalidEvent):
		// Every rule answers with an EventError; this keeps one that does
		// not from reading as "journal unavailable".
		return errorf(http.StatusBadRequest, "invalid event")
	case errors.Is(err, context.Canceled) && ctx.Err() != nil:
		return errorf(http.StatusServiceUnavailable, "request canceled")
	}
	s.log.Error("publish failed", "err", err)
	return errorf(http.StatusServiceUnavailable, "journal unavailable, retry later")
}

// parseUpdate reads a publish form into an event. It refuses what is not a
// form, a malformed query (queryErr, from parsing it: the query is a form
// too, refused as r.ParseForm refuses it), fields given twice and values
// that are not of their field's kind; whether the event is acceptable is
// checkUpdate's business.
func (s *Server) parseUpdate(w http.ResponseWriter, r *http.Request, queryErr error) (*journal.Event, *httpError) {
	if !isForm(r.Header.Get("Content-Type")) {
		return nil, errorf(http.StatusUnsupportedMediaType, "publish body must be application/x-www-form-urlencoded")
	}
	if queryErr != nil {
		return nil, errorf(http.StatusBadRequest, "malformed form body")
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		if _, over := errors.AsType[*http.MaxBytesError](err); over {
			return nil, errorf(http.StatusRequestEntityTooLarge, "publish body over "+strconv.FormatInt(s.cfg.MaxBodyBytes, 10)+" bytes")
		}
		return nil, errorf(http.StatusBadRequest, "malformed form body")
	}
	form, err := parseForm(body)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "malformed form body")
	}
	if form.twice != "" {
		return nil, errorf(http.StatusBadRequest, "field "+form.twice+" given more than once")
	}
	ev := &journal.Event{Topics: form.topics, ID: form.id, Type: form.typ, Data: form.data}
	if form.retry != "" {
		retry, ok := parseRetry(form.retry)
		if !ok {
			return nil, errorf(http.StatusBadRequest, "invalid retry: want milliseconds, a whole number")
		}
		ev.Retry = retry
	}
	switch strings.ToLower(form.private) {
	case "", "off", "false", "0":
	case "on", "true", "1":
		ev.Private = true
	default:
		return nil, errorf(http.StatusBadRequest, "invalid private: want on, true or 1")
	}
	return ev, nil
}

// isForm reports whether a Content-Type names a URL-encoded form; the
// usual spelling is recognized without parsing it.
func isForm(contentType string) bool {
	const form = "application/x-www-form-urlencoded"
	if contentType == form {
		return true
	}
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == form
}

// readBody reads a request body of at most limit bytes (a larger one
// gives an *http.MaxBytesError), in one allocation when its declared
// length is small; a larger body's buffer grows as it arrives, so that a
// declared length alone reserves nothing.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	const preallocate = 64 << 10
	if r.ContentLength < 0 || r.ContentLength > min(limit, preallocate) {
		return io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	}
	// net/http's body ends at the declared length, within the limit.
	b := make([]byte, r.ContentLength)
	if _, err := io.ReadFull(r.Body, b); err != nil {
		return nil, err
	}
	// Reading the end and closing the body spare net/http a look for
	// what may be left of it before the next request.
	var end [1]byte
	if n, err := r.Body.Read(end[:]); n > 0 || err != io.EOF {
		return nil, errors.New("publish body longer than its Content-Length")
	}
	return b, r.Body.Close()
}

// publishForm holds the fields of a publish form. twice names a field
// that must be given once and was given more often.
type publishForm struct {
	topics                  []string
	id, typ, retry, private string
	data                    []byte
	twice                   string
}

// maxFormFields bounds the fields of a form, as url.ParseQuery bounds
// them by default.
const maxFormFields = 10000

// formField is a field of a publish form given at most once; dst is
// where its value goes (nil: the data, kept as bytes).
type formField struct {
	name string
	dst  *string
}

// parseForm reads a URL-encoded publish form the way url.ParseQuery does
// (at most maxFormFields fields, a ";" in a field is refused, a malformed
// escape is an error, fields other than the publish ones are ignored)
// without building a map of every field: parsing the form was a tenth of
// a publish's CPU, and its map and slices a quarter of the allocations
// (docs/benchmarks.md, issue 14).
func parseForm(body []byte) (publishForm, error) {
	var f publishForm
	rest := string(body)
	if strings.Count(rest, "&")+1 > maxFormFields {
		return f, errors.New("too many fields in form")
	}
	fields := [...]formField{{"data", nil}, {"id", &f.id}, {"type", &f.typ}, {"retry", &f.retry}, {"private", &f.private}}
	var given [len(fields)]bool
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		if strings.Contains(pair, ";") {
			return f, errors.New("invalid semicolon separator in form")
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(key)
		if err != nil {
			return f, err
		}
		i := slices.IndexFunc(fields[:], func(field formField) bool { return field.name == key })
		switch {
		case key == "topic":
			if value, err = url.QueryUnescape(value); err != nil {
				return f, err
			}
			f.topics = append(f.topics, value)
			continue
		case i < 0 || given[i]:
			// Not a publish field, or a repeated one (refused, the first
			// value kept): still refused when malformed.
			if i >= 0 {
				f.twice = cmp.Or(f.twice, key)
			}
			_, err = url.QueryUnescape(value)
		default:
			given[i] = true
			if fields[i].dst == nil {
				f.data, err = appendUnescaped(f.data[:0], value)
			} else {
				*fields[i].dst, err = url.QueryUnescape(value)
			}
		}
		if err != nil {
			return f, err
		}
	}
	return f, nil
}

// appendUnescaped appends a form value unescaped as url.QueryUnescape
// does ("+" is a space) to dst: the data of an event, in the one
// allocation it is stored in, without a string in between.
func appendUnescaped(dst []byte, s string) ([]byte, error) {
	if dst == nil {
		dst = make([]byte, 0, len(s))
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			dst = append(dst, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return dst, url.EscapeError(s[i:min(i+3, len(s))])
			}
			dst = append(dst, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			dst = append(dst, c)
		}
	}
	return dst, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c <= 'F':
		return c - 'A' + 10
	}
	return c - 'a' + 10
}

// parseRetry reads a number of milliseconds. One too large for a
// time.Duration saturates instead of wrapping around (18446744073710 ms
// times a million is about a millisecond modulo 2^64), so that validation
// sees it out of range.
func parseRetry(v string) (time.Duration, bool) {
	const maxMillis = math.MaxInt64 / uint64(time.Millisecond)
	ms, err := strconv.ParseUint(v, 10, 64)
	switch {
	case errors.Is(err, strconv.ErrRange), err == nil && ms > maxMillis:
		return math.MaxInt64, true
	case err != nil:
		return 0, false
	}
	return time.Duration(ms) * time.Millisecond, true
}

// checkSelector applies the rule of a topic to a subscription's selector,
// with the selector's own length limit.
func (s *Server) checkSelector(sel string) *httpError {
	err := journal.ValidateTopic(sel, journal.Limits{MaxTopicLength: s.cfg.MaxSelectorLength})
	if invalid, ok := errors.AsType[*journal.EventError](err); ok {
		return errorf(http.StatusBadRequest, "invalid topic selector: "+invalid.Reason)
	}
	return nil
}

// checkLastEventID refuses an ID to resume from that no event can have.
func checkLastEventID(id string) *httpError {
	err := journal.ValidateLastEventID(id)
	if invalid, ok := errors.AsType[*journal.EventError](err); ok {
		return errorf(http.StatusBadRequest, "invalid Last-Event-ID: "+invalid.Reason)
	}
	return nil
}

// hubTopic reports whether a topic lies in the hub's own namespace.
func hubTopic(t string) bool {
	if !strings.Contains(t, hubPath) && !strings.Contains(t, "%") {
		return false // the usual case, without parsing the URL
	}
	u, err := url.Parse(t)
	if err != nil {
		return strings.HasPrefix(t, hubPath)
	}
	return u.Path == hubPath || strings.HasPrefix(u.Path, hubPath+"/")
}
