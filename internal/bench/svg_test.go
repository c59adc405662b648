package bench

import (
	"math"
	"strings"
	"testing"
)

func TestChartsAreWellFormedSVG(t *testing.T) {
	lat := latencySummary{Count: 10, P50MS: 1, P90MS: 2, P99MS: 40, P999MS: 90, MaxMS: 120}
	hub := `http://127.0.0.1:8080/.well-known/mercure?a=1&b=<2>` // must be escaped
	for _, tc := range []struct {
		name    string
		rep     report
		paths   int
		circles int
	}{
		{"sweep", report{Scenario: "fanout", Hub: hub, Fanout: &fanoutReport{
			Connected: 100, Knee: &knee{ThresholdMS: 100, Reached: true, Rate: 40, LastUnder: 20},
			Steps: []fanoutStep{
				{TargetRate: 10, Latency: lat, DeliveriesPerSec: 1000},
				{TargetRate: 20, Latency: lat, DeliveriesPerSec: 2000},
				{TargetRate: 40, DeliveriesPerSec: 3000}, // no latency samples: skipped, not zero
			}}}, 5, 4*2 + 3},
		{"one rate", report{Scenario: "fanout", Fanout: &fanoutReport{Steps: []fanoutStep{{TargetRate: 10, Latency: lat}}}}, 1, 5},
		{"publish", report{Scenario: "publish", Publish: &publishReport{Latency: lat}}, 1, 5},
		{"publish, no samples", report{Scenario: "publish", Publish: &publishReport{}}, 0, 0},
		{"idle", report{Scenario: "idle", Idle: &idleReport{Connected: 3, BytesPerConn: ptr(4096.0),
			Ramp: []countPoint{{0, 0}, {0.1, 2}, {0.2, 3}}}}, 1, 3},
		{"resume", report{Scenario: "resume", Resume: &resumeReport{Progress: []countPoint{{0.5, 1000}}}}, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := chartOf(&tc.rep).render()
			if err != nil {
				t.Fatal(err)
			}
			if got := countXML(t, b, "path"); got != tc.paths {
				t.Errorf("%d paths, want %d", got, tc.paths)
			}
			if got := countXML(t, b, "circle"); got != tc.circles {
				t.Errorf("%d points, want %d", got, tc.circles)
			}
			if strings.Contains(string(b), "NaN") || strings.Contains(string(b), "Inf") {
				t.Errorf("coordinates are not numbers:\n%s", b)
			}
		})
	}
}

func TestChartPointsStayInThePlot(t *testing.T) {
	c := &chart{
		xTicks: []tick{{0, "a"}, {1, "b"}},
		left:   axis{log: true, series: []series{{name: "s", points: [][2]float64{{0, 0.05}, {1, 5000}}}}},
		right:  axis{series: []series{{name: "r", points: [][2]float64{{0, 0}, {1, 7}}}}},
	}
	p := c.layout()
	for _, l := range p.Lines {
		for _, d := range l.Dots {
			if d[0] < p.X || d[0] > p.Right || d[1] < p.Y || d[1] > p.Bottom {
				t.Errorf("%s: point %v outside the plot %v..%v x %v..%v", l.Name, d, p.X, p.Right, p.Y, p.Bottom)
			}
		}
	}
	// The log axis covers whole decades around the data.
	if s, _ := logScale(0.05, 5000); s.lo != 0.01 || s.hi != 10000 {
		t.Errorf("log scale of 0.05..5000 = %v..%v, want 0.01..10000", s.lo, s.hi)
	}
	s, ticks := linearScale(0, 7)
	if s.hi < 7 || len(ticks) < 3 || ticks[len(ticks)-1].at != s.hi {
		t.Errorf("linear scale of 0..7: %v..%v with ticks %v", s.lo, s.hi, ticks)
	}
	if f := (scale{lo: 1, hi: 100, log: true}).frac(10); math.Abs(f-0.5) > 1e-9 {
		t.Errorf("10 on a 1..100 log scale is at %v, want 0.5", f)
	}
}

// A step whose publisher fell short of its rate says so, in the notes and
// on the chart, instead of showing the rate asked as if reached.
func TestShortfallIsSaid(t *testing.T) {
	short := fanoutStep{TargetRate: 160, PublishRate: 110.4}
	if note := shortfall(short); !strings.Contains(note, "asked for 160") || !strings.Contains(note, "110.4/s") {
		t.Errorf("shortfall note = %q", note)
	}
	if got := rateText(short); got != "110 (of 160)" {
		t.Errorf("chart label = %q", got)
	}
	met := fanoutStep{TargetRate: 20, PublishRate: 19.8}
	if note := shortfall(met); note != "" || rateText(met) != "20" {
		t.Errorf("a met rate: %q, %q", note, rateText(met))
	}
}

// A publish refused for want of rights is reported with how to give the
// bench a token that has them.
func TestRefusedPublishHint(t *testing.T) {
	var tally errorTally
	tally.add(&publishError{status: 401, body: "unauthorized"})
	if got := tally.list()[0].Example; !strings.Contains(got, "--key") {
		t.Errorf("example = %q, want the hint", got)
	}
}
