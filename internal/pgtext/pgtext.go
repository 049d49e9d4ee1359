// Package pgtext makes text that PostgreSQL can store: valid UTF-8 without NUL bytes.
package pgtext

import (
	"strings"
	"unicode/utf8"
)

// Clip returns the first n characters of s as valid UTF-8 without NUL bytes (invalid bytes
// become U+FFFD, NULs are dropped).
func Clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}
