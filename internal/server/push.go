package server

import (
	"errors"
	"net"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/heraldhub/herald/sse"
)

// Push streams: an idle SSE subscriber should cost a few KiB, not the
// ~26 KiB of net/http's goroutine, buffers and background reader per
// stream. So, for plain HTTP/1.1 on Linux, the subscribe handler hijacks
// the connection, writes the response head, the opening block and the
// replay itself, hands the connection to the push pool (internal/push)
// and returns: from then on the stream holds no goroutine and no buffer.
// HTTP/2, TLS and other systems keep the goroutine-per-stream writer.

// canPush reports whether a subscribe request can become a push stream.
func (s *Server) canPush(w http.ResponseWriter, r *http.Request) bool {
	if s.push == nil || r.ProtoMajor != 1 || r.TLS != nil {
		return false
	}
	_, ok := w.(http.Hijacker)
	return ok
}

// startPush turns the request into a push stream: it hijacks the
// connection, writes the head, the opening block and the replay, then
// hands the connection to the push pool, which releases the session when
// the connection closes.
func (s *Server) startPush(w http.ResponseWriter, r *http.Request, stream *sseStream) {
	sess := stream.sess
	sse.SetHeaders(w.Header())
	tcp, err := hijack(w)
	if err != nil {
		s.log.Debug("stream ended", "subscriber", sess.Sub.ID(), "reason", err)
		sess.Release(err)
		return
	}
	hijackedStatus(w, http.StatusOK)
	s.metrics.sse.opens()
	buf := appendResponseHead(make([]byte, 0, 512), r.Proto, w.Header())
	buf = s.opening(buf, sess)
	write := func(b []byte) error {
		if err := s.writeBlocking(tcp, b); err != nil {
			return err
		}
		stream.Sent(len(b))
		return nil
	}
	if err := replay(r.Context(), sess.Sub, buf, write); err != nil {
		_ = tcp.Close()
		s.log.Debug("stream ended", "subscriber", sess.Sub.ID(), "reason", err)
		s.metrics.sse.closes(err)
		sess.Release(err)
		return
	}
	c, err := s.push.Add(tcp, stream)
	if err != nil {
		return // the pool closed the connection and told the stream
	}
	sess.SetWriter(c)
	// Frames may have queued, or the session ended, before the wake was set.
	c.Wake()
}

// writeBlocking writes b to a hijacked connection within the write timeout.
func (s *Server) writeBlocking(c *net.TCPConn, b []byte) error {
	if err := c.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil {
		return err
	}
	if _, err := c.Write(b); err != nil {
		return err
	}
	return c.SetWriteDeadline(time.Time{})
}

// hijack takes the connection of a push stream. The body is delimited by
// the connection's end, as HTTP/1.1 allows for a response without length
// or chunking; EventSource clients expect exactly that of a stream.
func hijack(w http.ResponseWriter) (*net.TCPConn, error) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, err
	}
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		conn.Close()
		return nil, errors.New("hijacked connection is not TCP")
	}
	return tcp, nil
}

// appendResponseHead writes an HTTP/1.1 200 status line and headers.
func appendResponseHead(dst []byte, proto string, h http.Header) []byte {
	if proto != "HTTP/1.0" {
		proto = "HTTP/1.1"
	}
	dst = append(dst, proto...)
	dst = append(dst, " 200 OK\r\n"...)
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range h[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				continue // never split the head; net/http drops these too
			}
			dst = append(dst, k...)
			dst = append(dst, ": "...)
			dst = append(dst, v...)
			dst = append(dst, "\r\n"...)
		}
	}
	dst = append(dst, "Connection: close\r\nDate: "...)
	dst = append(dst, time.Now().UTC().Format(http.TimeFormat)...)
	dst = append(dst, "\r\n\r\n"...)
	return dst
}
