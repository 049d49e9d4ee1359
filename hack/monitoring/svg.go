package monitoring

import (
	"fmt"
	"html"
	"math"
	"strings"
	"time"
)

// The drawing's geometry: Grafana's 24-column grid, 30 px per grid row.
const (
	canvasWidth = 1200
	colWidth    = canvasWidth / 24
	rowHeight   = 30
	headerH     = 64
	gutter      = 4
	fontFamily  = "Inter, Helvetica, Arial, sans-serif"
)

// Colours of the drawing: Grafana's dark theme and its classic palette.
const (
	bgColour     = "#111217"
	panelColour  = "#181b1f"
	borderColour = "#2c3235"
	textColour   = "#ccccdc"
	dimColour    = "#8e8e9e"
	gridColour   = "#2c3235"
)

var palette = []string{"#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2",
	"#b877d9", "#fade2a", "#37872d", "#c4162a", "#1f60c4", "#8f3bb8"}

// SVG draws a dashboard's evaluated panels as a standalone SVG document. note is printed
// under the title (what the data is and when it was taken).
func SVG(d Dashboard, data []PanelData, w Window, note string) string {
	height := 0
	for _, pd := range data {
		height = max(height, (pd.Panel.GridPos.Y+pd.Panel.GridPos.H)*rowHeight)
	}
	height += headerH + 2*gutter
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="%s">`+"\n",
		canvasWidth, height, canvasWidth, height, fontFamily)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="%s"/>`+"\n", bgColour)
	text(&b, 12, 28, 20, textColour, "bold", "start", d.Title)
	text(&b, 12, 50, 12, dimColour, "normal", "start", fmt.Sprintf("%s – %s UTC · %s",
		w.Start.UTC().Format("2006-01-02 15:04:05"), w.End.UTC().Format("15:04:05"), note))
	for _, pd := range data {
		g := pd.Panel.GridPos
		x, y := float64(g.X*colWidth+gutter), float64(headerH+g.Y*rowHeight+gutter)
		pw, ph := float64(g.W*colWidth-2*gutter), float64(g.H*rowHeight-2*gutter)
		switch pd.Panel.Type {
		case "row":
			text(&b, x+2, y+18, 15, textColour, "bold", "start", pd.Panel.Title)
		case "stat":
			drawStat(&b, pd, x, y, pw, ph)
		default:
			drawSeries(&b, pd, w, x, y, pw, ph)
		}
	}
	b.WriteString("</svg>\n")
	return b.String()
}

func text(b *strings.Builder, x, y, size float64, colour, weight, anchor, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" font-size="%g" fill="%s" font-weight="%s" text-anchor="%s">%s</text>`+"\n",
		x, y, size, colour, weight, anchor, html.EscapeString(s))
}

func frame(b *strings.Builder, title string, x, y, w, h float64) {
	fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="3" fill="%s" stroke="%s"/>`+"\n",
		x, y, w, h, panelColour, borderColour)
	text(b, x+8, y+18, 13, textColour, "600", "start", clip(title, int(w/7)))
}

// clip shortens s to at most n characters.
func clip(s string, n int) string {
	r := []rune(s)
	if n < 2 || len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func drawStat(b *strings.Builder, pd PanelData, x, y, w, h float64) {
	frame(b, pd.Panel.Title, x, y, w, h)
	if pd.Err != nil {
		text(b, x+w/2, y+h/2+10, 13, palette[4], "normal", "middle", "query error")
		return
	}
	colour := palette[0]
	for _, s := range pd.Panel.FieldConfig.Defaults.Thresholds.Steps {
		if s.Value != nil && !math.IsNaN(pd.Stat) && pd.Stat >= *s.Value {
			colour = grafanaColour(s.Color)
		}
	}
	if math.IsNaN(pd.Stat) {
		text(b, x+w/2, y+h/2+14, 16, dimColour, "normal", "middle", "No data")
		return
	}
	text(b, x+w/2, y+h/2+20, 34, colour, "bold", "middle", FormatValue(pd.Stat, pd.Panel.FieldConfig.Defaults.Unit))
}

func grafanaColour(name string) string {
	switch name {
	case "red":
		return "#f2495c"
	case "orange":
		return "#ff9830"
	case "yellow":
		return "#fade2a"
	}
	return "#73bf69"
}

// legendEntry is how wide one legend entry is.
const legendEntry = 190.0

func drawSeries(b *strings.Builder, pd PanelData, w Window, x, y, pw, ph float64) {
	frame(b, pd.Panel.Title, x, y, pw, ph)
	unit := pd.Panel.FieldConfig.Defaults.Unit
	stacked := pd.Panel.FieldConfig.Defaults.Custom.Stacking.Mode == "normal"
	lines := pd.Lines
	if stacked {
		lines = stack(lines)
	}
	perRow := max(int((pw-16)/legendEntry), 1)
	legendRows := min((len(lines)+perRow-1)/perRow, 3)
	left, top, right := x+58, y+28, x+pw-12
	bottom := y + ph - 22 - float64(legendRows)*15
	if pd.Err != nil {
		text(b, x+pw/2, y+ph/2, 13, palette[4], "normal", "middle", "query error")
		return
	}
	hi := 0.0
	found := false
	for _, l := range lines {
		for _, v := range l.Values {
			if !math.IsNaN(v) && !math.IsInf(v, 0) {
				hi, found = math.Max(hi, v), true
			}
		}
	}
	if !found {
		text(b, x+pw/2, y+ph/2+6, 14, dimColour, "normal", "middle", "No data")
		return
	}
	ticks := niceTicks(0, hi, 4)
	top0 := ticks[len(ticks)-1]
	sy := func(v float64) float64 { return bottom - (v/top0)*(bottom-top) }
	span := w.End.Sub(w.Start).Seconds()
	sx := func(t time.Time) float64 { return left + t.Sub(w.Start).Seconds()/span*(right-left) }
	tickText := FormatTicks(ticks, unit)
	for i, t := range ticks {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="1"/>`+"\n", left, sy(t), right, sy(t), gridColour)
		text(b, left-6, sy(t)+4, 10, dimColour, "normal", "end", tickText[i])
	}
	layout := "15:04:05"
	if span > 3600 {
		layout = "15:04"
	}
	for i := 0; i <= 4; i++ {
		t := w.Start.Add(time.Duration(float64(i) / 4 * span * float64(time.Second)))
		anchor := map[int]string{0: "start", 4: "end"}[i]
		if anchor == "" {
			anchor = "middle"
		}
		text(b, sx(t), bottom+14, 10, dimColour, "normal", anchor, t.UTC().Format(layout))
	}
	for i, l := range lines {
		c := palette[i%len(palette)]
		base := func(int) float64 { return bottom }
		if stacked && i > 0 {
			prev := lines[i-1]
			base = func(j int) float64 {
				if math.IsNaN(prev.Values[j]) {
					return bottom
				}
				return sy(prev.Values[j])
			}
		}
		for _, seg := range segments(l.Values) {
			var line, area strings.Builder
			for k, j := range seg {
				op := "L"
				if k == 0 {
					op = "M"
				}
				fmt.Fprintf(&line, "%s%.1f %.1f ", op, sx(l.Times[j]), sy(l.Values[j]))
			}
			area.WriteString(line.String())
			for k := len(seg) - 1; k >= 0; k-- {
				fmt.Fprintf(&area, "L%.1f %.1f ", sx(l.Times[seg[k]]), base(seg[k]))
			}
			opacity := 0.08
			if stacked {
				opacity = 0.35
			}
			fmt.Fprintf(b, `<path d="%sZ" fill="%s" fill-opacity="%.2f" stroke="none"/>`+"\n", area.String(), c, opacity)
			fmt.Fprintf(b, `<path d="%s" fill="none" stroke="%s" stroke-width="1.5"/>`+"\n", strings.TrimSpace(line.String()), c)
		}
	}
	drawLegend(b, pd.Lines, x+10, bottom+30, perRow, legendRows)
}

// drawLegend lists the series under the plot, at most rows lines of perRow entries.
func drawLegend(b *strings.Builder, lines []Line, x, y float64, perRow, rows int) {
	room := perRow * rows
	for i, l := range lines {
		if i == room-1 && len(lines) > room {
			text(b, x+float64(i%perRow)*legendEntry, y+float64(i/perRow)*15, 10, dimColour, "normal", "start",
				fmt.Sprintf("+ %d more", len(lines)-i))
			return
		}
		lx, ly := x+float64(i%perRow)*legendEntry, y+float64(i/perRow)*15
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="10" height="3" fill="%s"/>`+"\n", lx, ly-4, palette[i%len(palette)])
		text(b, lx+14, ly, 10, textColour, "normal", "start", clip(l.Legend, int(legendEntry)/6-3))
	}
}

// segments splits a series into runs of indexes with values.
func segments(v []float64) [][]int {
	var out [][]int
	var cur []int
	for i, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			if len(cur) > 0 {
				out = append(out, cur)
			}
			cur = nil
			continue
		}
		cur = append(cur, i)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// stack returns the lines summed up one onto another, as Grafana's normal stacking draws.
func stack(lines []Line) []Line {
	out := make([]Line, len(lines))
	for i, l := range lines {
		vals := make([]float64, len(l.Values))
		for j, v := range l.Values {
			below := 0.0
			if i > 0 && !math.IsNaN(out[i-1].Values[j]) {
				below = out[i-1].Values[j]
			}
			if math.IsNaN(v) {
				v = 0
			}
			vals[j] = below + v
		}
		out[i] = Line{Legend: l.Legend, Times: l.Times, Values: vals}
	}
	return out
}
