package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// The plots are PNG, written to bench/plots and committed with
// BENCHMARKS.md so that the README and the report can show them.

var implColors = map[string]color.Color{
	"reference": color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	"before":    color.RGBA{R: 0xae, G: 0xc7, B: 0xe8, A: 0xff},
	"twisted":   color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
	"bare":      color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff},
}

func (r *report) plot() error {
	var errs []string
	try := func(name, title string, f func(path string) error) {
		path := filepath.Join(r.cfg.plots, name)
		if err := f(path); err != nil {
			errs = append(errs, name+": "+err.Error())
			return
		}
		r.plots = append(r.plots, plotFile{Title: title, Path: path})
	}
	if r.throughput != nil {
		try("throughput.png", "Requests per second, GET / with and without a cookie", r.plotThroughput)
	}
	if r.memory != nil {
		try("memory.png", "Resident memory per live session", r.plotMemory)
	}
	if r.clocks != nil {
		try("clocks.png", "Fake clocks against runtime timers: ns per operation against pending timers", r.plotClocks)
	}
	if r.suite != nil {
		try("suite.png", "Whole-suite wall time", r.plotSuite)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = x
	p.Y.Label.Text = y
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.Legend.Top = true
	return p
}

// bar is one bar: its value, the min–max it spans (NaN for none) and
// the label written above it.
type bar struct {
	v, lo, hi float64
	label     string
}

type barSeries struct {
	name  string
	color color.Color
	bars  []bar // one per group; NaN v for none
}

// barPlot draws groups of bars, one per series, side by side at explicit
// positions, with min–max error bars and a label above each bar, and
// leaves room at the top for the legend. width is the plot's width.
func barPlot(p *plot.Plot, groups []string, series []barSeries, width vg.Length) error {
	per := len(series) + 1
	positions := len(groups)*per - 1
	barW := (width - vg.Points(90)) / vg.Length(positions+1) * 0.85
	top := 0.0
	var ticks []plot.Tick
	for g, name := range groups {
		ticks = append(ticks, plot.Tick{Value: float64(g*per) + float64(len(series)-1)/2, Label: name})
	}
	for i, s := range series {
		var errs plotter.XYs
		var lows, highs []float64
		var labels plotter.XYLabels
		first := true
		for g, b := range s.bars {
			if math.IsNaN(b.v) {
				continue
			}
			x := float64(g*per + i)
			bc, err := plotter.NewBarChart(plotter.Values{b.v}, barW)
			if err != nil {
				return err
			}
			bc.XMin = x
			bc.Color = s.color
			bc.LineStyle.Width = 0
			p.Add(bc)
			if first {
				p.Legend.Add(s.name, bc)
				first = false
			}
			hi := b.v
			if !math.IsNaN(b.lo) && !math.IsNaN(b.hi) && b.hi > b.lo {
				errs = append(errs, plotter.XY{X: x, Y: b.v})
				lows, highs = append(lows, b.v-b.lo), append(highs, b.hi-b.v)
				hi = b.hi
			}
			top = max(top, hi)
			labels.XYs = append(labels.XYs, plotter.XY{X: x, Y: hi})
			labels.Labels = append(labels.Labels, b.label)
		}
		if len(errs) > 0 {
			ye := make(plotter.YErrors, len(errs))
			for k := range ye {
				ye[k].Low, ye[k].High = lows[k], highs[k]
			}
			eb, err := plotter.NewYErrorBars(struct {
				plotter.XYs
				plotter.YErrors
			}{errs, ye})
			if err != nil {
				return err
			}
			eb.CapWidth = barW / 3
			p.Add(eb)
		}
		if len(labels.XYs) > 0 {
			l, err := plotter.NewLabels(labels)
			if err != nil {
				return err
			}
			for k := range l.TextStyle {
				l.TextStyle[k].XAlign = draw.XCenter
				l.TextStyle[k].Font.Size = vg.Points(9)
			}
			l.Offset = vg.Point{Y: vg.Points(3)}
			p.Add(l)
		}
	}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.7, float64(positions)-0.3
	p.Y.Min, p.Y.Max = 0, top*1.45
	p.Legend.Left = true
	return nil
}

// intTicks are the default ticks labelled as whole numbers.
type intTicks struct{}

func (intTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = fmt.Sprintf("%.0f", ts[i].Value)
		}
	}
	return ts
}

func kfmt(v float64) string {
	switch {
	case v >= 10_000:
		return fmt.Sprintf("%.1fk", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fk", v/1000)
	}
	return fmt.Sprintf("%.0f", v)
}

func (r *report) plotThroughput(path string) error {
	t := r.throughput
	p := newPlot(fmt.Sprintf("Session server throughput: wrk -t2 -c32 on 127.0.0.1, pooled over %d interleaved rounds (bars: min–max of a round)", t.Reps), "", "requests/s")
	var series []barSeries
	for _, tg := range t.Targets {
		s := barSeries{name: implNames[tg.Name], color: implColors[tg.Name]}
		for _, c := range []string{"cookie", "new"} {
			st := t.cell(tg.Name, c).rps()
			pooled, _ := t.cell(tg.Name, c).pooled()
			s.bars = append(s.bars, bar{pooled, st.Min, st.Max, kfmt(pooled)})
		}
		series = append(series, s)
	}
	const w = 9 * vg.Inch
	if err := barPlot(p, []string{"GET / with a valid cookie", "GET / without a cookie (new session)"}, series, w); err != nil {
		return err
	}
	p.Y.Tick.Marker = intTicks{}
	return p.Save(w, 5*vg.Inch, path)
}

func (r *report) plotMemory(path string) error {
	m := r.memory
	p := newPlot("Resident memory per live session (RSS growth of a fresh process)", "live sessions", "bytes per session")
	var groups []string
	for _, n := range m.Sizes {
		groups = append(groups, human(n))
	}
	var series []barSeries
	for _, impl := range []string{"reference", "before", "twisted"} {
		s := barSeries{name: implNames[impl], color: implColors[impl]}
		any := false
		for _, n := range m.Sizes {
			b := bar{v: math.NaN(), lo: math.NaN(), hi: math.NaN()}
			if row := m.row(impl, n); row != nil {
				b.v, b.label = row.RSSPer, fmt.Sprintf("%.0f B", row.RSSPer)
				any = true
			}
			s.bars = append(s.bars, b)
		}
		if any {
			series = append(series, s)
		}
	}
	const w = 8 * vg.Inch
	if err := barPlot(p, groups, series, w); err != nil {
		return err
	}
	goal := plotter.NewFunction(func(float64) float64 { return goalBytesPerSess })
	goal.Color = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}
	goal.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	goal.Width = vg.Points(1.5)
	goal.XMin, goal.XMax = p.X.Min, p.X.Max
	p.Add(goal)
	p.Legend.Add(fmt.Sprintf("goal for the reference: %d B", goalBytesPerSess), goal)
	return p.Save(w, 5*vg.Inch, path)
}

func (r *report) plotClocks(path string) error {
	c := r.clocks
	var ticks []plot.Tick
	for _, n := range []int{1_000, 10_000, 100_000, 1_000_000, 10_000_000} {
		ticks = append(ticks, plot.Tick{Value: float64(n), Label: human(n)})
	}
	var row []*plot.Plot
	for _, ph := range phases {
		p := newPlot(ph, "pending timers (log)", "ns per operation (log)")
		p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
		p.X.Tick.Marker = plot.ConstantTicks(ticks)
		p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
		p.Legend.Left = true
		p.Legend.TextStyle.Font.Size = vg.Points(9)
		lo, hi := math.Inf(1), math.Inf(-1)
		anyDNF := false
		for i, ci := range c.Clocks {
			var pts, bounds plotter.XYs
			for _, n := range c.Sizes {
				cr := c.run(ci.Name, n)
				if cr == nil {
					continue
				}
				switch cp := cr.Phases[ph]; {
				case cp.State == "ok" && cp.NsPerOp > 0:
					pts = append(pts, plotter.XY{X: float64(n), Y: cp.NsPerOp})
				case cp.State == "dnf" && cp.Done > 0:
					bounds = append(bounds, plotter.XY{X: float64(n), Y: cp.Seconds * 1e9 / float64(cp.Done)})
				}
			}
			if len(pts)+len(bounds) == 0 {
				continue
			}
			col := plotutil.Color(i)
			var thumbs []plot.Thumbnailer
			if len(pts) > 0 {
				l, sc, err := plotter.NewLinePoints(pts)
				if err != nil {
					return err
				}
				l.Color, sc.Color = col, col
				l.Width = vg.Points(2)
				sc.Shape = draw.CircleGlyph{}
				sc.Radius = vg.Points(3)
				p.Add(l, sc)
				thumbs = append(thumbs, l, sc)
			}
			if len(bounds) > 0 {
				anyDNF = true
				sc, err := plotter.NewScatter(bounds)
				if err != nil {
					return err
				}
				sc.Color, sc.Shape, sc.Radius = col, draw.TriangleGlyph{}, vg.Points(5)
				p.Add(sc)
				if len(pts) > 0 {
					dl, err := plotter.NewLine(plotter.XYs{pts[len(pts)-1], bounds[0]})
					if err != nil {
						return err
					}
					dl.Color, dl.Width, dl.Dashes = col, vg.Points(1.5), []vg.Length{vg.Points(3), vg.Points(3)}
					p.Add(dl)
				} else {
					thumbs = append(thumbs, sc)
				}
			}
			p.Legend.Add(ci.Name, thumbs...)
			for _, xy := range append(pts, bounds...) {
				lo, hi = min(lo, xy.Y), max(hi, xy.Y)
			}
		}
		if anyDNF {
			sc, _ := plotter.NewScatter(plotter.XYs{{X: 1, Y: 1}})
			sc.Shape, sc.Radius, sc.Color = draw.TriangleGlyph{}, vg.Points(5), color.Black
			p.Legend.Add("DNF: at least this slow (ran out of its budget)", sc)
		}
		if !math.IsInf(lo, 0) {
			p.Y.Min, p.Y.Max = lo/2, hi*200 // room for the legend above the data
		}
		p.X.Min, p.X.Max = float64(c.Sizes[0])/2, float64(c.Sizes[len(c.Sizes)-1])*2
		row = append(row, p)
	}
	const w, h = 15 * vg.Inch, 5.5 * vg.Inch
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(row), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{row}, tiles, dc)
	for j, p := range row {
		p.Draw(canvases[0][j])
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = vgimg.PngCanvas{Canvas: img}.WriteTo(f)
	return err
}

func (r *report) plotSuite(path string) error {
	s := r.suite
	p := newPlot("Whole-suite wall time (process start included)", "", "seconds")
	var vals plotter.Values
	var names []string
	for _, row := range s.Rows {
		if row.Skipped != "" || len(row.Runs) == 0 {
			continue
		}
		vals = append(vals, summarize(row.Runs).Median)
		name := row.Name
		if i := strings.Index(name, " ("); i > 0 {
			name = name[:i]
		}
		name = strings.ReplaceAll(name, ", `serve --timeout 2s`", "")
		names = append(names, strings.ReplaceAll(name, "`", "")+"  ")
	}
	if len(vals) == 0 {
		return fmt.Errorf("no suite runs")
	}
	bc, err := plotter.NewBarChart(vals, vg.Points(16))
	if err != nil {
		return err
	}
	bc.Horizontal = true
	bc.Color = implColors["reference"]
	bc.LineStyle.Width = 0
	p.Add(bc)
	var labels plotter.XYLabels
	top := 0.0
	for i, v := range vals {
		labels.XYs = append(labels.XYs, plotter.XY{X: v, Y: float64(i)})
		labels.Labels = append(labels.Labels, fmt.Sprintf("%.1f s", v))
		top = max(top, v)
	}
	l, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for k := range l.TextStyle {
		l.TextStyle[k].YAlign = draw.YCenter
		l.TextStyle[k].Font.Size = vg.Points(9)
	}
	l.Offset = vg.Point{X: vg.Points(4)}
	p.Add(l)
	p.NominalY(names...)
	p.X.Label.Text = "seconds"
	p.Y.Label.Text = ""
	p.X.Min, p.X.Max = 0, top*1.15
	p.Legend.Top = false
	return p.Save(10*vg.Inch, vg.Length(1.2+0.45*float64(len(vals)))*vg.Inch, path)
}
