package cli

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// serveDebug serves Go's pprof profiles on pprofAddr and metrics on
// metricsAddr, each on its own listener (one, when the addresses are the
// same; none for an empty address), so that neither is exposed on the
// hub's public address.
func serveDebug(pprofAddr, metricsAddr string, metrics http.Handler, log *slog.Logger) (stop func(), err error) {
	muxes := map[string]*http.ServeMux{}
	mux := func(addr string) *http.ServeMux {
		if muxes[addr] == nil {
			muxes[addr] = http.NewServeMux()
		}
		return muxes[addr]
	}
	if pprofAddr != "" {
		m := mux(pprofAddr)
		m.HandleFunc("GET /debug/pprof/", pprof.Index)
		m.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
		m.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		m.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		m.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	if metricsAddr != "" {
		mux(metricsAddr).Handle("GET /metrics", metrics)
	}
	var servers []*http.Server
	stop = func() {
		for _, srv := range servers {
			_ = srv.Close()
		}
	}
	for addr, m := range muxes {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			stop()
			return nil, fmt.Errorf("internal listener %s: %w", addr, err)
		}
		srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
		servers = append(servers, srv)
		go func() { _ = srv.Serve(ln) }()
		base := "http://" + ln.Addr().String()
		if addr == pprofAddr {
			log.Info("pprof listening", "url", base+"/debug/pprof/")
		}
		if addr == metricsAddr {
			log.Info("metrics listening", "url", base+"/metrics")
		}
	}
	return stop, nil
}
