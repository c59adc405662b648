package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"text/template"
)

// chart is what an SVG shows: series of points over one x axis, against a
// left axis and optionally a right one.
type chart struct {
	title, subtitle string
	xLabel          string
	// xTicks labels chosen x positions (a sweep's rates); nil means numeric
	// ticks chosen from the data.
	xTicks         []tick
	left, right    axis
	threshold      float64 // a dashed line on the left axis; 0 for none
	thresholdLabel string
}

type axis struct {
	label  string
	log    bool
	series []series
}

type series struct {
	name   string
	color  string
	dashed bool
	points [][2]float64 // x, y
}

type tick struct {
	at    float64
	label string
}

// Chart geometry, in SVG user units.
const (
	svgWidth, svgHeight = 860, 480
	plotX, plotY        = 80.0, 70.0
	plotW, plotH        = svgWidth - plotX - 80, svgHeight - plotY - 70
)

// svgPlot is the laid-out chart: every coordinate is computed here, so the
// template only prints.
type svgPlot struct {
	Width, Height   int
	Title, Subtitle string
	X, Y, W, H      float64
	Right, Bottom   float64 // X+W, Y+H
	MidX, MidY      float64
	XLabel          string
	LeftLabel       string
	RightLabel      string
	XTicks          []svgTick
	LeftTicks       []svgTick
	RightTicks      []svgTick
	Lines           []svgLine
	Threshold       *svgTick
}

type svgTick struct {
	Pos   float64
	Label string
}

type svgLine struct {
	Name, Color, Dash string
	Path              string
	Dots              [][2]float64
	LegendY           float64
}

var svgTemplate = template.Must(template.New("chart").Funcs(template.FuncMap{
	"x":   xmlText,
	"f":   func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) },
	"add": func(a, b float64) float64 { return a + b },
}).Parse(`<?xml version="1.0" encoding="UTF-8"?>
<svg xmlns="http://www.w3.org/2000/svg" width="{{.Width}}" height="{{.Height}}" viewBox="0 0 {{.Width}} {{.Height}}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{{f .X}}" y="28" font-size="16" font-weight="bold">{{x .Title}}</text>
<text x="{{f .X}}" y="48" fill="#555">{{x .Subtitle}}</text>
<g stroke="#e4e4e4">
{{- range .LeftTicks}}
<line x1="{{f $.X}}" x2="{{f $.Right}}" y1="{{f .Pos}}" y2="{{f .Pos}}"/>
{{- end}}
</g>
<rect x="{{f .X}}" y="{{f .Y}}" width="{{f .W}}" height="{{f .H}}" fill="none" stroke="#333"/>
<g text-anchor="middle">
{{- range .XTicks}}
<line x1="{{f .Pos}}" x2="{{f .Pos}}" y1="{{f $.Bottom}}" y2="{{f (add $.Bottom 5)}}" stroke="#333"/>
<text x="{{f .Pos}}" y="{{f (add $.Bottom 20)}}">{{x .Label}}</text>
{{- end}}
<text x="{{f .MidX}}" y="{{f (add .Bottom 45)}}">{{x .XLabel}}</text>
</g>
<g text-anchor="end">
{{- range .LeftTicks}}
<text x="{{f (add $.X -8)}}" y="{{f (add .Pos 4)}}">{{x .Label}}</text>
{{- end}}
</g>
<text transform="translate(22 {{f .MidY}}) rotate(-90)" text-anchor="middle">{{x .LeftLabel}}</text>
{{- if .RightLabel}}
<g text-anchor="start">
{{- range .RightTicks}}
<text x="{{f (add $.Right 8)}}" y="{{f (add .Pos 4)}}">{{x .Label}}</text>
{{- end}}
</g>
<text transform="translate({{.Width}} {{f .MidY}}) translate(-16 0) rotate(90)" text-anchor="middle">{{x .RightLabel}}</text>
{{- end}}
{{- with .Threshold}}
<line x1="{{f $.X}}" x2="{{f $.Right}}" y1="{{f .Pos}}" y2="{{f .Pos}}" stroke="#c00" stroke-dasharray="2 4"/>
<text x="{{f (add $.Right -4)}}" y="{{f (add .Pos -4)}}" text-anchor="end" fill="#c00">{{x .Label}}</text>
{{- end}}
{{- range .Lines}}
<g stroke="{{.Color}}" fill="{{.Color}}">
<path d="{{.Path}}" fill="none" stroke-width="2"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/>
{{- range .Dots}}
<circle cx="{{f (index . 0)}}" cy="{{f (index . 1)}}" r="2.5"/>
{{- end}}
<line x1="{{f (add $.X 12)}}" x2="{{f (add $.X 36)}}" y1="{{f .LegendY}}" y2="{{f .LegendY}}" stroke-width="2"{{if .Dash}} stroke-dasharray="{{.Dash}}"{{end}}/>
<text x="{{f (add $.X 42)}}" y="{{f (add .LegendY 4)}}" stroke="none">{{x .Name}}</text>
</g>
{{- end}}
</svg>
`))

// xmlText escapes s for XML text and attribute values.
func xmlText(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// scale maps data values of one axis onto plot coordinates.
type scale struct {
	lo, hi float64
	log    bool
}

func (s scale) frac(v float64) float64 {
	if s.log {
		v = math.Log10(max(v, s.lo))
		return (v - math.Log10(s.lo)) / (math.Log10(s.hi) - math.Log10(s.lo))
	}
	return (v - s.lo) / (s.hi - s.lo)
}

// valueScale chooses a scale and its ticks for the values of an axis.
func valueScale(a axis, extra float64) (scale, []tick) {
	lo, hi := math.Inf(1), extra
	for _, s := range a.series {
		for _, p := range s.points {
			if p[1] > 0 {
				lo = min(lo, p[1])
			}
			hi = max(hi, p[1])
		}
	}
	if hi <= 0 {
		hi = 1
	}
	if a.log {
		return logScale(lo, hi)
	}
	return linearScale(0, hi)
}

// linearScale spans lo..hi with about five ticks at round numbers.
func linearScale(lo, hi float64) (scale, []tick) {
	if hi <= lo {
		hi = lo + 1
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	top := math.Ceil(hi/step) * step
	var ticks []tick
	for v := lo; v <= top+step/2; v += step {
		ticks = append(ticks, tick{at: v, label: numberText(v)})
	}
	return scale{lo: lo, hi: top}, ticks
}

// logScale spans whole decades around lo..hi, ticked at 1, 2 and 5.
func logScale(lo, hi float64) (scale, []tick) {
	if math.IsInf(lo, 1) || lo <= 0 {
		lo = hi / 10
	}
	a := math.Pow(10, math.Floor(math.Log10(lo)))
	b := math.Pow(10, math.Ceil(math.Log10(hi)))
	if b <= a {
		b = a * 10
	}
	var ticks []tick
	for d := a; d < b*1.01; d *= 10 {
		for _, m := range []float64{1, 2, 5} {
			if v := d * m; v <= b*1.01 {
				ticks = append(ticks, tick{at: v, label: numberText(v)})
			}
		}
	}
	return scale{lo: a, hi: b, log: true}, ticks
}

func numberText(v float64) string {
	switch {
	case v >= 1e6 && math.Mod(v, 1e5) == 0:
		return strconv.FormatFloat(v/1e6, 'f', -1, 64) + "M"
	case v >= 1e3 && math.Mod(v, 100) == 0:
		return strconv.FormatFloat(v/1e3, 'f', -1, 64) + "k"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}

// layout turns a chart into plot coordinates.
func (c *chart) layout() svgPlot {
	p := svgPlot{
		Width: svgWidth, Height: svgHeight, Title: c.title, Subtitle: c.subtitle,
		X: plotX, Y: plotY, W: plotW, H: plotH, Right: plotX + plotW, Bottom: plotY + plotH,
		MidX: plotX + plotW/2, MidY: plotY + plotH/2,
		XLabel: c.xLabel, LeftLabel: c.left.label, RightLabel: c.right.label,
	}
	xlo, xhi := math.Inf(1), math.Inf(-1)
	for _, a := range []axis{c.left, c.right} {
		for _, s := range a.series {
			for _, pt := range s.points {
				xlo, xhi = min(xlo, pt[0]), max(xhi, pt[0])
			}
		}
	}
	xticks := c.xTicks
	var xs scale
	if xticks == nil {
		xs, xticks = linearScale(0, max(xhi, 0))
	} else {
		// Labelled positions get half a step of room at either end.
		xs = scale{lo: xlo - 0.5, hi: xhi + 0.5}
		if math.IsInf(xlo, 1) {
			xs = scale{lo: -0.5, hi: float64(len(xticks)) - 0.5}
		}
	}
	xpos := func(v float64) float64 { return plotX + xs.frac(v)*plotW }
	for _, t := range xticks {
		p.XTicks = append(p.XTicks, svgTick{Pos: xpos(t.at), Label: t.label})
	}
	legendY := plotY + 14
	for i, a := range []axis{c.left, c.right} {
		if len(a.series) == 0 {
			continue
		}
		ys, yticks := valueScale(a, 0)
		if i == 0 && c.threshold > 0 {
			ys, yticks = valueScale(a, c.threshold)
		}
		ypos := func(v float64) float64 { return plotY + plotH - min(max(ys.frac(v), 0), 1)*plotH }
		for _, t := range yticks {
			st := svgTick{Pos: ypos(t.at), Label: t.label}
			if i == 0 {
				p.LeftTicks = append(p.LeftTicks, st)
			} else {
				p.RightTicks = append(p.RightTicks, st)
			}
		}
		if i == 0 && c.threshold > 0 {
			p.Threshold = &svgTick{Pos: ypos(c.threshold), Label: c.thresholdLabel}
		}
		for _, s := range a.series {
			l := svgLine{Name: s.name, Color: s.color, LegendY: legendY}
			if s.dashed {
				l.Dash = "6 4"
			}
			var d strings.Builder
			for j, pt := range s.points {
				x, y := xpos(pt[0]), ypos(pt[1])
				if j == 0 {
					fmt.Fprintf(&d, "M%.1f %.1f", x, y)
				} else {
					fmt.Fprintf(&d, " L%.1f %.1f", x, y)
				}
				if len(s.points) <= 40 {
					l.Dots = append(l.Dots, [2]float64{x, y})
				}
			}
			l.Path = d.String()
			if l.Path == "" {
				continue
			}
			p.Lines = append(p.Lines, l)
			legendY += 16
		}
	}
	return p
}

// render writes c as a standalone SVG document.
func (c *chart) render() ([]byte, error) {
	var b bytes.Buffer
	if err := svgTemplate.Execute(&b, c.layout()); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// writeSVGFile writes the chart of rep to path.
func writeSVGFile(path string, rep *report) error {
	b, err := chartOf(rep).render()
	if err != nil {
		return fmt.Errorf("rendering SVG: %w", err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		return fmt.Errorf("writing SVG: %w", err)
	}
	return nil
}
