package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// dbSnapshotReport is the outcome of the db-snapshot scenario: a large
// location read whole, by GET and by a stream's first put.
type dbSnapshotReport struct {
	// Nodes counts the location's objects and leaves, itself included;
	// Bytes is its JSON. BuildSeconds is how long writing it took.
	Nodes        int     `json:"nodes"`
	Bytes        int     `json:"bytes"`
	BuildSeconds float64 `json:"build_seconds"`
	// Reads of each kind were made one after another; then Concurrent of
	// each kind at once.
	Reads            int     `json:"reads"`
	Get              dbReads `json:"get"`
	Stream           dbReads `json:"stream"`
	Concurrent       int     `json:"concurrent"`
	ConcurrentGet    dbReads `json:"concurrent_get"`
	ConcurrentStream dbReads `json:"concurrent_stream"`
	// Memory is the hub's, with --pid.
	Memory *dbSnapshotMemory `json:"memory,omitempty"`
	// Server is the hub's use over the reads.
	Server *serverUse `json:"server,omitempty"`
}

// dbReads times reads of the whole location: from the request (dial
// included) to the response headers, and to the last byte of the value
// (a GET's body; a stream's first put).
type dbReads struct {
	Headers  latencySummary `json:"headers"`
	Complete latencySummary `json:"complete"`
	// Mismatched counts reads whose value was not the tree written.
	Mismatched int64  `json:"mismatched"`
	Failed     int64  `json:"failed"`
	FirstError string `json:"first_error,omitempty"`
}

// dbSnapshotMemory is the hub's RSS once the tree is written and the
// hub's memory settled, and its peak (VmHWM, reset before each phase)
// while it answered the reads.
type dbSnapshotMemory struct {
	RSSBeforeBytes      int64  `json:"rss_before_bytes"`
	PeakSequentialBytes *int64 `json:"peak_sequential_bytes,omitempty"`
	PeakConcurrentBytes *int64 `json:"peak_concurrent_bytes,omitempty"`
}

// snapshotGroupNodes is the size of each group of the tree: an object and
// its leaves.
const snapshotGroupNodes = 100

// snapshotTree builds the JSON of a tree of at least nodes nodes as the
// hub renders it (compact, keys in Firebase's order): groups "g000000",
// ... each an object of 99 leaves "f00" ... "f98". It returns the JSON of
// each group as a member of the location's object.
func snapshotTree(nodes int) [][]byte {
	groups := (nodes - 1 + snapshotGroupNodes - 1) / snapshotGroupNodes
	out := make([][]byte, groups)
	for g := range groups {
		var b []byte
		b = fmt.Appendf(b, `"g%06d":{`, g)
		for f := range snapshotGroupNodes - 1 {
			if f > 0 {
				b = append(b, ',')
			}
			b = fmt.Appendf(b, `"f%02d":"value-%06d-%02d"`, f, g, f)
		}
		out[g] = append(b, '}')
	}
	return out
}

// joinObject is the JSON object of members.
func joinObject(members [][]byte) []byte {
	b := []byte{'{'}
	for i, m := range members {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	return append(b, '}')
}

func (r *runner) dbSnapshot(ctx context.Context) (*dbSnapshotReport, error) {
	loc := r.dbWatched()
	path := r.dbURLPath(loc)
	groups := snapshotTree(r.cfg.nodes)
	tree := joinObject(groups)
	rep := &dbSnapshotReport{
		Nodes: 1 + len(groups)*snapshotGroupNodes, Bytes: len(tree),
		Reads: r.cfg.subscribers, Concurrent: r.cfg.concurrency,
	}

	// Written in PATCHes of 100 groups (about 230 KB), as a tree grows.
	began := time.Now()
	c := newDBClient(r.db, r.token, r.cfg.connectTimeout)
	defer c.close()
	for i := 0; i < len(groups); i += 100 {
		if _, err := c.do(ctx, http.MethodPatch, path, joinObject(groups[i:min(i+100, len(groups))])); err != nil {
			return nil, fmt.Errorf("writing the tree: %w", err)
		}
	}
	rep.BuildSeconds = time.Since(began).Seconds()
	r.progressf("wrote %d nodes (%d bytes of JSON) in %.2fs; waiting for the hub's memory to settle", rep.Nodes, rep.Bytes, rep.BuildSeconds)
	settled, err := r.settle(ctx)
	if err != nil {
		return nil, err
	}
	if r.cfg.hubPID() > 0 && settled.RSSBytes != nil {
		rep.Memory = &dbSnapshotMemory{RSSBeforeBytes: *settled.RSSBytes}
	}

	getWant := append(append([]byte(nil), tree...), '\n')
	putWant := append(append([]byte(`{"path":"/","data":`), tree...), '}')
	read := func(stream bool) (time.Duration, time.Duration, bool, error) {
		if stream {
			return r.readFirstPut(ctx, path, putWant)
		}
		return r.readGet(ctx, path, getWant)
	}
	// sequential reads, then concurrent ones; a peak of each phase.
	phase := func(concurrent bool, peak **int64) {
		reset := rep.Memory != nil && resetProcPeak(r.cfg.hubPID()) == nil
		if rep.Memory != nil && !reset {
			r.notes = append(r.notes, "could not reset the hub's peak RSS (/proc/PID/clear_refs): no peak reported")
		}
		for _, stream := range []bool{false, true} {
			reads := &rep.Get
			n := rep.Reads
			if stream {
				reads = &rep.Stream
			}
			if concurrent {
				reads, n = &rep.ConcurrentGet, rep.Concurrent
				if stream {
					reads = &rep.ConcurrentStream
				}
			}
			r.timeReads(n, concurrent, reads, func() (time.Duration, time.Duration, bool, error) { return read(stream) })
		}
		if reset {
			if p, err := readProcPeak(r.cfg.hubPID()); err == nil {
				*peak = &p
			}
		}
	}
	before := r.probe.sample(ctx)
	var seqPeak, conPeak *int64
	phase(false, &seqPeak)
	phase(true, &conPeak)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	rep.Server = between(before, r.probe.sample(ctx))
	if rep.Memory != nil {
		rep.Memory.PeakSequentialBytes, rep.Memory.PeakConcurrentBytes = seqPeak, conPeak
	}
	return rep, nil
}

// timeReads makes n reads, one after another or all at once, into reads.
func (r *runner) timeReads(n int, concurrent bool, reads *dbReads, read func() (headers, complete time.Duration, match bool, err error)) {
	headers, complete := newHistogram(), newHistogram()
	var mu sync.Mutex
	one := func() {
		h, c, match, err := read()
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			reads.Failed++
			if reads.FirstError == "" {
				reads.FirstError = err.Error()
			}
		case !match:
			reads.Mismatched++
		default:
			headers.record(h)
			complete.record(c)
		}
	}
	if concurrent {
		var wg sync.WaitGroup
		for range n {
			wg.Go(one)
		}
		wg.Wait()
	} else {
		for range n {
			one()
		}
	}
	reads.Headers, reads.Complete = headers.summary(), complete.summary()
}

// readGet GETs path on a connection of its own and compares the body with
// want as it arrives.
func (r *runner) readGet(ctx context.Context, path string, want []byte) (headers, complete time.Duration, match bool, err error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	defer cancel()
	conn, err := r.db.dial(ctx)
	if err != nil {
		return 0, 0, false, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	head := "GET " + path + " HTTP/1.1\r\nHost: " + r.db.hub.Host + "\r\nUser-Agent: herald-bench\r\nConnection: close\r\n"
	if r.token != "" {
		head += "Authorization: Bearer " + r.token + "\r\n"
	}
	if _, err := io.WriteString(conn, head+"\r\n"); err != nil {
		return 0, 0, false, err
	}
	resp, err := http.ReadResponse(bufio.NewReaderSize(conn, 64<<10), nil)
	if err != nil {
		return 0, 0, false, err
	}
	defer resp.Body.Close()
	headers = time.Since(began)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return 0, 0, false, &dbError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	cmp := &comparer{want: want}
	if _, err := io.Copy(cmp, resp.Body); err != nil {
		return 0, 0, false, err
	}
	return headers, time.Since(began), cmp.matched(), nil
}

// readFirstPut opens a stream of path and reads its first event, which
// must be a put whose data is want, comparing it as it arrives.
func (r *runner) readFirstPut(ctx context.Context, path string, want []byte) (headers, complete time.Duration, match bool, err error) {
	began := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.cfg.connectTimeout)
	defer cancel()
	st, err := r.db.subscribe(ctx, subscribeRequest{path: path, token: r.token})
	if err != nil {
		return 0, 0, false, err
	}
	defer st.close()
	stop := context.AfterFunc(ctx, func() { st.conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	headers = time.Since(began)
	match, err = firstPut(st.body, want)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = errStreamEnded
		}
		return 0, 0, false, err
	}
	return headers, time.Since(began), match, nil
}

// firstPut reads one event from br, a stream's body, and reports whether
// it is a put whose data is want. Its data line may be far longer than
// the reader's buffer: it is compared piece by piece, never held whole.
// A block without data (the stream's opening retry hint) is no event, as
// EventSource has it, and is skipped.
func firstPut(br *bufio.Reader, want []byte) (bool, error) {
	put, data, anyData := false, false, false
	var cmp *comparer
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// The rest of a long line: only a data line may be one.
			if cmp == nil {
				if !bytes.HasPrefix(line, []byte("data: ")) {
					return false, fmt.Errorf("a line longer than %d bytes that is not data", br.Size())
				}
				cmp = &comparer{want: want}
				line = line[len("data: "):]
			}
			cmp.Write(line)
			continue
		}
		if err != nil {
			return false, err
		}
		line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
		switch {
		case cmp != nil:
			cmp.Write(line)
			data, cmp, anyData = cmp.matched(), nil, true
		case len(line) == 0 && !anyData:
			put = false // a block that dispatches nothing
		case len(line) == 0:
			return put && data, nil
		case bytes.Equal(line, []byte("event: put")):
			put = true
		case bytes.HasPrefix(line, []byte("data: ")):
			data, anyData = bytes.Equal(line[len("data: "):], want), true
		}
	}
}

// comparer compares what is written to it with want.
type comparer struct {
	want []byte
	n    int
	diff bool
}

func (c *comparer) Write(p []byte) (int, error) {
	if !c.diff && (c.n+len(p) > len(c.want) || !bytes.Equal(p, c.want[c.n:c.n+len(p)])) {
		c.diff = true
	}
	c.n += len(p)
	return len(p), nil
}

// matched reports whether exactly want was written.
func (c *comparer) matched() bool { return !c.diff && c.n == len(c.want) }

// sizeText is n with thousands separators.
func sizeText(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
