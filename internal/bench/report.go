package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// report is the outcome of one run, as printed and as JSON.
type report struct {
	Scenario        string         `json:"scenario"`
	Transport       transport      `json:"transport"`
	Hub             string         `json:"hub"`
	Hubs            []string       `json:"hubs,omitempty"` // all of --hub, when it names several
	Topic           string         `json:"topic,omitempty"`
	Path            string         `json:"path,omitempty"` // db-*: the tree location the run worked under
	Selector        string         `json:"selector,omitempty"`
	Started         time.Time      `json:"started"`
	ElapsedSeconds  float64        `json:"elapsed_seconds"`
	BenchCPUSeconds *float64       `json:"bench_cpu_seconds,omitempty"` // the load generator's own cost
	Idle            *idleReport    `json:"idle,omitempty"`
	Fanout          *fanoutReport  `json:"fanout,omitempty"`
	Publish         *publishReport `json:"publish,omitempty"`
	Resume          *resumeReport  `json:"resume,omitempty"`
	Soak            *soakReport    `json:"soak,omitempty"`
	// db-fanout and db-spread report as a fan-out, db-resume as a resume:
	// a state tree write is their publish, a stream their subscriber.
	DBWrite    *dbWriteReport    `json:"db_write,omitempty"`
	DBSnapshot *dbSnapshotReport `json:"db_snapshot,omitempty"`
	Notes      []string          `json:"notes,omitempty"`
	// Problems are what makes Command return ExitInexact.
	Problems []string `json:"problems,omitempty"`
}

// problems lists the checks the run failed: anything a healthy hub on an
// unloaded machine would not do.
func (rep *report) problems() []string {
	var p []string
	add := func(n int64, format string) {
		if n > 0 {
			p = append(p, fmt.Sprintf(format, n))
		}
	}
	switch {
	case rep.Idle != nil:
		add(rep.Idle.Failed, "%d subscribers failed to connect")
		add(rep.Idle.Dropped, "%d streams dropped while idle")
	case rep.Fanout != nil:
		if rep.Soak != nil {
			for _, g := range rep.Soak.Growth {
				if g.Change > soakGrowthLimit {
					p = append(p, fmt.Sprintf("%s grew %.0f%% over the soak", g.Figure, 100*g.Change))
				}
			}
		}
		add(rep.Fanout.Failed, "%d subscribers failed to connect")
		for _, s := range rep.Fanout.Steps {
			at := fmt.Sprintf(" at %g events/s", s.TargetRate)
			add(s.Lost, "%d deliveries lost"+at)
			add(s.Duplicates, "%d deliveries duplicated or out of order"+at)
			add(s.PublishErrors, "%d publishes failed"+at)
		}
	case rep.Publish != nil:
		add(rep.Publish.Errors, "%d publishes failed")
	case rep.Resume != nil:
		r := rep.Resume
		add(r.PublishErrors, "%d publishes failed")
		add(r.Missing, "%d missed events not replayed")
		add(r.Duplicates, "%d events replayed more than once")
		add(r.OutOfOrder, "%d events replayed out of order")
		add(r.IDMismatch, "%d events replayed with another ID than the hub assigned")
		add(r.Unexpected, "%d unexpected events replayed")
		add(r.Snapshots, "%d puts of the whole location instead of the changes")
	case rep.DBWrite != nil:
		add(rep.DBWrite.Errors, "%d writes failed")
	case rep.DBSnapshot != nil:
		for _, rd := range []struct {
			what string
			r    dbReads
		}{
			{"GETs", rep.DBSnapshot.Get}, {"streams' first puts", rep.DBSnapshot.Stream},
			{"concurrent GETs", rep.DBSnapshot.ConcurrentGet}, {"concurrent streams' first puts", rep.DBSnapshot.ConcurrentStream},
		} {
			add(rd.r.Failed, "%d "+rd.what+" failed")
			add(rd.r.Mismatched, "%d "+rd.what+" were not the tree written")
		}
	}
	return p
}

// writeReport prints rep as a table, or as indented JSON.
func writeReport(w io.Writer, rep *report, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	var b strings.Builder
	if rep.Path != "" {
		fmt.Fprintf(&b, "herald bench %s  %s\n\n", rep.Scenario, rep.Path)
	} else {
		hub := rep.Hub
		if len(rep.Hubs) > 0 {
			hub = strings.Join(rep.Hubs, ",")
		}
		fmt.Fprintf(&b, "herald bench %s --transport %s  %s\ntopic %s\n\n", rep.Scenario, rep.Transport, hub, rep.Topic)
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	wd := wordsOf(rep.Scenario)
	switch {
	case rep.Idle != nil:
		writeIdle(tw, rep.Idle)
	case rep.Fanout != nil:
		writeFanout(tw, rep.Fanout, wd)
		if rep.Soak != nil {
			writeSoak(tw, rep.Soak)
		}
	case rep.Publish != nil:
		writePublish(tw, rep.Publish)
	case rep.Resume != nil:
		writeResume(tw, rep.Resume, wd)
	case rep.DBWrite != nil:
		writeDBWrite(tw, rep.DBWrite)
	case rep.DBSnapshot != nil:
		writeDBSnapshot(tw, rep.DBSnapshot)
	}
	tw.Flush()
	fmt.Fprintf(&b, "\nrun took %.1f s", rep.ElapsedSeconds)
	if rep.BenchCPUSeconds != nil {
		fmt.Fprintf(&b, "; the bench itself used %.1f s of CPU", *rep.BenchCPUSeconds)
	}
	b.WriteString("\n")
	for _, n := range rep.Notes {
		fmt.Fprintf(&b, "note: %s\n", n)
	}
	for _, p := range rep.Problems {
		fmt.Fprintf(&b, "PROBLEM: %s\n", p)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func writeIdle(w io.Writer, r *idleReport) {
	fmt.Fprintf(w, "subscribers\t%d requested, %d connected, %d failed (%s)\n", r.Subscribers, r.Connected, r.Failed, procsText(r.Procs))
	fmt.Fprintf(w, "connect rate\t%.0f connections/s (%.2f s)\n", r.ConnectRate, r.ConnectSeconds)
	fmt.Fprintf(w, "connect latency\t%s\n", latencyText(r.ConnectLatency))
	if r.HubCPUPerConnect != nil {
		fmt.Fprintf(w, "server CPU\t%.1f µs per connect\n", *r.HubCPUPerConnect)
	}
	if r.BytesPerConn != nil {
		fmt.Fprintf(w, "server memory\t%s per connection (RSS %s -> %s, settled in %.1f s)\n",
			bytesText(*r.BytesPerConn), bytesText(float64(*r.RSSBeforeBytes)), bytesText(float64(*r.RSSSettledBytes)), r.SettleSeconds)
	} else {
		fmt.Fprintf(w, "server memory\tunknown (give --pid, or a hub with /metrics)\n")
	}
	writeServer(w, "server, connecting", r.ServerConnect)
	fmt.Fprintf(w, "held\t%.1f s: %d dropped, %d open at the end\n", r.HoldSeconds, r.Dropped, r.OpenAtEnd)
	writeServer(w, "server, holding", r.ServerHold)
	for i, nd := range r.Nodes {
		mem := "memory unknown (give a --pid for each hub)"
		if nd.BytesPerConn != nil {
			mem = fmt.Sprintf("%s per connection (RSS %s -> %s)", bytesText(*nd.BytesPerConn),
				bytesText(float64(*nd.RSSBeforeBytes)), bytesText(float64(*nd.RSSSettledBytes)))
		}
		fmt.Fprintf(w, "hub %d	%s: %d of %d connected, %d open at the end; %s\n", i+1, nd.Hub, nd.Connected, nd.Subscribers, nd.OpenAtEnd, mem)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error\t%s\n", r.FirstError)
	}
}

// words are the nouns of a report: a hub's events, or a state tree's
// changes.
type words struct {
	subscribers, publishers, published, events string
}

func wordsOf(scenario string) words {
	if isDB(scenario) {
		return words{"streams", "writers", "written", "changes"}
	}
	return words{"subscribers", "publishers", "published", "events"}
}

func writeFanout(w io.Writer, r *fanoutReport, wd words) {
	fmt.Fprintf(w, "%s\t%d requested, %d connected, %d failed (%s), %.0f connections/s\n",
		wd.subscribers, r.Subscribers, r.Connected, r.Failed, procsText(r.Procs), r.ConnectRate)
	if r.Writers > 1 {
		fmt.Fprintf(w, "writers\t%d, each at its share of the rate\n", r.Writers)
	}
	if a := r.Attack; a != nil {
		fmt.Fprintf(w, "attack\t%d costly streams held (%d refused); %d subscriptions churned (%.0f/s, %d failed)\n",
			a.AttackersConnected, a.AttackersFailed, a.Churned, a.ChurnRate, a.ChurnFailed)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "rate/s\t%s\tper s\t%s p99 ms\tdeliveries/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\tlost\tdup\tserver CPU\tserver RSS\t\n", wd.published, wd.published)
	for _, s := range r.Steps {
		cpu, rss := "-", "-"
		if s.Server != nil && s.Server.CPUPercent != nil {
			cpu = fmt.Sprintf("%.0f%%", *s.Server.CPUPercent)
		}
		if s.Server != nil && s.Server.RSSAfterBytes != nil {
			rss = bytesText(float64(*s.Server.RSSAfterBytes))
		}
		fmt.Fprintf(w, "%g\t%d\t%.1f\t%.2f\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%d\t%d\t%s\t%s\t\n",
			s.TargetRate, s.Published, s.PublishRate, s.PublishLatency.P99MS, s.DeliveriesPerSec,
			s.Latency.P50MS, s.Latency.P90MS, s.Latency.P99MS, s.Latency.MaxMS, s.Lost, s.Duplicates, cpu, rss)
	}
	fmt.Fprintln(w)
	for _, s := range r.Steps {
		if rt := s.PollRoundTrip; rt != nil {
			fmt.Fprintf(w, "polls at %g/s\t%d (%.0f/s); round trip of those answered at once: %s\n",
				s.TargetRate, s.Polls, s.PollsPerSec, latencyText(*rt))
		}
	}
	for _, s := range r.Steps {
		writeHubMetrics(w, fmt.Sprintf("hub at %g/s", s.TargetRate), s.Server)
	}
	if k := r.Knee; k != nil {
		switch {
		case !k.Reached:
			fmt.Fprintf(w, "knee\tp99 stayed under %g ms at every rate\n", k.ThresholdMS)
		case k.LastUnder > 0:
			fmt.Fprintf(w, "knee\tp99 passes %g ms between %g and %g events/s\n", k.ThresholdMS, k.LastUnder, k.Rate)
		default:
			fmt.Fprintf(w, "knee\tp99 is over %g ms already at %g events/s\n", k.ThresholdMS, k.Rate)
		}
	}
	fmt.Fprintf(w, "streams\t%d dropped, %d reconnected, %d late deliveries, %d foreign %s\n", r.Drops, r.Reconnects, r.Late, r.Foreign, wd.events)
	if r.Unprimed > 0 {
		fmt.Fprintf(w, "unprimed\t%d %s never received a first event\n", r.Unprimed, wd.subscribers)
	}
	if r.FirstError != "" {
		fmt.Fprintf(w, "first error\t%s\n", r.FirstError)
	}
}

func writePublish(w io.Writer, r *publishReport) {
	if r.Window > 0 {
		fmt.Fprintf(w, "publishers\t%d WebSockets, each with up to %d publishes awaiting their ack, for %.1f s\n", r.Publishers, r.Window, r.Seconds)
		fmt.Fprintf(w, "acknowledged\t%d (%.0f publishes/s)\n", r.Published, r.PublishesPerSec)
	} else {
		fmt.Fprintf(w, "publishers\t%d for %.1f s\n", r.Publishers, r.Seconds)
		fmt.Fprintf(w, "published\t%d (%.0f publishes/s)\n", r.Published, r.PublishesPerSec)
	}
	fmt.Fprintf(w, "latency\t%s\n", latencyText(r.Latency))
	if r.HubCPUPerPublish != nil {
		fmt.Fprintf(w, "server CPU\t%.1f µs per publish\n", *r.HubCPUPerPublish)
	}
	fmt.Fprintf(w, "errors\t%d\n", r.Errors)
	for _, k := range r.ErrorKinds {
		fmt.Fprintf(w, "  %s\t%d, e.g. %s\n", k.Kind, k.Count, k.Example)
	}
	writeServer(w, "server", r.Server)
}

func writeResume(w io.Writer, r *resumeReport, wd words) {
	fmt.Fprintf(w, "%s\t%d of %d by %d %s in %.2f s (%.0f/s), %d errors\n",
		wd.published, r.Published, r.Events, r.Publishers, wd.publishers, r.PublishSeconds, r.PublishRate, r.PublishErrors)
	fmt.Fprintf(w, "resumed from\t%s", r.ResumedFrom)
	if r.ResumedOn != "" {
		fmt.Fprintf(w, " on %s", r.ResumedOn)
	}
	if r.HubLastEventID != "" {
		fmt.Fprintf(w, " (hub answered Last-Event-ID: %s)", r.HubLastEventID)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "replay\theaders %.1f ms, first %s %.1f ms, last %.1f ms (%.0f %s/s)\n",
		r.HeadersMS, strings.TrimSuffix(wd.events, "s"), r.FirstEventMS, r.LastEventMS, r.ReplayRate, wd.events)
	exact := "yes"
	if !r.Exact {
		exact = "NO"
	}
	fmt.Fprintf(w, "exact\t%s: %d replayed, %d missing, %d duplicated, %d out of order, %d with another ID, %d unexpected",
		exact, r.Received, r.Missing, r.Duplicates, r.OutOfOrder, r.IDMismatch, r.Unexpected)
	if r.Snapshots > 0 {
		fmt.Fprintf(w, ", %d puts of the whole location", r.Snapshots)
	}
	fmt.Fprintln(w)
}

func writeDBWrite(w io.Writer, r *dbWriteReport) {
	fmt.Fprintf(w, "writers\t%d for %.1f s, each putting its own leaf\n", r.Writers, r.Seconds)
	fmt.Fprintf(w, "written\t%d (%.0f writes/s)\n", r.Written, r.WritesPerSec)
	fmt.Fprintf(w, "latency\t%s\n", latencyText(r.Latency))
	fmt.Fprintf(w, "errors\t%d\n", r.Errors)
	for _, k := range r.ErrorKinds {
		fmt.Fprintf(w, "  %s\t%d, e.g. %s\n", k.Kind, k.Count, k.Example)
	}
	writeServer(w, "server", r.Server)
}

func writeDBSnapshot(w io.Writer, r *dbSnapshotReport) {
	fmt.Fprintf(w, "tree\t%s nodes, %s bytes of JSON, written in %.2f s\n", sizeText(r.Nodes), sizeText(r.Bytes), r.BuildSeconds)
	for _, rd := range []struct {
		label string
		r     dbReads
	}{
		{fmt.Sprintf("GET, %d one after another", r.Reads), r.Get},
		{fmt.Sprintf("stream's first put, %d one after another", r.Reads), r.Stream},
		{fmt.Sprintf("GET, %d at once", r.Concurrent), r.ConcurrentGet},
		{fmt.Sprintf("stream's first put, %d at once", r.Concurrent), r.ConcurrentStream},
	} {
		fmt.Fprintf(w, "%s\tcomplete %s\n", rd.label, latencyText(rd.r.Complete))
		fmt.Fprintf(w, "\theaders p50 %.2f ms, max %.2f ms; %d failed, %d not the tree written\n",
			rd.r.Headers.P50MS, rd.r.Headers.MaxMS, rd.r.Failed, rd.r.Mismatched)
		if rd.r.FirstError != "" {
			fmt.Fprintf(w, "\tfirst error: %s\n", rd.r.FirstError)
		}
	}
	if m := r.Memory; m != nil {
		peak := func(p *int64) string {
			if p == nil {
				return "unknown"
			}
			growth := bytesText(float64(*p - m.RSSBeforeBytes))
			if *p >= m.RSSBeforeBytes {
				growth = "+" + growth
			}
			return fmt.Sprintf("%s (%s)", bytesText(float64(*p)), growth)
		}
		fmt.Fprintf(w, "server memory\tRSS %s before the reads; peak %s one after another, %s at once\n",
			bytesText(float64(m.RSSBeforeBytes)), peak(m.PeakSequentialBytes), peak(m.PeakConcurrentBytes))
	}
	writeServer(w, "server, reading", r.Server)
}

func writeServer(w io.Writer, label string, u *serverUse) {
	if u == nil {
		return
	}
	var parts []string
	if u.CPUSeconds != nil {
		parts = append(parts, fmt.Sprintf("CPU %.2f s", *u.CPUSeconds))
	}
	if u.CPUPercent != nil {
		parts = append(parts, fmt.Sprintf("%.0f%% of a core", *u.CPUPercent))
	}
	if u.RSSAfterBytes != nil {
		parts = append(parts, "RSS "+bytesText(float64(*u.RSSAfterBytes)))
	}
	if u.Goroutines != nil {
		parts = append(parts, fmt.Sprintf("%d goroutines", *u.Goroutines))
	}
	if len(parts) > 0 {
		fmt.Fprintf(w, "%s\t%s\n", label, strings.Join(parts, ", "))
	}
	for i, n := range u.Nodes {
		parts = parts[:0]
		if n.CPUSeconds != nil {
			parts = append(parts, fmt.Sprintf("CPU %.2f s", *n.CPUSeconds))
		}
		if n.RSSAfterBytes != nil {
			parts = append(parts, "RSS "+bytesText(float64(*n.RSSAfterBytes)))
		}
		fmt.Fprintf(w, "  hub %d (pid %d)\t%s\n", i+1, n.PID, strings.Join(parts, ", "))
	}
	writeHubMetrics(w, label, u)
}

// writeHubMetrics lists the hub's metrics that changed, one per line.
func writeHubMetrics(w io.Writer, label string, u *serverUse) {
	if u == nil {
		return
	}
	for _, m := range u.HubMetrics {
		delta := m.After - m.Before
		sign := "+"
		if delta < 0 {
			sign = "-"
		}
		fmt.Fprintf(w, "%s\t%s %s -> %s (%s%s)\n", label, m.Name, numberText(m.Before), numberText(m.After), sign, numberText(math.Abs(delta)))
		label = ""
	}
}

func latencyText(l latencySummary) string {
	if l.Count == 0 {
		return "no samples"
	}
	return fmt.Sprintf("p50 %.2f ms, p90 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, max %.2f ms (%d samples)",
		l.P50MS, l.P90MS, l.P99MS, l.P999MS, l.MaxMS, l.Count)
}

func procsText(procs int) string {
	if procs == 0 {
		return "in this process"
	}
	return fmt.Sprintf("over %d child processes", procs)
}

// bytesText prints a byte count in binary units.
func bytesText(n float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for ; (n >= 1024 || n <= -1024) && i < len(units)-1; i++ {
		n /= 1024
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", n)
	}
	return fmt.Sprintf("%.1f %s", n, units[i])
}
