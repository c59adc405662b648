package bench

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// dbResume runs the db-resume scenario: a stream of the location log
// receives its first put and one change, goes away while -c writers make
// -k changes below log (each a new leaf, c<seq>), and comes back with
// Last-Event-ID. A Firebase client that resumes wants the changes it
// missed, each once, each writer's in order, and not a put of the whole
// location, which by then holds the -k leaves.
func (r *runner) dbResume(ctx context.Context) (*resumeReport, error) {
	k, c := r.cfg.events, r.cfg.concurrency
	rep := &resumeReport{Events: k, Publishers: c}
	loc := r.dbWatched()
	lastID, err := r.dbResumePoint(ctx, loc)
	if err != nil {
		return nil, err
	}
	rep.ResumedFrom = lastID
	r.progressf("stream left at %q; writing %d changes", lastID, k)

	writers, err := r.writeMissed(ctx, loc, rep)
	if err != nil {
		return nil, err
	}
	r.progressf("wrote %d in %.2fs (%.0f/s); resuming", rep.Published, rep.PublishSeconds, rep.PublishRate)
	if err := r.dbReplay(ctx, loc, lastID, writers, rep); err != nil {
		return nil, err
	}
	rep.Missing = rep.Published - rep.Received
	rep.Exact = rep.Missing == 0 && rep.Duplicates == 0 && rep.OutOfOrder == 0 && rep.Unexpected == 0 && rep.Snapshots == 0
	return rep, nil
}

// dbResumePoint streams loc, writes a probe below it and returns the ID
// of the change that brought it: a client that has seen the location
// and one change since.
func (r *runner) dbResumePoint(ctx context.Context, loc string) (string, error) {
	c := newDBClient(r.db, r.token, r.cfg.connectTimeout)
	defer c.close()
	probe := r.dbURLPath(loc + "/probe")
	// The location exists before the stream opens, so its first put has
	// an ID.
	if err := c.put(ctx, probe, appendLeaf(nil, payload{sent: time.Now().UnixNano()}, 0)); err != nil {
		return "", err
	}
	sctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	f, err := r.db.openDB(sctx, subscribeRequest{path: r.dbURLPath(loc), token: r.token})
	cancel()
	if err != nil {
		return "", err
	}
	defer f.close()
	stop := context.AfterFunc(ctx, func() { f.close() })
	defer stop()
	st := f.(dbFeed).stream
	st.conn.SetReadDeadline(time.Now().Add(r.cfg.connectTimeout))
	if _, _, err := f.next(); err != nil {
		return "", fmt.Errorf("first put: %w", err)
	}
	if err := c.put(ctx, probe, appendLeaf(nil, payload{seq: 1, sent: time.Now().UnixNano()}, 0)); err != nil {
		return "", err
	}
	for {
		id, data, err := f.next()
		if err != nil {
			if ctx.Err() != nil {
				return "", ctx.Err()
			}
			return "", fmt.Errorf("waiting for the probe: %w", err)
		}
		if pl, ok := parseDBEvent(data); ok && pl.step == 0 && pl.seq == 1 && len(id) > 0 {
			return string(id), nil
		}
	}
}

// writeMissed makes -k changes below loc with -c writers, each writing
// one after another, and returns which writer made each (indexed by
// sequence number, from 1; -1 for a write that failed).
func (r *runner) writeMissed(ctx context.Context, loc string, rep *resumeReport) ([]int32, error) {
	k := r.cfg.events
	writers := make([]int32, k+1)
	var next, done atomic.Int64
	var tally errorTally
	var wg sync.WaitGroup
	started := time.Now()
	stopProgress := r.every(time.Second, func() {
		r.progressf("%d/%d written", done.Load(), k)
	})
	for w := range r.cfg.concurrency {
		wg.Go(func() {
			c := newDBClient(r.db, r.token, r.cfg.connectTimeout)
			defer c.close()
			var buf []byte
			for ctx.Err() == nil {
				s := next.Add(1)
				if s > int64(k) {
					return
				}
				buf = appendLeaf(buf[:0], payload{step: 1, seq: uint64(s), sent: time.Now().UnixNano()}, r.cfg.size)
				if err := c.put(ctx, r.dbURLPath(fmt.Sprintf("%s/c%d", loc, s)), buf); err != nil {
					writers[s] = -1
					if ctx.Err() == nil {
						tally.add(err)
					}
					continue
				}
				writers[s] = int32(w)
				done.Add(1)
			}
		})
	}
	wg.Wait()
	stopProgress()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	el := time.Since(started)
	rep.Published, rep.PublishErrors = done.Load(), tally.total.Load()
	rep.PublishSeconds, rep.PublishRate = el.Seconds(), float64(rep.Published)/el.Seconds()
	if rep.Published == 0 {
		return nil, fmt.Errorf("every write failed: %s", tally.list()[0].Example)
	}
	return writers, nil
}

// dbReplay resumes the stream of loc after lastID and checks what the hub
// sends: each change once, each writer's in order, and no put of the
// whole location. Once all have arrived it writes an end marker and reads
// up to it, so that a duplicate sent after the last change is seen too.
func (r *runner) dbReplay(ctx context.Context, loc, lastID string, writers []int32, rep *resumeReport) error {
	began := time.Now()
	sctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	f, err := r.db.openDB(sctx, subscribeRequest{path: r.dbURLPath(loc), token: r.token, lastEventID: lastID})
	cancel()
	if err != nil {
		return fmt.Errorf("resuming: %w", err)
	}
	defer f.close()
	stop := context.AfterFunc(ctx, func() { f.close() })
	defer stop()
	st := f.(dbFeed).stream
	rep.HeadersMS = millis(time.Since(began))

	c := newDBClient(r.db, r.token, r.cfg.connectTimeout)
	defer c.close()
	rep.Progress = []countPoint{{}}
	seen := make([]bool, len(writers))
	lastOfWriter := make([]int, r.cfg.concurrency)
	step := max(rep.Published/100, 1)
	markerSent := false
	for {
		// A hub that stops sending for --drain has sent all it will:
		// what has not arrived by then is missing.
		st.conn.SetReadDeadline(time.Now().Add(r.cfg.drain))
		_, data, err := f.next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if isTimeout(err) {
				if markerSent {
					r.notes = append(r.notes, "the end marker never arrived")
				} else {
					r.notes = append(r.notes, fmt.Sprintf("the resumed stream stopped: no change for %s", r.cfg.drain))
				}
				return nil
			}
			return fmt.Errorf("resumed stream: %w", err)
		}
		path, value, ok := dbEventParts(data)
		if ok && bytes.Equal(path, rootPath) {
			// The whole location again: what a client that could not
			// resume gets, and must then diff itself.
			rep.Snapshots++
			continue
		}
		pl, ok := parseLeaf(value)
		switch {
		case ok && pl.step == 2:
			return nil // the end marker: everything before it was checked
		case !ok || pl.step != 1 || pl.seq < 1 || pl.seq >= uint64(len(writers)) || writers[pl.seq] < 0:
			rep.Unexpected++
			continue
		case seen[pl.seq]:
			rep.Duplicates++
			continue
		}
		seen[pl.seq] = true
		rep.Received++
		if rep.Received == 1 {
			rep.FirstEventMS = millis(time.Since(began))
		}
		if w := writers[pl.seq]; int(pl.seq) < lastOfWriter[w] {
			rep.OutOfOrder++
		} else {
			lastOfWriter[w] = int(pl.seq)
		}
		if rep.Received%step == 0 || rep.Received == rep.Published {
			rep.Progress = append(rep.Progress, countPoint{Seconds: time.Since(began).Seconds(), Count: rep.Received})
		}
		if rep.Received == rep.Published && !markerSent {
			el := time.Since(began)
			rep.LastEventMS = millis(el)
			rep.ReplayRate = float64(rep.Received) / el.Seconds()
			if err := c.put(ctx, r.dbURLPath(loc+"/end"), appendLeaf(nil, payload{step: 2, sent: time.Now().UnixNano()}, 0)); err != nil {
				return fmt.Errorf("writing the end marker: %w", err)
			}
			markerSent = true
		}
	}
}
