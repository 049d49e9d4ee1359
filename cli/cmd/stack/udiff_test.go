package stack

import (
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := UnifiedDiff("A", "B", tt.a, tt.b); got != tt.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
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
