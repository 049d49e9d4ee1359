package pgtext

import "testing"

func TestClip(t *testing.T) {
	for _, tt := range []struct {
		in   string
		n    int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"ééé", 2, "éé"},
		{"a\x00b", 5, "ab"},
		{"a\xffb", 5, "a\uFFFDb"},
		{"", 0, ""},
		{"abc", 0, ""},
	} {
		if got := Clip(tt.in, tt.n); got != tt.want {
			t.Errorf("Clip(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}
