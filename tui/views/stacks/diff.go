package stacks

import (
	"fmt"
	"strings"
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

// maxDiffCells bounds the LCS table (rows × columns of the part of both texts that differs):
// beyond it the differing middle is shown as removed then added, which is correct but not
// minimal.
const maxDiffCells = 4 << 20

// splitLines splits text into lines; a final newline does not start an empty line, and
// empty text has no lines.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// lineDiff aligns the lines of a (old) and b (new) along a longest common subsequence.
// Within a changed region removed lines come before added ones.
func lineDiff(a, b []string) []diffLine {
	out := make([]diffLine, 0, max(len(a), len(b)))
	// Common prefix and suffix need no table.
	pre := 0
	for pre < len(a) && pre < len(b) && a[pre] == b[pre] {
		pre++
	}
	suf := 0
	for suf < len(a)-pre && suf < len(b)-pre && a[len(a)-1-suf] == b[len(b)-1-suf] {
		suf++
	}
	for i := 0; i < pre; i++ {
		out = append(out, diffLine{Kind: opEqual, Text: a[i], A: i + 1, B: i + 1})
	}
	ma, mb := a[pre:len(a)-suf], b[pre:len(b)-suf]
	out = append(out, middleDiff(ma, mb, pre, pre)...)
	for i := 0; i < suf; i++ {
		ia, ib := len(a)-suf+i, len(b)-suf+i
		out = append(out, diffLine{Kind: opEqual, Text: a[ia], A: ia + 1, B: ib + 1})
	}
	return out
}

// middleDiff diffs two texts with no common first or last line; offA and offB are the
// number of lines before them.
func middleDiff(a, b []string, offA, offB int) []diffLine {
	n, m := len(a), len(b)
	var out []diffLine
	del := func(i int) { out = append(out, diffLine{Kind: opDelete, Text: a[i], A: offA + i + 1}) }
	ins := func(j int) { out = append(out, diffLine{Kind: opInsert, Text: b[j], B: offB + j + 1}) }
	if n == 0 || m == 0 || n*m > maxDiffCells {
		for i := range a {
			del(i)
		}
		for j := range b {
			ins(j)
		}
		return out
	}
	// lcs[i*(m+1)+j] is the length of the longest common subsequence of a[i:] and b[j:].
	w := m + 1
	lcs := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			switch {
			case a[i] == b[j]:
				lcs[i*w+j] = lcs[(i+1)*w+j+1] + 1
			case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
				lcs[i*w+j] = lcs[(i+1)*w+j]
			default:
				lcs[i*w+j] = lcs[i*w+j+1]
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{Kind: opEqual, Text: a[i], A: offA + i + 1, B: offB + j + 1})
			i++
			j++
		case lcs[(i+1)*w+j] >= lcs[i*w+j+1]:
			del(i)
			i++
		default:
			ins(j)
			j++
		}
	}
	for ; i < n; i++ {
		del(i)
	}
	for ; j < m; j++ {
		ins(j)
	}
	return out
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

// hunks groups a line diff into hunks with up to context unchanged lines around each
// change; hunks whose context would touch are merged. No changes, no hunks.
func hunks(lines []diffLine, context int) []hunk {
	// Mark the lines to show (changes and their context), then cut runs of them into hunks.
	show := make([]bool, len(lines))
	for k, l := range lines {
		if l.Kind == opEqual {
			continue
		}
		for c := max(k-context, 0); c <= min(k+context, len(lines)-1); c++ {
			show[c] = true
		}
	}
	var out []hunk
	lastA, lastB := 0, 0 // line numbers of the last line before k, per side
	for k := 0; k < len(lines); {
		if !show[k] {
			lastA, lastB = lastA+1, lastB+1 // hidden lines are unchanged: in both texts
			k++
			continue
		}
		e := k
		for e < len(lines) && show[e] {
			e++
		}
		h := newHunk(lines[k:e], lastA, lastB)
		out = append(out, h)
		lastA, lastB = lastA+h.ALen, lastB+h.BLen
		k = e
	}
	return out
}

// newHunk builds a hunk of ls; lastA and lastB number the lines before it, which name an
// empty side as unified diffs do (the line after which the insertion or deletion happens).
func newHunk(ls []diffLine, lastA, lastB int) hunk {
	h := hunk{Lines: ls}
	for _, l := range ls {
		if l.A > 0 {
			if h.AStart == 0 {
				h.AStart = l.A
			}
			h.ALen++
		}
		if l.B > 0 {
			if h.BStart == 0 {
				h.BStart = l.B
			}
			h.BLen++
		}
	}
	if h.ALen == 0 {
		h.AStart = lastA
	}
	if h.BLen == 0 {
		h.BStart = lastB
	}
	return h
}
