package pak

import (
	"strings"
	"testing"
)

func TestReferenceExampleHash(t *testing.T) {
	// The reference's public development admin key and its documented hash.
	h, err := Hash("brokkr_BR3rVsDa_GK3QN7CDUzYc6iKgMkJ98M2WSimM5t6U8")
	if err != nil {
		t.Fatal(err)
	}
	if want := "4c697273df3d764cba950bb5c04368097685f09259f5bd880d892cf1ff9f4cdd"; h != want {
		t.Fatalf("hash = %s, want %s", h, want)
	}
}

func TestGenerateShapeAndHash(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 200; i++ {
		key, hash, err := Generate(DefaultSettings())
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(key, "_")
		if len(parts) != 3 || parts[0] != "brokkr" {
			t.Fatalf("bad key %q", key)
		}
		if len(parts[1]) != 8 || !strings.HasPrefix(parts[1], "BR") {
			t.Fatalf("bad short token %q", parts[1])
		}
		if l := len(parts[2]); l < 30 || l > 33 {
			t.Fatalf("long token %q has length %d", parts[2], l)
		}
		for _, c := range parts[1] + parts[2] {
			if !strings.ContainsRune(base58Alphabet, c) {
				t.Fatalf("non-base58 rune %q in %q", c, key)
			}
		}
		got, err := Hash(key)
		if err != nil || got != hash || !ValidHash(hash) {
			t.Fatalf("Hash(%q) = %q, %v; want %q", key, got, err, hash)
		}
		if seen[key] {
			t.Fatalf("duplicate key %q", key)
		}
		seen[key] = true
	}
}

func TestBase58(t *testing.T) {
	cases := map[string]string{"": "", "\x00": "1", "\x00\x00\x01": "112", "hello world": "StV1DL6CwTryKyV"}
	for in, want := range cases {
		if got := base58([]byte(in)); got != want {
			t.Errorf("base58(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		long string
		ok   bool
	}{
		{"a_b_c", "c", true},
		{"x_y_" + "LONG", "LONG", true},
		{"abc", "", false},
		{"a_b", "", false},
		{"a_b_c_d", "", false},
		{"a_b_", "", false},
	}
	for _, tc := range cases {
		long, err := Parse(tc.in)
		if (err == nil) != tc.ok || long != tc.long {
			t.Errorf("Parse(%q) = %q, %v", tc.in, long, err)
		}
	}
}

func TestFromHeader(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"brokkr_a_b", "brokkr_a_b", true},
		{"Bearer brokkr_a_b", "brokkr_a_b", true},
		{"bearer brokkr_a_b", "brokkr_a_b", true},
		{"  Bearer   brokkr_a_b  ", "brokkr_a_b", true},
		{"", "", false},
		{"Bearer ", "", false},
		{"brokkr_a_b\x01", "", false},
		{"brokkr_é_b", "", false},
	}
	for _, tc := range cases {
		got, err := FromHeader(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("FromHeader(%q) = %q, %v", tc.in, got, err)
		}
	}
}

func BenchmarkHash(b *testing.B) {
	key, _, _ := Generate(DefaultSettings())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Hash(key); err != nil {
			b.Fatal(err)
		}
	}
}
