package ui

import (
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"
)

// Frame cuts or pads lines to exactly height lines of exactly width cells.
func Frame(lines []string, width, height int) string {
	if height <= 0 {
		return ""
	}
	out := make([]string, height)
	for i := range out {
		line := ""
		if i < len(lines) {
			line = lines[i]
		}
		out[i] = Fit(line, width)
	}
	return strings.Join(out, "\n")
}

// FrameText is Frame for a text of several lines.
func FrameText(text string, width, height int) string {
	return Frame(strings.Split(text, "\n"), width, height)
}

// FirstLine returns the first line of a message, without the white space around it: what
// a one-line place (a status line, a table cell) shows of a message of several lines.
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	return s
}

// ShortID renders the first 8 hex digits of an id, as the dashboard names things it has no
// name for.
func ShortID(id uuid.UUID) string { return id.String()[:8] }

// Plural counts things: "1 stack", "2 stacks".
func Plural[N ~int | ~int32 | ~int64](n N, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.FormatInt(int64(n), 10) + " " + word + "s"
}

// Stamp renders a time as its age and its UTC timestamp: "5m ago (2025-06-01 11:55:00 UTC)";
// "-" for zero.
func Stamp(now, t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return Age(now, t) + " ago (" + t.UTC().Format("2006-01-02 15:04:05") + " UTC)"
}

// OrDash returns s, or "-" when it is empty.
func OrDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// Sanitize keeps text from the broker from acting on the terminal: escape sequences,
// carriage returns and other control characters go; tabs become spaces; line breaks stay.
func Sanitize(text string) string {
	text = ansi.Strip(strings.ReplaceAll(text, "\t", "    "))
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, text)
}
