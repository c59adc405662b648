package server

import (
	"context"
	"net"
	"testing"

	"github.com/heraldhub/herald/internal/hub"
	"github.com/heraldhub/herald/internal/journal"
	"github.com/heraldhub/herald/internal/selector"
)

// A connection closed before it reached the registry must not enter it:
// nothing would ever remove it, and every heartbeat tick would visit it.
func TestPushAddRefusesClosedConn(t *testing.T) {
	j := journal.NewMemory(journal.Retention{})
	h := hub.New(j, hub.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go h.Run(ctx)
	<-h.Started()
	s, err := New(Config{Hub: h, Journal: j, Heartbeat: -1, Anonymous: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Drain()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { c, _ := ln.Accept(); accepted <- c }()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if peer := <-accepted; peer != nil {
		defer peer.Close()
	}
	tcp := nc.(*net.TCPConn)
	raw, err := tcp.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	sels, err := selector.ParseSet([]string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	sub, err := h.Subscribe(ctx, hub.SubscribeRequest{Selectors: sels})
	if err != nil {
		t.Fatal(err)
	}
	c := &pushConn{srv: s, conn: tcp, raw: raw, fd: -1, sub: sub}

	c.close(errClientGone)
	if err := s.push.add(c); err == nil {
		t.Error("add accepted a closed connection")
	}
	n := 0
	for i := range s.push.shards {
		n += len(s.push.shards[i].conns)
	}
	if n != 0 {
		t.Fatalf("closed push connection left in the registry (%d entries)", n)
	}
}
