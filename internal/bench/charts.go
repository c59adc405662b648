package bench

import (
	"fmt"
	"strconv"
)

// Colours of the chart series, one per percentile, and for throughput.
const (
	colorP50        = "#1f77b4"
	colorP90        = "#2ca02c"
	colorP99        = "#ff7f0e"
	colorMax        = "#d62728"
	colorThroughput = "#7f7f7f"
)

// chartOf picks the chart that tells a report's story: latency and
// deliveries against the rate for a sweep, the latency distribution for a
// single rate or the publish scenario, the connect ramp for idle, and the
// replay's progress for resume.
func chartOf(rep *report) *chart {
	switch {
	case rep.Fanout != nil && len(rep.Fanout.Steps) > 1:
		return sweepChart(rep)
	case rep.Fanout != nil && len(rep.Fanout.Steps) == 1:
		s := rep.Fanout.Steps[0]
		return percentileChart(rep, s.Latency, fmt.Sprintf("%d subscribers, %s events/s: %.0f deliveries/s, %d lost, %d duplicated",
			rep.Fanout.Connected, rateText(s), s.DeliveriesPerSec, s.Lost, s.Duplicates))
	case rep.Publish != nil:
		p := rep.Publish
		return percentileChart(rep, p.Latency, fmt.Sprintf("%d publishers: %.0f publishes/s, %d errors", p.Publishers, p.PublishesPerSec, p.Errors))
	case rep.DBWrite != nil:
		d := rep.DBWrite
		return percentileChart(rep, d.Latency, fmt.Sprintf("%d writers: %.0f writes/s, %d errors", d.Writers, d.WritesPerSec, d.Errors))
	case rep.Idle != nil:
		i := rep.Idle
		sub := fmt.Sprintf("%d connected at %.0f/s", i.Connected, i.ConnectRate)
		if i.BytesPerConn != nil {
			sub += ", server memory " + bytesText(*i.BytesPerConn) + " per connection"
		}
		return countChart(rep, sub, "subscribers connected", i.Ramp)
	case rep.Resume != nil:
		r := rep.Resume
		exact := "exact"
		if !r.Exact {
			exact = "NOT exact"
		}
		sub := fmt.Sprintf("%d missed events replayed in %.0f ms (%.0f/s), %s", r.Received, r.LastEventMS, r.ReplayRate, exact)
		return countChart(rep, sub, "events replayed", r.Progress)
	}
	return &chart{title: "herald bench " + rep.Scenario}
}

func sweepChart(rep *report) *chart {
	f := rep.Fanout
	c := &chart{
		title:    fmt.Sprintf("herald bench %s: %d subscribers", rep.Scenario, f.Connected),
		subtitle: rep.Hub,
		xLabel:   "events published per second",
		left:     axis{label: "delivery latency (ms)", log: true},
		right:    axis{label: "deliveries per second"},
	}
	if f.Knee != nil {
		c.threshold = f.Knee.ThresholdMS
		c.thresholdLabel = fmt.Sprintf("knee: p99 %g ms", f.Knee.ThresholdMS)
	}
	p50 := series{name: "p50", color: colorP50}
	p90 := series{name: "p90", color: colorP90}
	p99 := series{name: "p99", color: colorP99}
	pmax := series{name: "max", color: colorMax}
	dps := series{name: "deliveries/s (right)", color: colorThroughput, dashed: true}
	for i, s := range f.Steps {
		x := float64(i)
		c.xTicks = append(c.xTicks, tick{at: x, label: rateText(s)})
		if s.Latency.Count > 0 {
			p50.points = append(p50.points, [2]float64{x, s.Latency.P50MS})
			p90.points = append(p90.points, [2]float64{x, s.Latency.P90MS})
			p99.points = append(p99.points, [2]float64{x, s.Latency.P99MS})
			pmax.points = append(pmax.points, [2]float64{x, s.Latency.MaxMS})
		}
		dps.points = append(dps.points, [2]float64{x, s.DeliveriesPerSec})
	}
	c.left.series = []series{p50, p90, p99, pmax}
	c.right.series = []series{dps}
	return c
}

func percentileChart(rep *report, l latencySummary, subtitle string) *chart {
	c := &chart{
		title:    "herald bench " + rep.Scenario + ": latency",
		subtitle: subtitle,
		xLabel:   "percentile",
		left:     axis{label: "latency (ms)", log: l.MaxMS > 20*max(l.P50MS, 0.001)},
	}
	s := series{name: "latency", color: colorP99}
	for i, p := range []struct {
		label string
		v     float64
	}{{"p50", l.P50MS}, {"p90", l.P90MS}, {"p99", l.P99MS}, {"p99.9", l.P999MS}, {"max", l.MaxMS}} {
		c.xTicks = append(c.xTicks, tick{at: float64(i), label: p.label})
		if l.Count > 0 {
			s.points = append(s.points, [2]float64{float64(i), p.v})
		}
	}
	c.left.series = []series{s}
	return c
}

func countChart(rep *report, subtitle, label string, points []countPoint) *chart {
	s := series{name: label, color: colorP50}
	for _, p := range points {
		s.points = append(s.points, [2]float64{p.Seconds, float64(p.Count)})
	}
	return &chart{
		title:    "herald bench " + rep.Scenario,
		subtitle: subtitle,
		xLabel:   "seconds",
		left:     axis{label: label, series: []series{s}},
	}
}

// rateText is a step's rate as a chart shows it: the rate asked, or, when
// the publisher fell short of it, the rate reached and the one asked.
func rateText(s fanoutStep) string {
	asked := strconv.FormatFloat(s.TargetRate, 'g', -1, 64)
	if shortfall(s) == "" {
		return asked
	}
	return strconv.FormatFloat(s.PublishRate, 'f', 0, 64) + " (of " + asked + ")"
}
