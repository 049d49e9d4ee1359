package tmpl

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// unescapePattern turns the two-character sequences \n and \t of a pattern argument into
// the characters, as Tera does for patterns written in templates.
func unescapePattern(p string) string {
	return strings.NewReplacer(`\n`, "\n", `\t`, "\t").Replace(p)
}

func trimMatches(start bool) filterFunc {
	return func(in any, a args) (any, error) {
		pat, err := a.requiredStr("pat")
		if err != nil {
			return nil, err
		}
		pat = unescapePattern(pat)
		return withString(in, func(s string) any {
			if pat == "" {
				return s
			}
			for start && strings.HasPrefix(s, pat) {
				s = s[len(pat):]
			}
			for !start && strings.HasSuffix(s, pat) {
				s = s[:len(s)-len(pat)]
			}
			return s
		})
	}
}

func truncate(in any, a args) (any, error) {
	n, err := a.integer("length", 255)
	if err != nil {
		return nil, err
	}
	end, err := a.str("end", "…")
	if err != nil {
		return nil, err
	}
	return withString(in, func(s string) any {
		if n < 0 || int64(utf8.RuneCountInString(s)) <= n {
			return s
		}
		runes := []rune(s)
		return string(runes[:n]) + end
	})
}

func wordcount(s string) any { return int64(len(strings.Fields(s))) }

func replace(in any, a args) (any, error) {
	from, err := a.requiredStr("from")
	if err != nil {
		return nil, err
	}
	to, err := a.requiredStr("to")
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, wrongInput(in, "a string")
	}
	n := strings.Count(s, from) // for an empty from: one more than the runes of s
	if len(s)+n*(len(to)-len(from)) > MaxValueBytes {
		return nil, errTooLong
	}
	return strings.ReplaceAll(s, from, to), nil
}

func capitalize(s string) string {
	r, size := utf8.DecodeRuneInString(s)
	if size == 0 {
		return s
	}
	return strings.ToUpper(string(r)) + strings.ToLower(s[size:])
}

var wordRE = regexp.MustCompile(`[\pL\pN_']+`)

func title(s string) string {
	return wordRE.ReplaceAllStringFunc(s, capitalize)
}

func indent(in any, a args) (any, error) {
	prefix, err := a.str("prefix", "    ")
	if err != nil {
		return nil, err
	}
	firstLine, err := a.boolean("first", false)
	if err != nil {
		return nil, err
	}
	blank, err := a.boolean("blank", false)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, wrongInput(in, "a string")
	}
	ls := lines(s)
	if len(s)+len(ls)*len(prefix) > MaxValueBytes {
		return nil, errTooLong
	}
	return withString(in, func(s string) any {
		var b strings.Builder
		for i, line := range ls {
			if i == 0 {
				if firstLine {
					b.WriteString(prefix)
				}
			} else {
				b.WriteByte('\n')
				if blank || strings.TrimLeftFunc(line, unicode.IsSpace) != "" {
					b.WriteString(prefix)
				}
			}
			b.WriteString(line)
		}
		return b.String()
	})
}

// lines splits like Rust's str::lines: on "\n", dropping a "\r" before it and the empty
// piece after a final newline.
func lines(s string) []string {
	if s == "" {
		return nil
	}
	parts := strings.Split(strings.TrimSuffix(s, "\n"), "\n")
	for i, p := range parts {
		parts[i] = strings.TrimSuffix(p, "\r")
	}
	return parts
}

var (
	stripTagsRE = regexp.MustCompile(`(?s)(<!--.*?-->|<[^>]*>)`)
	spacelessRE = regexp.MustCompile(`>\s+<`)
)

// percentEncode percent-encodes every byte except ASCII letters, digits and keep.
func percentEncode(s, keep string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x80 && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(keep, c) >= 0) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}

var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;", "/", "&#x2F;")

func escapeHTML(s string) string { return htmlEscaper.Replace(s) }

var xmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&apos;")

func escapeXML(s string) string { return xmlEscaper.Replace(s) }

// slugify lowercases s and joins its runs of ASCII letters and digits with dashes. Other
// characters separate words (no transliteration of non-ASCII letters).
func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}

func split(in any, a args) (any, error) {
	pat, err := a.requiredStr("pat")
	if err != nil {
		return nil, err
	}
	pat = unescapePattern(pat)
	if s, ok := in.(string); ok && strings.Count(s, pat)+1 > MaxValueItems {
		// Counted first: the pieces of a long string would take far more memory than it.
		return nil, fmt.Errorf("a list value exceeds %d items", MaxValueItems)
	}
	return withString(in, func(s string) any {
		parts := strings.Split(s, pat)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out
	})
}
