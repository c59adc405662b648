package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Publisher publishes updates through a hub's Mercure publish endpoint
// (POST /.well-known/mercure on a Herald server). Its zero value, with URL
// set, is ready to use; it is safe for concurrent use.
type Publisher struct {
	// URL is the hub's publish endpoint.
	URL string
	// Token, if not empty, is sent as "Authorization: Bearer <Token>": a
	// JWT whose claims allow publishing to the update's topics.
	Token string
	// HTTPClient sends the requests; nil means http.DefaultClient.
	HTTPClient *http.Client
}

// Update is one message to publish.
type Update struct {
	// Topics holds the topics the update is published to: the first is
	// canonical, the rest alternates. At least one is required.
	Topics []string
	// Data is the payload.
	Data []byte
	// ID, if not empty, is the event ID the publisher chooses; otherwise
	// the hub assigns one.
	ID string
	// Type, if not empty, is the SSE event type.
	Type string
	// Retry, if positive, is the reconnection time sent to subscribers
	// (whole milliseconds, rounded up).
	Retry time.Duration
	// Private restricts the update to subscribers authorised for one of
	// its topics.
	Private bool
}

// maxIDSize bounds how much of a publish response is read as the event ID.
const maxIDSize = 4 << 10

// Publish sends u to the hub and returns the ID of the event it became. A
// response other than 200 OK gives a [*StatusError] carrying the status and
// the hub's explanation.
func (p *Publisher) Publish(ctx context.Context, u Update) (id string, err error) {
	if len(u.Topics) == 0 {
		return "", ErrNoTopic
	}
	form := url.Values{"topic": u.Topics}
	if len(u.Data) > 0 {
		form.Set("data", string(u.Data))
	}
	if u.ID != "" {
		form.Set("id", u.ID)
	}
	if u.Type != "" {
		form.Set("type", u.Type)
	}
	if ms := retryMillis(u.Retry); ms > 0 {
		form.Set("retry", strconv.FormatInt(ms, 10))
	}
	if u.Private {
		form.Set("private", "on")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.URL, strings.NewReader(form.Encode()))
	if err != nil {
		return "", fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if p.Token != "" {
		req.Header.Set("Authorization", "Bearer "+p.Token)
	}
	hc := p.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", newStatusError(resp, resp.Body)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxIDSize))
	if err != nil {
		return "", fmt.Errorf("client: reading the event ID: %w", err)
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// retryMillis returns d in whole milliseconds, rounded up; 0 if d is not
// positive.
func retryMillis(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	ms := d / time.Millisecond
	if d%time.Millisecond != 0 {
		ms++
	}
	return int64(ms)
}
