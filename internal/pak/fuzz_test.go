package pak

import (
	"strings"
	"testing"
)

// FuzzFromHeader feeds arbitrary Authorization header values to the header parser and the
// key parser behind it: they never panic, accept only visible ASCII, and a key they accept
// hashes to a well-formed hash.
func FuzzFromHeader(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "bearer ", "Bearer brokkr_BR3rVsDa_GK3QN7CDUzYc6iKgMkJ98Vs",
		"brokkr_BR3rVsDa_GK3QN7CDUzYc6iKgMkJ98Vs", "\tBearer\tx_y_z\t", "Bearer a_b_", "a__b",
		"Bearer \x00brokkr_a_b", "BEARER x", "Bearerx_y_z", "_", "__", "a_b_c_d", strings.Repeat("_", 1000),
		"Bearer \u00e9_a_b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, header string) {
		key, err := FromHeader(header)
		if err != nil {
			if key != "" {
				t.Fatalf("FromHeader(%q) returned %q with error %v", header, key, err)
			}
			return
		}
		if key == "" || key != strings.TrimSpace(key) {
			t.Fatalf("FromHeader(%q) = %q: empty or untrimmed", header, key)
		}
		for i := 0; i < len(key); i++ {
			if c := key[i]; (c < 0x20 || c > 0x7e) && c != '\t' {
				t.Fatalf("FromHeader(%q) = %q: byte %#x outside visible ASCII", header, key, c)
			}
		}
		if !strings.Contains(header, key) {
			t.Fatalf("FromHeader(%q) = %q: not part of the header", header, key)
		}
		long, err := Parse(key)
		if err != nil {
			return
		}
		if long == "" || strings.Contains(long, "_") || !strings.HasSuffix(key, "_"+long) {
			t.Fatalf("Parse(%q) = %q", key, long)
		}
		h, err := Hash(key)
		if err != nil || !ValidHash(h) || h != HashToken(long) {
			t.Fatalf("Hash(%q) = %q, %v", key, h, err)
		}
	})
}

// FuzzGenerateParse checks that every generated key parses back to the token its hash was
// made from, whatever the (valid) settings.
func FuzzGenerateParse(f *testing.F) {
	f.Add("brokkr", "BR", uint8(8), uint8(24))
	f.Add("x", "", uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, prefix, short string, shortLen, longLen uint8) {
		if prefix == "" || strings.ContainsAny(prefix+short, "_ \t\r\n") || shortLen == 0 || longLen == 0 || shortLen > 64 || longLen > 64 {
			return
		}
		s := DefaultSettings()
		s.Prefix, s.ShortTokenPrefix, s.ShortTokenLength, s.LongTokenLength = prefix, short, int(shortLen), int(longLen)
		key, hash, err := Generate(s)
		if err != nil {
			return
		}
		got, err := Hash(key)
		if err != nil || got != hash {
			t.Fatalf("Generate(%+v) = %q, %q; Hash = %q, %v", s, key, hash, got, err)
		}
		if k, err := FromHeader("Bearer " + key); err != nil || k != key {
			t.Fatalf("FromHeader(Bearer %q) = %q, %v", key, k, err)
		}
	})
}
