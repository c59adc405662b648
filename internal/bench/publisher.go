package bench

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// mintToken signs an HS256 JWT that lets its bearer publish and subscribe
// to every topic, the way a Mercure hub expects.
func mintToken(key string, ttl time.Duration) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"mercure": map[string]any{
			"publish":   []string{"*"},
			"subscribe": []string{"*"},
		},
		"iat": now.Unix(),
		"exp": now.Add(ttl).Unix(),
	}
	return jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(key))
}

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
// concurrent publishers each keep one.
func newPublisher(t *target, token string, conns int) *publisher {
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
	return &publisher{client: &http.Client{Transport: tr}, hub: t.spec.Hub, token: token}
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
