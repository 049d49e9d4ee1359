package stacks

import (
	"fmt"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// opKind says what a diff line does.
type opKind int8

const (
	opEqual  opKind = iota // in both texts
	opDelete               // only in the old text
	opInsert               // only in the new text
)

// diffLine is one line of a line diff. A and B are its 1-based line numbers in the old
// and new text; 0 when the line is not in that text.
type diffLine struct {
	Kind opKind
	Text string
	A, B int
}

// hunk is a run of changes with the unchanged lines around them, as in a unified diff.
type hunk struct {
	AStart, ALen, BStart, BLen int
	Lines                      []diffLine
}

// Header renders the hunk's "@@ -a,n +b,m @@" line.
func (h hunk) Header() string {
	return fmt.Sprintf("@@ -%s +%s @@", span(h.AStart, h.ALen), span(h.BStart, h.BLen))
}

func span(start, n int) string {
	if n == 1 {
		return fmt.Sprint(start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// splitLines splits text into lines; a final newline does not start an empty line, and
// empty text has no lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// diffHunks compares the lines of old and cur and groups the changes into hunks with up to
// context unchanged lines around each change; hunks whose context would touch are merged.
// Within a changed region removed lines come before added ones. No changes, no hunks.
func diffHunks(old, cur string, context int) []hunk {
	old, cur = normalize(old), normalize(cur)
	u, err := udiff.ToUnifiedDiff("", "", old, udiff.Lines(old, cur), context)
	if err != nil {
		return nil // cannot happen: the edits are computed on this very text
	}
	hs := make([]hunk, 0, len(u.Hunks))
	shift := 0 // how many lines more the new text has than the old one before the hunk
	for _, uh := range u.Hunks {
		h := newHunk(uh.Lines, uh.FromLine, uh.FromLine+shift)
		shift += h.BLen - h.ALen
		hs = append(hs, h)
	}
	return hs
}

// normalize ends every line of s with a newline alone, so that line endings and a missing
// final newline are no differences.
func normalize(s string) string {
	if s == "" {
		return ""
	}
	return strings.Join(splitLines(s), "\n") + "\n"
}

// newHunk numbers the lines of a hunk whose first line is line a of the old text and line
// b of the new one. A side without lines names the line after which the insertion or
// deletion happens, as unified diffs do.
func newHunk(ls []udiff.Line, a, b int) hunk {
	h := hunk{AStart: a, BStart: b, Lines: make([]diffLine, 0, len(ls))}
	for _, l := range ls {
		dl := diffLine{Text: strings.TrimSuffix(l.Content, "\n")}
		switch l.Kind {
		case udiff.Delete:
			dl.Kind, dl.A = opDelete, a+h.ALen
			h.ALen++
		case udiff.Insert:
			dl.Kind, dl.B = opInsert, b+h.BLen
			h.BLen++
		default:
			dl.Kind, dl.A, dl.B = opEqual, a+h.ALen, b+h.BLen
			h.ALen++
			h.BLen++
		}
		h.Lines = append(h.Lines, dl)
	}
	if h.ALen == 0 {
		h.AStart--
	}
	if h.BLen == 0 {
		h.BStart--
	}
	return h
}
