package stacks

import (
	"fmt"
	"strings"
	"testing"
)

// lineDiff is the whole alignment of two texts: the lines of their hunk with every line as
// context (none when they do not differ).
func lineDiff(a, b string) []diffLine {
	var out []diffLine
	for _, h := range diffHunks(a, b, max(len(splitLines(a)), len(splitLines(b)))) {
		out = append(out, h.Lines...)
	}
	return out
}

// text joins lines into a text.
func text(lines []string) string { return strings.Join(lines, "\n") }

// showDiff prints a line diff as " x", "-x", "+x" lines.
func showDiff(ls []diffLine) string {
	var b strings.Builder
	for _, l := range ls {
		switch l.Kind {
		case opEqual:
			b.WriteString(" ")
		case opDelete:
			b.WriteString("-")
		case opInsert:
			b.WriteString("+")
		}
		b.WriteString(l.Text + "\n")
	}
	return b.String()
}

func TestLineDiff(t *testing.T) {
	cases := []struct {
		name string
		a, b string
		want string
	}{
		{"both empty", "", "", ""},
		{"old empty", "", "a\nb\n", "+a\n+b\n"},
		{"new empty", "a\nb\n", "", "-a\n-b\n"},
		{"identical", "a\nb\n", "a\nb\n", ""},
		{"changed line", "a\nb\nc\n", "a\nB\nc\n", " a\n-b\n+B\n c\n"},
		{"added line", "a\nc\n", "a\nb\nc\n", " a\n+b\n c\n"},
		{"removed line", "a\nb\nc\n", "a\nc\n", " a\n-b\n c\n"},
		{"no final newline", "a\nb", "a\nb\n", ""},
		{"line endings", "a\r\nb\r\n", "a\nb\n", ""},
		{"all different", "x\ny\n", "p\nq\n", "-x\n-y\n+p\n+q\n"},
		{"moved block keeps the longest common part", "a\nb\nc\nd\n", "c\nd\na\nb\n", "+c\n+d\n a\n b\n-c\n-d\n"},
		{"interleaved", "a\nx\nb\ny\nc\n", "a\nb\nc\nz\n", " a\n-x\n b\n-y\n c\n+z\n"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := lineDiff(c.a, c.b)
			if r := showDiff(got); r != c.want {
				t.Fatalf("diff of %q and %q:\n%s\nwant:\n%s", c.a, c.b, r, c.want)
			}
			if len(got) == 0 {
				if strings.Join(splitLines(c.a), "\n") != strings.Join(splitLines(c.b), "\n") {
					t.Fatalf("no diff of %q and %q", c.a, c.b)
				}
				return
			}
			// Line numbers walk both texts in order.
			na, nb := 0, 0
			for _, l := range got {
				if l.Kind != opInsert {
					na++
					if l.A != na {
						t.Fatalf("line %+v: want old line %d", l, na)
					}
				} else if l.A != 0 {
					t.Fatalf("added line %+v has an old line number", l)
				}
				if l.Kind != opDelete {
					nb++
					if l.B != nb {
						t.Fatalf("line %+v: want new line %d", l, nb)
					}
				} else if l.B != 0 {
					t.Fatalf("removed line %+v has a new line number", l)
				}
			}
			if na != len(splitLines(c.a)) || nb != len(splitLines(c.b)) {
				t.Fatalf("diff covers %d/%d lines of %d/%d", na, nb, len(splitLines(c.a)), len(splitLines(c.b)))
			}
		})
	}
}

func TestLineDiffIsMinimal(t *testing.T) {
	// 1..40 against the same with every 7th line changed and two lines inserted: only
	// those lines may differ.
	var a, b []string
	for i := 1; i <= 40; i++ {
		a = append(a, fmt.Sprint(i))
		if i%7 == 0 {
			b = append(b, fmt.Sprintf("%d changed", i))
		} else {
			b = append(b, fmt.Sprint(i))
		}
		if i == 20 {
			b = append(b, "new 1", "new 2")
		}
	}
	adds, dels := 0, 0
	for _, l := range lineDiff(text(a), text(b)) {
		switch l.Kind {
		case opInsert:
			adds++
		case opDelete:
			dels++
		}
	}
	if dels != 5 || adds != 7 {
		t.Fatalf("got +%d -%d, want +7 -5", adds, dels)
	}
}

func TestLineDiffOfHugeInput(t *testing.T) {
	// Two large texts that differ everywhere but in their first line: the result is a
	// valid diff (it rebuilds both texts).
	n := 2100
	a, b := make([]string, n), make([]string, n)
	for i := range n {
		a[i], b[i] = fmt.Sprint("a", i), fmt.Sprint("b", i)
	}
	a[0], b[0] = "same", "same"
	ls := lineDiff(text(a), text(b))
	var ra, rb []string
	for _, l := range ls {
		if l.Kind != opInsert {
			ra = append(ra, l.Text)
		}
		if l.Kind != opDelete {
			rb = append(rb, l.Text)
		}
	}
	if strings.Join(ra, "\n") != strings.Join(a, "\n") || strings.Join(rb, "\n") != strings.Join(b, "\n") {
		t.Fatal("the diff does not rebuild its inputs")
	}
}

func TestHunks(t *testing.T) {
	var a []string
	for i := 1; i <= 20; i++ {
		a = append(a, fmt.Sprint(i))
	}
	b := append([]string(nil), a...)
	b[1] = "two"  // line 2
	b[17] = "18!" // line 18
	b = append(b[:10], append([]string{"ten and a half"}, b[10:]...)...)

	hs := diffHunks(text(a), text(b), 3)
	var got []string
	for _, h := range hs {
		got = append(got, h.Header())
	}
	// Line 2's context (1-5) and the insertion after 10 (context 8-13) stay apart; the
	// change of 18 (context 15-21 in the new text) is its own hunk.
	want := []string{"@@ -1,5 +1,5 @@", "@@ -8,6 +8,7 @@", "@@ -15,6 +16,6 @@"}
	if strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Fatalf("hunks %q, want %q", got, want)
	}
	// Hunks merged over their context count the lines they add for the hunks after them.
	c := append([]string(nil), a...)
	c[1] = "two"
	c = append(c[:5], append([]string{"5.5", "5.6"}, c[5:]...)...)
	c[19] = "18!"
	got = nil
	for _, h := range diffHunks(text(a), text(c), 3) {
		got = append(got, h.Header())
	}
	if want := []string{"@@ -1,8 +1,10 @@", "@@ -15,6 +17,6 @@"}; strings.Join(got, " | ") != strings.Join(want, " | ") {
		t.Fatalf("hunks %q, want %q", got, want)
	}
	if n := len(diffHunks(text(a), text(a), 3)); n != 0 {
		t.Fatalf("identical texts gave %d hunks", n)
	}
	// Pure insertion into an empty text: the old side is "-0,0".
	hs = diffHunks("", "x\ny\n", 3)
	if len(hs) != 1 || hs[0].Header() != "@@ -0,0 +1,2 @@" {
		t.Fatalf("insertion hunks %+v", hs)
	}
	hs = diffHunks("x\n", "", 3)
	if len(hs) != 1 || hs[0].Header() != "@@ -1 +0,0 @@" {
		t.Fatalf("deletion hunks %+v", hs)
	}
	// An insertion after hidden lines names the line it follows.
	hs = diffHunks(text(a), text(append(append([]string(nil), a...), "21")), 3)
	if len(hs) != 1 || hs[0].Header() != "@@ -18,3 +18,4 @@" {
		t.Fatalf("append hunks %s", hs[0].Header())
	}
	hs = diffHunks(text(a), text(append([]string{"0"}, a...)), 0)
	if len(hs) != 1 || hs[0].Header() != "@@ -0,0 +1 @@" {
		t.Fatalf("prepend hunk %s", hs[0].Header())
	}
	hs = diffHunks(text(a), text(append(append([]string(nil), a[:5]...), append([]string{"5.5"}, a[5:]...)...)), 0)
	if len(hs) != 1 || hs[0].Header() != "@@ -5,0 +6 @@" {
		t.Fatalf("middle insertion hunk %s", hs[0].Header())
	}
}

func TestSplitLines(t *testing.T) {
	for in, want := range map[string]int{"": 0, "\n": 1, "a": 1, "a\n": 1, "a\r\nb\r\n": 2, "a\n\nb": 3} {
		if got := splitLines(in); len(got) != want {
			t.Errorf("splitLines(%q) = %q, want %d lines", in, got, want)
		}
	}
}
