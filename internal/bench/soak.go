package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The soak scenario is a long fan-out: -n subscribers held and events
// published at --rate for --duration, with the hub's memory, goroutines,
// open files and streams sampled every --sample-every. What a soak looks
// for is growth: a hub that holds the same load for an hour must end it
// with what it held after the first minutes.

// soakReport is the soak's part of a report; the deliveries are in the
// report's fan-out part.
type soakReport struct {
	SampleSeconds float64      `json:"sample_seconds"`
	Samples       []soakSample `json:"samples"`
	// Growth compares the last third of the samples with the second
	// (the first third is the warm-up: the heap and buffers grow to their
	// working size).
	Growth []soakGrowth `json:"growth,omitempty"`
}

// soakSample is the hub at one moment.
type soakSample struct {
	Seconds    float64  `json:"s"`
	RSSBytes   *int64   `json:"rss_bytes,omitempty"`
	Goroutines *int64   `json:"goroutines,omitempty"`
	OpenFiles  *int64   `json:"open_files,omitempty"`
	Streams    *float64 `json:"streams,omitempty"`
}

// soakGrowth is how one figure moved between the middle and the last third
// of a soak.
type soakGrowth struct {
	Figure string  `json:"figure"`
	Middle float64 `json:"middle"` // mean over the second third
	Last   float64 `json:"last"`   // mean over the last third
	Change float64 `json:"change"` // (last - middle) / middle
}

// soakGrowthLimit is the change of a figure past which the soak reports
// growth as a problem.
const soakGrowthLimit = 0.10

func (r *runner) soak(ctx context.Context) (*fanoutReport, *soakReport, error) {
	sr := &soakReport{SampleSeconds: r.cfg.sampleEvery.Seconds()}
	start := time.Now()
	sampleCtx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wg.Go(func() {
		t := time.NewTicker(r.cfg.sampleEvery)
		defer t.Stop()
		for {
			s := r.soakSample(sampleCtx, start)
			mu.Lock()
			sr.Samples = append(sr.Samples, s)
			mu.Unlock()
			r.progressf("soak: %s", s.text())
			select {
			case <-t.C:
			case <-sampleCtx.Done():
				return
			}
		}
	})
	fr, err := r.fanout(ctx)
	stop()
	wg.Wait()
	if err != nil {
		return nil, nil, err
	}
	sr.Growth = growthOf(sr.Samples)
	for _, g := range sr.Growth {
		if g.Change > soakGrowthLimit {
			r.notes = append(r.notes, fmt.Sprintf("%s grew %.0f%% between the middle and the last third of the soak (%.0f → %.0f)",
				g.Figure, 100*g.Change, g.Middle, g.Last))
		}
	}
	return fr, sr, nil
}

// soakSample reads the hub's figures now.
func (r *runner) soakSample(ctx context.Context, start time.Time) soakSample {
	s := r.probe.sample(ctx)
	out := soakSample{Seconds: time.Since(start).Seconds(), RSSBytes: s.RSSBytes, Goroutines: s.Goroutines}
	if r.cfg.hubPID() > 0 {
		if n, err := openFiles(r.cfg.hubPID()); err == nil {
			out.OpenFiles = &n
		}
	}
	var streams float64
	found := false
	for k, v := range s.Hub {
		if k == "herald_streams" || strings.HasPrefix(k, "herald_streams{") || k == "herald_connections" {
			streams += v
			found = true
		}
	}
	if found {
		out.Streams = &streams
	}
	return out
}

// openFiles counts the descriptors process pid holds.
func openFiles(pid int) (int64, error) {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return int64(len(entries)), err
}

func (s soakSample) text() string {
	f := func(p *int64) string {
		if p == nil {
			return "-"
		}
		return strconv.FormatInt(*p, 10)
	}
	rss, streams := "-", "-"
	if s.RSSBytes != nil {
		rss = bytesText(float64(*s.RSSBytes))
	}
	if s.Streams != nil {
		streams = strconv.FormatFloat(*s.Streams, 'f', 0, 64)
	}
	return fmt.Sprintf("%6.0fs\tRSS %s\tgoroutines %s\topen files %s\tstreams %s", s.Seconds, rss, f(s.Goroutines), f(s.OpenFiles), streams)
}

// growthOf compares the figures of the last third of the samples with the
// second third. Fewer than six samples tell nothing.
func growthOf(samples []soakSample) []soakGrowth {
	n := len(samples)
	if n < 6 {
		return nil
	}
	middle, last := samples[n/3:2*n/3], samples[2*n/3:]
	figures := []struct {
		name string
		get  func(soakSample) (float64, bool)
	}{
		{"RSS", func(s soakSample) (float64, bool) { return deref(s.RSSBytes) }},
		{"goroutines", func(s soakSample) (float64, bool) { return deref(s.Goroutines) }},
		{"open files", func(s soakSample) (float64, bool) { return deref(s.OpenFiles) }},
	}
	var out []soakGrowth
	for _, fig := range figures {
		m, okM := mean(middle, fig.get)
		l, okL := mean(last, fig.get)
		if !okM || !okL || m == 0 {
			continue
		}
		out = append(out, soakGrowth{Figure: fig.name, Middle: m, Last: l, Change: (l - m) / m})
	}
	return out
}

func deref(p *int64) (float64, bool) {
	if p == nil {
		return 0, false
	}
	return float64(*p), true
}

func mean(samples []soakSample, get func(soakSample) (float64, bool)) (float64, bool) {
	var sum float64
	var n int
	for _, s := range samples {
		if v, ok := get(s); ok {
			sum += v
			n++
		}
	}
	if n == 0 {
		return 0, false
	}
	return sum / float64(n), true
}

// writeSoak prints the samples and the growth.
func writeSoak(w io.Writer, s *soakReport) {
	fmt.Fprintf(w, "\nsoak samples (every %gs)\n", s.SampleSeconds)
	for _, x := range s.Samples {
		fmt.Fprintln(w, x.text())
	}
	for _, g := range s.Growth {
		fmt.Fprintf(w, "growth\t%s: %.0f → %.0f (%+.1f%%), the middle third against the last\n", g.Figure, g.Middle, g.Last, 100*g.Change)
	}
}
