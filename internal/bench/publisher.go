package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/heraldhub/herald/internal/auth"
)

// mintToken signs a JWT that lets its bearer publish and subscribe to every
// topic, and read and write the whole of Herald's state tree (its "db"
// claim, which other hubs ignore). key is taken as auth.ParseKey takes it:
// a plain secret gives the HS256 token that Herald and Mercure hubs alike
// accept.
func mintToken(key string, ttl time.Duration) (string, error) {
	k, err := auth.ParseKey([]byte(key))
	if err != nil {
		return "", err
	}
	return auth.Mint(k, auth.MintClaims{
		Publish: []string{"*"}, Subscribe: []string{"*"},
		DBRead: []string{"/"}, DBWrite: []string{"/"},
		TTL: ttl,
	})
}

// publishHint adds to a publish the hub refused for want of rights how to
// give the bench a token that has them.
func publishHint(err error) error {
	var pe *publishError
	if errors.As(err, &pe) && (pe.status == http.StatusUnauthorized || pe.status == http.StatusForbidden) {
		return fmt.Errorf("%w (%s)", err, rightsHint)
	}
	return err
}

// rightsHint says how to give the bench a token that may publish.
const rightsHint = "give a token with publish rights: --token, or --key with the hub's JWT secret"

// publishError is a publish the hub answered with something other than 200.
type publishError struct {
	status int
	body   string
}

func (e *publishError) Error() string {
	return fmt.Sprintf("publish: hub answered %d %s: %s", e.status, http.StatusText(e.status), e.body)
}

// publisher posts events to the hub with the Mercure publish API.
type publisher struct {
	client *http.Client
	hub    string
	token  string
}

// newPublisher returns a publisher whose connections come from t's rotating
// source addresses; conns bounds its idle keep-alive connections, so that
// concurrent publishers each keep one, and timeout bounds each request.
func newPublisher(t *target, token string, conns int, timeout time.Duration) *publisher {
	tr := &http.Transport{
		// Proxy stays nil: an HTTP_PROXY from the environment must not route
		// the load off this machine.
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return t.dialTCP(ctx)
		},
		TLSClientConfig:     t.tls,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		ForceAttemptHTTP2:   false,
	}
	return &publisher{client: &http.Client{Transport: tr, Timeout: timeout}, hub: t.spec.Hub, token: token}
}

// publish posts one event and returns the ID the hub assigned.
func (p *publisher) publish(ctx context.Context, topic string, data []byte) (string, error) {
	form := url.Values{"topic": {topic}, "data": {string(data)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.hub, strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "herald-bench")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", &publishError{status: resp.StatusCode, body: strings.TrimSpace(string(body))}
	}
	return strings.TrimSpace(string(body)), nil
}

// close releases the publisher's idle connections.
func (p *publisher) close() { p.client.CloseIdleConnections() }
