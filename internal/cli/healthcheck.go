package cli

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"time"
)

// healthcheck asks the hub that serve's configuration describes (its
// flags, HERALD_* variables and --config file, read as serve reads them)
// for /healthz on its own address, and fails unless it answers 200. It is
// the container's HEALTHCHECK, where there is no curl.
func healthcheck(env *Env, args []string) error {
	c, fs := serveFlags(env)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "Usage: herald healthcheck [serve flags]\n\nAsks /healthz of the hub that serve's flags, HERALD_* variables and --config\nfile describe, on its own address; exits 0 when it answers 200.\n\nFlags:\n")
		printDefaults(env.stderr, fs)
	}
	if _, err := parseServeFlags(env, fs, args); err != nil {
		return err
	}
	url := healthURL(c)
	client := &http.Client{
		Timeout: 5 * time.Second,
		// Its own certificate names the hub's public host, not the loopback
		// address asked here; liveness is what is checked.
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	req, err := http.NewRequestWithContext(env.ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	fmt.Fprintln(env.stdout, url, resp.Status)
	return nil
}

// healthURL is serve's /healthz as this host reaches it: an address that
// listens on every interface is asked on loopback.
func healthURL(c *serveConfig) string {
	scheme := "http"
	if c.tlsCert != "" || c.tlsSelfSigned {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(c.addr)
	if err != nil {
		return scheme + "://" + c.addr + "/healthz"
	}
	switch ip := net.ParseIP(host); {
	case host == "" || (ip != nil && ip.IsUnspecified() && ip.To4() != nil):
		host = "127.0.0.1"
	case ip != nil && ip.IsUnspecified():
		host = "::1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
}
