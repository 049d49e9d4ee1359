package stack

import (
	"math/rand"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/client"
	"github.com/google/uuid"
)

func TestUnifiedDiff(t *testing.T) {
	tests := []struct {
		name, a, b, want string
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{name: "one line changed", a: "a\nb\nc\n", b: "a\nB\nc\n",
			want: "--- A\n+++ B\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n"},
		{name: "from empty", a: "", b: "x\n", want: "--- A\n+++ B\n@@ -0,0 +1 @@\n+x\n"},
		{name: "separate hunks", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n", b: "1\nX\n3\n4\n5\n6\n7\n8\n9\n10\nY\n12\n",
			want: "--- A\n+++ B\n@@ -1,5 +1,5 @@\n 1\n-2\n+X\n 3\n 4\n 5\n@@ -8,5 +8,5 @@\n 8\n 9\n 10\n-11\n+Y\n 12\n"},
		{name: "insert in the middle", a: "a\nc\n", b: "a\nb\nc\n", want: "--- A\n+++ B\n@@ -1,2 +1,3 @@\n a\n+b\n c\n"},
		{name: "to empty", a: "x\n", b: "", want: "--- A\n+++ B\n@@ -1 +0,0 @@\n-x\n"},
		{name: "no final newline", a: "a\nb", b: "a\nB\n", want: "--- A\n+++ B\n@@ -1,2 +1,2 @@\n a\n-b\n+B\n"},
		{name: "only the final newline", a: "a", b: "a\n", want: "--- A\n+++ B\n"},
		{name: "lone newline is empty", a: "\n", b: "x\n", want: "--- A\n+++ B\n@@ -0,0 +1 @@\n+x\n"},
		{name: "later hunks count the lines of joined ones", a: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n",
			b:    "1\n2\nX\n3\n4\n5\n6\n7\n9\n10\n11\n12\n13\n14\n15\n16\n17\n18\nY\n20\n",
			want: "--- A\n+++ B\n@@ -1,11 +1,11 @@\n 1\n 2\n+X\n 3\n 4\n 5\n 6\n 7\n-8\n 9\n 10\n 11\n@@ -16,5 +16,5 @@\n 16\n 17\n 18\n-19\n+Y\n 20\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedDiff("A", "B", tt.a, tt.b); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

// TestUnifiedDiffApplies applies diffs of random texts to their first text: the hunks, their
// line numbers included, must turn it into the second.
func TestUnifiedDiffApplies(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	text := func() []string {
		lines := make([]string, r.Intn(40))
		for i := range lines {
			lines[i] = string(rune('a' + r.Intn(4)))
		}
		return lines
	}
	for range 5000 {
		a, b := text(), text()
		d := UnifiedDiff("A", "B", strings.Join(a, "\n"), strings.Join(b, "\n"))
		if got := applyDiff(t, a, d); !slices.Equal(got, b) && len(got)+len(b) > 0 {
			t.Fatalf("%q to %q:\n%s\napplied: %q", a, b, d, got)
		}
	}
}

// applyDiff applies a unified diff to the lines a, checking that each hunk's b side starts
// where the result has got to.
func applyDiff(t *testing.T, a []string, d string) []string {
	t.Helper()
	if d == "" {
		return a
	}
	var out []string
	next := 0
	for _, l := range strings.Split(strings.TrimSuffix(d, "\n"), "\n")[2:] {
		if strings.HasPrefix(l, "@@") {
			var aStart, bStart int
			f := strings.Fields(l)
			aStart, _ = strconv.Atoi(strings.Split(f[1][1:], ",")[0])
			bStart, _ = strconv.Atoi(strings.Split(f[2][1:], ",")[0])
			if strings.HasSuffix(f[1], ",0") {
				aStart++
			}
			if strings.HasSuffix(f[2], ",0") {
				bStart++
			}
			out = append(out, a[next:aStart-1]...)
			next = aStart - 1
			if len(out)+1 != bStart {
				t.Fatalf("hunk %q starts at line %d of b, the result is at %d", l, bStart, len(out)+1)
			}
			continue
		}
		switch l[0] {
		case ' ':
			out = append(out, a[next])
			next++
		case '-':
			next++
		case '+':
			out = append(out, l[1:])
		}
	}
	return append(out, a[next:]...)
}

func TestFindObject(t *testing.T) {
	a, b := uuid.New(), uuid.New()
	objs := []client.DeploymentObject{{ID: b, SequenceID: 7}, {ID: a, SequenceID: 3}}
	if o, err := FindObject(objs, "3"); err != nil || o.ID != a {
		t.Fatalf("by sequence: %v %v", o.ID, err)
	}
	if o, err := FindObject(objs, "#7"); err != nil || o.ID != b {
		t.Fatalf("by #sequence: %v %v", o.ID, err)
	}
	if o, err := FindObject(objs, b.String()); err != nil || o.ID != b {
		t.Fatalf("by id: %v %v", o.ID, err)
	}
	if _, err := FindObject(objs, "4"); err == nil || !strings.Contains(err.Error(), "sequence 4") {
		t.Fatalf("missing sequence: %v", err)
	}
	if _, err := FindObject(objs, "nope"); err == nil {
		t.Fatal("bad ref accepted")
	}
}
