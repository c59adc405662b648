package client

import (
	"bytes"
	"cmp"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/heraldhub/herald/sse"
)

// eventStream is the source of an SSE connection: one text/event-stream
// response, read by a decoder.
type eventStream struct {
	body io.ReadCloser
	dec  *sse.Decoder
}

func (s *eventStream) next() (sse.Event, error) { return s.dec.Next() }
func (s *eventStream) cursor() string           { return s.dec.LastEventID() }
func (s *eventStream) retry() time.Duration     { return s.dec.Retry() }
func (s *eventStream) close()                   { s.body.Close() }

// openEventStream makes the request of an SSE connection on c.
func (st *Stream) openEventStream(c *conn) error {
	req, err := st.newRequest(c)
	if err != nil {
		return err
	}
	resp, err := st.client.Do(req)
	if err != nil {
		return c.timeoutErr(err)
	}
	s := &eventStream{body: resp.Body}
	c.src = s
	c.opened = time.Now()
	body := readCounter{resp.Body, c.received}
	if err := checkResponse(resp, body, "text/event-stream"); err != nil {
		return err
	}
	st.checkCursor(req.Header.Get("Last-Event-ID"), resp.Header.Get("Last-Event-ID") == earliest)
	// As a reconnected browser does, the decoder starts with the last
	// event ID, which events without an `id` line carry.
	s.dec = sse.NewDecoder(body)
	s.dec.SetLastEventID(st.LastEventID())
	s.dec.MaxLineSize = st.cfg.MaxLineSize
	s.dec.MaxEventSize = st.cfg.MaxEventSize
	s.dec.OnComment = st.cfg.OnComment
	return nil
}

// newRequest builds the request of an SSE connection.
func (st *Stream) newRequest(c *conn) (*http.Request, error) {
	var body io.Reader
	if st.cfg.Body != nil {
		body = bytes.NewReader(st.cfg.Body)
	}
	method := cmp.Or(st.cfg.Method, http.MethodGet)
	req, err := http.NewRequestWithContext(c.ctx, method, st.cfg.URL, body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	st.addHeader(req.Header)
	if id := st.LastEventID(); id != "" {
		req.Header.Set("Last-Event-ID", id)
	}
	if err := st.beforeConnect(req); err != nil {
		return nil, err
	}
	return req, nil
}

// beforeConnect runs the Subscriber's BeforeConnect hook on req.
func (st *Stream) beforeConnect(req *http.Request) error {
	if st.cfg.BeforeConnect == nil {
		return nil
	}
	if err := st.cfg.BeforeConnect(req); err != nil {
		return fmt.Errorf("client: before connecting: %w", err)
	}
	return nil
}

// addHeader adds the Subscriber's headers to h, replacing those of the same
// names, except Last-Event-ID, which is the stream's own.
func (st *Stream) addHeader(h http.Header) {
	for name, values := range st.cfg.Header {
		h.Del(name)
		for _, v := range values {
			h.Add(name, v)
		}
	}
	h.Del("Last-Event-ID")
}

// checkResponse returns the error that makes resp unusable: a status other
// than 200, or a media type other than want. An error message is read from
// body, which reads resp.Body; the caller closes it.
func checkResponse(resp *http.Response, body io.Reader, want string) error {
	if resp.StatusCode != http.StatusOK {
		return newStatusError(resp, body)
	}
	ct := resp.Header.Get("Content-Type")
	mediaType, _, err := mime.ParseMediaType(ct)
	// A malformed parameter does not change the essence, which is all that
	// the standard checks.
	if (err != nil && err != mime.ErrInvalidMediaParameter) || mediaType != want {
		return fmt.Errorf("%w: %q", ErrBadContentType, ct)
	}
	return nil
}
