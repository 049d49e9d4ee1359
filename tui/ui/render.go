package ui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"
)

// Age renders how long ago t was, compactly ("12s", "5m", "3h", "4d"); "-" for zero.
func Age(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// Fit cuts or pads s (which may carry ANSI styles) to exactly width cells.
func Fit(s string, width int) string {
	if width <= 0 {
		return ""
	}
	w := ansi.StringWidth(s)
	if w > width {
		return ansi.Truncate(s, width, "…")
	}
	return s + strings.Repeat(" ", width-w)
}

// Column is one column of a Table.
type Column struct {
	Title string
	// Width is the column's width in cells; 0 shares what is left.
	Width int
}

// Table renders rows under a header, with the row at cursor highlighted and scrolled into
// view within height lines (header included). Cells may be styled.
func Table(s *Styles, cols []Column, rows [][]string, cursor, width, height int) string {
	if height < 2 || width < 4 {
		return ""
	}
	widths := make([]int, len(cols))
	fixed, flex := 0, 0
	for i, c := range cols {
		widths[i] = c.Width
		fixed += c.Width + 1
		if c.Width == 0 {
			flex++
		}
	}
	if flex > 0 {
		share := max((width-fixed)/flex, 4)
		for i := range widths {
			if widths[i] == 0 {
				widths[i] = share
			}
		}
	}
	// Without colours a terminal still shows reverse video, but a copy of the screen (or a
	// screen reader) does not: rows get a one-cell gutter that marks the selected one.
	gutter := ""
	if s.NoColor {
		gutter = " "
		width--
	}
	line := func(cells []string) string {
		parts := make([]string, len(cols))
		for i := range cols {
			v := ""
			if i < len(cells) {
				v = cells[i]
			}
			parts[i] = Fit(v, widths[i])
		}
		return gutter + Fit(strings.Join(parts, " "), width)
	}
	hdr := make([]string, len(cols))
	for i, c := range cols {
		hdr[i] = c.Title
	}
	out := []string{s.Header.Render(line(hdr))}
	body := height - 1
	start := 0
	if cursor >= body {
		start = cursor - body + 1
	}
	for i := start; i < len(rows) && i < start+body; i++ {
		l := line(rows[i])
		if i == cursor {
			l = s.Selected.Render(ansi.Strip(l))
			if s.NoColor {
				l = s.Selected.Render("›" + ansi.Strip(l)[1:])
			}
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// Box draws content in a bordered box of the given outer size, titled.
func Box(s *Styles, title, content string, width, height int) string {
	inner := lipgloss.NewStyle().Width(max(width-2, 1)).Height(max(height-2, 1)).MaxHeight(max(height-2, 1))
	body := inner.Render(content)
	box := s.Border.Render(body)
	if title == "" {
		return box
	}
	lines := strings.Split(box, "\n")
	if len(lines) > 0 {
		t := " " + title + " "
		first := ansi.Strip(lines[0])
		if ansi.StringWidth(first) > ansi.StringWidth(t)+2 {
			lines[0] = s.Title.Render(ansi.Truncate(first, 1, "")+t) + s.Muted.Render(ansi.TruncateLeft(first, 1+ansi.StringWidth(t), ""))
		}
	}
	return strings.Join(lines, "\n")
}

// Clip cuts text to at most height lines of at most width cells.
func Clip(text string, width, height int) string {
	lines := strings.Split(text, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for i, l := range lines {
		if ansi.StringWidth(l) > width {
			lines[i] = ansi.Truncate(l, width, "…")
		}
	}
	return strings.Join(lines, "\n")
}

// Plain strips every ANSI sequence: golden files hold what a NO_COLOR terminal shows.
func Plain(s string) string { return ansi.Strip(s) }

// ScrollBox draws lines in a box of width×height titled title, from line offset on (kept
// within the last page). When the lines do not all fit, the title says which ones show:
// "(3-20 of 41)". Below 6×3 cells only the title shows.
func ScrollBox(s *Styles, title string, lines []string, offset, width, height int) string {
	if width < 6 || height < 3 {
		return FrameText(title, width, height)
	}
	innerW, innerH := width-2, height-2
	start := min(offset, max(len(lines)-innerH, 0))
	end := min(start+innerH, len(lines))
	shown := make([]string, 0, end-start)
	for _, l := range lines[start:end] {
		shown = append(shown, Fit(l, innerW))
	}
	if len(lines) > innerH {
		title += fmt.Sprintf(" (%d-%d of %d)", start+1, end, len(lines))
	}
	return FrameText(Box(s, title, strings.Join(shown, "\n"), width, height), width, height)
}
