package output

import "strconv"

// Short abbreviates a checksum or id for tables.
func Short(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

// OrDash returns "-" for an empty or nil string.
func OrDash(s *string) string {
	if s == nil || *s == "" {
		return "-"
	}
	return *s
}

// YesNo renders a boolean as yes or no.
func YesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// BoolPtr renders an optional boolean: yes, no or -.
func BoolPtr(b *bool) string {
	if b == nil {
		return "-"
	}
	return YesNo(*b)
}

// IntPtr renders an optional number or -.
func IntPtr[T ~int32 | ~int64](n *T) string {
	if n == nil {
		return "-"
	}
	return strconv.FormatInt(int64(*n), 10)
}
