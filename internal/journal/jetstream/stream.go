package jetstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/nats-io/nats.go"
	natsjs "github.com/nats-io/nats.go/jetstream"
)

// streamInfo is a STREAM.INFO response, with the configuration also kept
// as sent, so that an update changes only what the journal owns and keeps
// the fields this client does not know.
type streamInfo struct {
	natsjs.StreamInfo
	raw struct {
		Config map[string]json.RawMessage `json:"config"`
	}
}

// streamInfo asks the stream's leader for its configuration and state.
func (j *Journal) streamInfo(ctx context.Context) (*streamInfo, error) {
	msgs, err := j.replies.do(ctx, &nats.Msg{Subject: j.api + "STREAM.INFO." + j.opts.Stream}, false, j.opts.Timeout)
	if err != nil {
		return nil, fmt.Errorf("journal/jetstream: stream %s info: %w", j.opts.Stream, unavailable(err))
	}
	info := new(streamInfo)
	if err := decodeAPI(msgs[0].Data, &info.StreamInfo); err != nil {
		return nil, fmt.Errorf("journal/jetstream: stream %s info: %w", j.opts.Stream, err)
	}
	if err := json.Unmarshal(msgs[0].Data, &info.raw); err != nil {
		return nil, fmt.Errorf("journal/jetstream: stream %s info: %w", j.opts.Stream, err)
	}
	return info, nil
}

// info is streamInfo for an open journal: a stream deleted, or created
// again since Open, fails the journal with ErrStreamGone.
func (j *Journal) info(ctx context.Context) (*streamInfo, error) {
	info, err := j.streamInfo(ctx)
	switch {
	case apiCode(err) == natsjs.JSErrCodeStreamNotFound:
		j.fail(fmt.Errorf("%w: stream %s no longer exists", ErrStreamGone, j.opts.Stream))
		return nil, *j.goneErr.Load()
	case err != nil:
		return nil, err
	case !info.Created.Equal(j.created):
		j.fail(fmt.Errorf("%w: stream %s was created again at %v (the journal opened the one created at %v)",
			ErrStreamGone, j.opts.Stream, info.Created, j.created))
		return nil, *j.goneErr.Load()
	}
	return info, nil
}

// ensureStream returns the journal's stream, created if it does not exist,
// checked to fit a journal, and updated to the limits of the options.
func (j *Journal) ensureStream(ctx context.Context) (*streamInfo, error) {
	info, err := j.streamInfo(ctx)
	if apiCode(err) == natsjs.JSErrCodeStreamNotFound {
		err = j.createStream(ctx)
		if apiCode(err) == natsjs.JSErrCodeStreamNameInUse {
			// Another node created it meanwhile, perhaps otherwise: check
			// what it made as any existing stream.
			err = nil
		}
		if err == nil {
			info, err = j.streamInfo(ctx)
		}
	}
	if err != nil {
		return nil, err
	}
	if err := j.fits(&info.Config); err != nil {
		return nil, err
	}
	if change := j.owned(info); len(change) > 0 {
		if err := j.updateStream(ctx, info, change); err != nil {
			return nil, err
		}
		if info, err = j.streamInfo(ctx); err != nil {
			return nil, err
		}
	}
	if info.Created.IsZero() {
		return nil, fmt.Errorf("journal/jetstream: stream %s has no creation time to derive an epoch from", j.opts.Stream)
	}
	return info, nil
}

// maxMsgs is the stream's MaxMsgs for the journal's retention.
func (j *Journal) maxMsgs() int64 {
	if n := j.opts.Retention.MaxEvents; n > 0 {
		return int64(n)
	}
	return -1
}

// errCodeNoPeers is JetStream's "no suitable peers for placement".
const errCodeNoPeers natsjs.ErrorCode = 10005

// createStream creates the journal's stream.
func (j *Journal) createStream(ctx context.Context) error {
	cfg := natsjs.StreamConfig{
		Name:              j.opts.Stream,
		Description:       "Herald journal",
		Subjects:          []string{j.subj.all()},
		Retention:         natsjs.LimitsPolicy,
		Discard:           natsjs.DiscardOld,
		MaxConsumers:      -1,
		MaxMsgs:           j.maxMsgs(),
		MaxBytes:          -1,
		MaxAge:            j.opts.Retention.MaxAge,
		MaxMsgsPerSubject: -1,
		Storage:           j.opts.Storage,
		Replicas:          max(j.opts.Replicas, 1),
		AllowDirect:       true,
	}
	if err := j.replies.api(ctx, j.api+"STREAM.CREATE."+j.opts.Stream, cfg, nil, j.opts.Timeout); err != nil {
		return fmt.Errorf("journal/jetstream: create stream %s: %w", j.opts.Stream, unavailable(err))
	}
	j.log.Info("journal: created the JetStream stream", "stream", j.opts.Stream, "subjects", cfg.Subjects, "replicas", cfg.Replicas)
	return nil
}

// fits checks that a stream's configuration is one the journal can use.
func (j *Journal) fits(cfg *natsjs.StreamConfig) error {
	misfit := func(format string, args ...any) error {
		return fmt.Errorf("%w: stream %s: %s", ErrStreamConfig, j.opts.Stream, fmt.Sprintf(format, args...))
	}
	switch {
	case !slices.Equal(cfg.Subjects, []string{j.subj.all()}):
		return misfit("subjects %q, want [%q]", cfg.Subjects, j.subj.all())
	case cfg.Retention != natsjs.LimitsPolicy:
		return misfit("retention policy %v, want limits", cfg.Retention)
	case cfg.Discard != natsjs.DiscardOld:
		return misfit("discard policy %v, want old", cfg.Discard)
	case cfg.MaxMsgsPerSubject > 0:
		return misfit("at most %d messages per subject, want no limit", cfg.MaxMsgsPerSubject)
	case cfg.NoAck:
		return misfit("no acknowledgements (no_ack), which appends wait for")
	case cfg.Sealed:
		return misfit("sealed")
	case cfg.Mirror != nil || len(cfg.Sources) > 0:
		return misfit("a mirror or sourced stream, which takes no appends of its own")
	case cfg.SubjectTransform != nil:
		return misfit("a subject transform, which renames the journal's subjects")
	}
	return nil
}

// owned returns the configuration fields the journal sets that differ
// from what the stream has: its limits for the retention, its replicas
// when the options name them, and direct gets, which reads use.
func (j *Journal) owned(info *streamInfo) map[string]any {
	change := make(map[string]any)
	if info.Config.MaxMsgs != j.maxMsgs() && !(info.Config.MaxMsgs <= 0 && j.maxMsgs() < 0) {
		change["max_msgs"] = j.maxMsgs()
	}
	if info.Config.MaxAge != j.opts.Retention.MaxAge {
		change["max_age"] = j.opts.Retention.MaxAge
	}
	if n := j.opts.Replicas; n > 0 && info.Config.Replicas != n {
		change["num_replicas"] = n
	}
	if !info.Config.AllowDirect {
		change["allow_direct"] = true
	}
	return change
}

func (j *Journal) updateStream(ctx context.Context, info *streamInfo, change map[string]any) error {
	cfg := maps.Clone(info.raw.Config)
	for k, v := range change {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		cfg[k] = b
	}
	err := j.replies.api(ctx, j.api+"STREAM.UPDATE."+j.opts.Stream, cfg, nil, j.opts.Timeout)
	if err != nil {
		return fmt.Errorf("journal/jetstream: update stream %s: %w", j.opts.Stream, unavailable(err))
	}
	j.log.Info("journal: updated the JetStream stream", "stream", j.opts.Stream, "change", change)
	return nil
}

// unavailable wraps ErrUnavailable around an error that says JetStream
// could not answer: no responders, a timeout, or a JetStream error with
// status 503.
func unavailable(err error) error {
	var apiErr *natsjs.APIError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, errNoResponders), errors.Is(err, nats.ErrTimeout),
		errors.As(err, &apiErr) && apiErr.Code == 503:
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// msgGetRequest asks the stream's leader for one message.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// storedMsg is a message as STREAM.MSG.GET returns it.
type storedMsg struct {
	Message struct {
		Subject string    `json:"subject"`
		Seq     uint64    `json:"seq"`
		Header  []byte    `json:"hdrs"`
		Data    []byte    `json:"data"`
		Time    time.Time `json:"time"`
	} `json:"message"`
}
