package server_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A request with both Content-Length and Transfer-Encoding: chunked must
// not let a request hidden behind its body run on the same connection.
func TestRequestSmugglingClosesConnection(t *testing.T) {
	e := newEnv(t, anonymous)
	c, err := net.Dial("tcp", e.ts.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tok := e.publisherToken()
	body := "topic=t&data=x"
	smuggled := "POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 21\r\n\r\ntopic=t&data=smuggled"
	chunked := "POST /.well-known/mercure HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tok +
		"\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
		strconv.FormatInt(int64(len(body)), 16) + "\r\n" + body + "\r\n0\r\n\r\n" + smuggled
	if _, err := c.Write([]byte(chunked)); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	out, err := io.ReadAll(c) // until the server closes the connection
	if err != nil {
		t.Fatalf("the connection stayed open after the chunked request: %v (read %q)", err, out)
	}
	if n := strings.Count(string(out), "HTTP/1.1 "); n != 1 {
		t.Fatalf("%d responses on one connection, want 1: %q", n, out)
	}
	if !strings.HasPrefix(string(out), "HTTP/1.1 200") {
		t.Fatalf("the chunked publish itself was answered %q", out)
	}
	// Only the chunked publish reached the journal.
	s := e.subscribe("topic=t", http.Header{"Last-Event-ID": {"earliest"}})
	if ev := s.next(t); string(ev.Data) != "x" {
		t.Fatalf("first event %q", ev.Data)
	}
	e.nothingBefore(t, s, "t")
}
