package bench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
)

// ErrNotLoopback reports a hub (or metrics) URL whose host is not on this
// machine. herald bench only ever loads loopback addresses: pointed at a
// remote host it would be a denial-of-service tool.
var ErrNotLoopback = errors.New("bench: only loopback targets (127.0.0.0/8, ::1) are allowed")

// defaultSources are the client addresses rotated over when the hub listens
// on IPv4 loopback: each source address has its own ~28,000 ephemeral ports,
// so 15,000 subscribers plus publishers never exhaust them.
var defaultSources = []string{
	"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5",
	"127.0.0.6", "127.0.0.7", "127.0.0.8", "127.0.0.9",
}

// lookupFunc resolves a host name; tests replace it to exercise the guard
// with names that would resolve elsewhere.
type lookupFunc func(ctx context.Context, host string) ([]netip.Addr, error)

func systemLookup(ctx context.Context, host string) ([]netip.Addr, error) {
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// resolveLoopback returns the address to dial for rawURL's host, refusing
// with ErrNotLoopback unless every address the host resolves to is loopback.
// The caller dials the returned address, never the name again, so a later
// DNS answer cannot redirect the load elsewhere.
func resolveLoopback(ctx context.Context, lookup lookupFunc, rawURL string) (*url.URL, netip.AddrPort, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, netip.AddrPort{}, fmt.Errorf("bench: hub URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, netip.AddrPort{}, fmt.Errorf("bench: hub URL %q: scheme must be http or https", rawURL)
	}
	host := u.Hostname()
	if host == "" {
		return nil, netip.AddrPort{}, fmt.Errorf("bench: hub URL %q has no host", rawURL)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	pnum, err := strconv.ParseUint(port, 10, 16)
	if err != nil || pnum == 0 {
		return nil, netip.AddrPort{}, fmt.Errorf("bench: hub URL %q: bad port %q", rawURL, port)
	}
	var addrs []netip.Addr
	if a, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{a}
	} else {
		addrs, err = lookup(ctx, host)
		if err != nil {
			return nil, netip.AddrPort{}, fmt.Errorf("bench: resolving %q: %w", host, err)
		}
		if len(addrs) == 0 {
			return nil, netip.AddrPort{}, fmt.Errorf("bench: %q resolves to no address", host)
		}
	}
	for _, a := range addrs {
		if !a.Unmap().IsLoopback() {
			return nil, netip.AddrPort{}, fmt.Errorf("%w: %q resolves to %s; run herald bench on the hub's machine", ErrNotLoopback, host, a)
		}
	}
	// IPv4 loopback is preferred: it has the 127.0.0.2-9 source addresses.
	addr := addrs[0].Unmap()
	for _, a := range addrs {
		if a.Unmap().Is4() {
			addr = a.Unmap()
			break
		}
	}
	return u, netip.AddrPortFrom(addr, uint16(pnum)), nil
}

// targetSpec is everything a subscriber group needs to reach the hub; it
// crosses the child-process boundary as JSON.
type targetSpec struct {
	Hub      string   `json:"hub"`
	Addr     string   `json:"addr"` // resolved loopback ip:port
	Sources  []string `json:"sources,omitempty"`
	Insecure bool     `json:"insecure,omitempty"`
}

// target dials the hub from rotating loopback source addresses.
type target struct {
	spec    targetSpec
	hub     *url.URL
	addr    netip.AddrPort
	sources []net.IP
	tls     *tls.Config // nil for plain http
	next    atomic.Uint64
}

// newTarget checks spec again (a child trusts nothing it is told) and
// prepares dialling.
func newTarget(spec targetSpec) (*target, error) {
	hub, err := url.Parse(spec.Hub)
	if err != nil {
		return nil, fmt.Errorf("bench: hub URL: %w", err)
	}
	addr, err := netip.ParseAddrPort(spec.Addr)
	if err != nil {
		return nil, fmt.Errorf("bench: hub address: %w", err)
	}
	if !addr.Addr().Unmap().IsLoopback() {
		return nil, fmt.Errorf("%w: %s", ErrNotLoopback, addr)
	}
	t := &target{spec: spec, hub: hub, addr: addr}
	for _, s := range spec.Sources {
		a, err := netip.ParseAddr(s)
		if err != nil || !a.IsLoopback() || a.Is4() != addr.Addr().Unmap().Is4() {
			return nil, fmt.Errorf("bench: source address %q must be a loopback address of the hub's family", s)
		}
		t.sources = append(t.sources, net.IP(a.AsSlice()))
	}
	if hub.Scheme == "https" {
		t.tls = &tls.Config{
			ServerName:         hub.Hostname(),
			InsecureSkipVerify: spec.Insecure, // opt-in (--insecure), for self-signed local hubs
			NextProtos:         []string{"http/1.1"},
			MinVersion:         tls.VersionTLS12,
		}
	}
	return t, nil
}

// chooseSources turns the --sources flag into addresses: "auto" rotates over
// 127.0.0.2-9 when the hub is on IPv4 loopback and this machine lets us bind
// them (Linux does; macOS only has 127.0.0.1), "none" lets the kernel choose.
// A list is checked by newTarget.
func chooseSources(flag string, hub netip.AddrPort) []string {
	switch flag {
	case "none", "":
		return nil
	case "auto":
		if !hub.Addr().Unmap().Is4() {
			return nil
		}
		var usable []string
		for _, s := range defaultSources {
			l, err := net.Listen("tcp", s+":0")
			if err != nil {
				continue
			}
			l.Close()
			usable = append(usable, s)
		}
		return usable
	}
	list := strings.Split(flag, ",")
	for i := range list {
		list[i] = strings.TrimSpace(list[i])
	}
	return list
}

// dialTCP opens a TCP connection to the hub. Successive calls rotate over
// the source addresses.
func (t *target) dialTCP(ctx context.Context) (net.Conn, error) {
	d := net.Dialer{}
	if len(t.sources) > 0 {
		i := t.next.Add(1) % uint64(len(t.sources))
		d.LocalAddr = &net.TCPAddr{IP: t.sources[i]}
		d.Control = bindNoPort
	}
	return d.DialContext(ctx, "tcp", t.addr.String())
}

// dial opens a connection to the hub, TLS when the hub URL is https.
func (t *target) dial(ctx context.Context) (net.Conn, error) {
	conn, err := t.dialTCP(ctx)
	if err != nil || t.tls == nil {
		return conn, err
	}
	tc := tls.Client(conn, t.tls)
	if err := tc.HandshakeContext(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return tc, nil
}
