package stack

import (
	"fmt"
	"strings"

	udiff "github.com/aymanbagabas/go-udiff"
)

// diffContext is the number of unchanged lines shown around each change.
const diffContext = 3

// UnifiedDiff returns a unified diff (3 lines of context) from a to b, or "" when they are
// equal. Texts are compared line by line: a missing newline at the end of either is not a
// change.
func UnifiedDiff(nameA, nameB, a, b string) string {
	if a == b {
		return ""
	}
	a, b = normalizeLines(a), normalizeLines(b)
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", nameA, nameB)
	d, err := udiff.ToUnifiedDiff(nameA, nameB, a, udiff.Lines(a, b), diffContext)
	if err != nil {
		// The edits are computed from a itself, so they always apply to it.
		panic(fmt.Sprintf("unified diff: %v", err))
	}
	// The b side's line numbers are derived from the a side's: a hunk starts as far into b as
	// into a, shifted by what the hunks before it inserted and deleted.
	shift := 0
	for _, h := range d.Hunks {
		aLen, bLen := 0, 0
		for _, l := range h.Lines {
			if l.Kind != udiff.Insert {
				aLen++
			}
			if l.Kind != udiff.Delete {
				bLen++
			}
		}
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(h.FromLine, aLen), hunkRange(h.FromLine+shift, bLen))
		shift += bLen - aLen
		for _, l := range h.Lines {
			out.WriteByte(" -+"[opIndex(l.Kind)])
			out.WriteString(l.Content)
		}
	}
	return out.String()
}

// opIndex maps a line's kind to its marker in " -+".
func opIndex(k udiff.OpKind) int {
	switch k {
	case udiff.Delete:
		return 1
	case udiff.Insert:
		return 2
	}
	return 0
}

// hunkRange renders one side of a hunk header as diff -u does: "start,n", "start" for one
// line, and the line before the hunk with ",0" for none.
func hunkRange(start, n int) string {
	if n == 0 {
		return fmt.Sprintf("%d,0", start-1)
	}
	if n == 1 {
		return fmt.Sprintf("%d", start)
	}
	return fmt.Sprintf("%d,%d", start, n)
}

// normalizeLines ends every line of s with a newline, the last one too; a lone newline is no
// line at all, so "" and "\n" compare equal.
func normalizeLines(s string) string {
	switch {
	case s == "\n":
		return ""
	case s != "" && !strings.HasSuffix(s, "\n"):
		return s + "\n"
	}
	return s
}
