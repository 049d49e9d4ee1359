package tmpl

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The structural pre-check. The engine's parser and evaluator recurse once per level of a
// template's syntax tree, and a goroutine that outgrows its stack kills the whole process (no
// recover() catches it): `{{ ` followed by 150,000 `[` is enough. Long chains of operators and
// accessors (`a.b.b.b…`, `1+1+1…`) make trees as deep, and the engine's handling of them is
// quadratic or worse. So before anything is parsed, one linear pass measures how deep the
// syntax tree can get and refuses a template past the limit.
//
// The pass reads the source as the engine's lexer does (delimiters, string literals,
// comments, raw blocks and the lexer's quirks), so that what it counts is what the parser
// will see; it stops where the lexer would stop with an error, and at the end of a tag whose
// brackets are not closed, because the parser stops there with a syntax error before
// reaching anything further.
//
// The depth it computes is an upper bound of the syntax tree's depth, counted as:
//   - one level per block (`if`, `for`, `filter`) the tag is inside, the opening tag included;
//   - one level per bracket, parenthesis or brace;
//   - one level per operator (`+`, `~`, `==`, `and`, `in`, `is`, `not`, …) and per accessor
//     (`.name`, `[index]`, a call's parentheses) in a chain, between two separators (`,`, `:`,
//     `=`) of the same bracket level. Filters (`| name`) do not count: the engine keeps a
//     chain of filters flat.
//
// Bracket levels count once each: `[[[x]]]` is 3 deep. A chain's depth adds to that of the
// deepest bracket group inside it: `(a.b).c` is 3 deep, `[a.b, c.d.e]` 3.

// DefaultMaxNesting is the nesting limit when none is given.
const DefaultMaxNesting = 64

// ErrTooDeep is matched (errors.Is) by the error of a template nested beyond the limit.
var ErrTooDeep = errors.New("template nested too deeply")

// NestingError reports a template nested beyond the limit, at the first place where it is.
type NestingError struct {
	Max  int // the limit
	Line int // 1-based
	Col  int // 1-based, in bytes
}

func (e *NestingError) Error() string {
	return fmt.Sprintf("nested more than %d levels deep at line %d column %d "+
		"(blocks, brackets, and chains of operators and accessors in one expression count as levels)",
		e.Max, e.Line, e.Col)
}

// Is makes errors.Is(err, ErrTooDeep) true.
func (e *NestingError) Is(target error) bool { return target == ErrTooDeep }

// checkNesting returns a *NestingError when src nests deeper than max levels, and a
// *lexerTrapError where the engine's lexer would never end.
func checkNesting(src string, max int) error {
	if max <= 0 {
		max = DefaultMaxNesting
	}
	s := scanNesting(src, max)
	if s.peak > max {
		line, col := position(src, s.at)
		return &NestingError{Max: max, Line: line, Col: col}
	}
	if s.trap >= 0 {
		line, col := position(src, s.trap)
		return &lexerTrapError{Line: line, Col: col}
	}
	return nil
}

// position returns the 1-based line and byte column of offset at.
func position(src string, at int) (line, col int) {
	return 1 + strings.Count(src[:at], "\n"), at - strings.LastIndexByte(src[:at], '\n')
}

// lexerTrapError reports a number followed by a dot and a non-ASCII character that is not
// a digit (`0.é`). The engine's lexer steps back the width of that character instead of
// the dot's and then reads the same text forever, growing without bound; such a template
// is refused before it is parsed.
type lexerTrapError struct{ Line, Col int }

func (e *lexerTrapError) Error() string {
	return fmt.Sprintf("a number followed by '.' and a non-ASCII character at line %d column %d is not supported; "+
		"put a space or parentheses after the number", e.Line, e.Col)
}

// measureNesting returns the deepest nesting of src, or, as soon as it exceeds limit, a
// depth beyond limit and the offset where it did.
func measureNesting(src string, limit int) (depth, at int) {
	s := scanNesting(src, limit)
	return s.peak, s.at
}

// scanNesting runs the pass over src.
func scanNesting(src string, limit int) *nestScanner {
	s := &nestScanner{src: src, limit: limit, trap: -1}
	if limit < 1<<10 {
		s.levels = make([]nestLevel, 0, limit+2)
	}
	if stop := s.run(); stop >= 0 && s.trap < 0 && s.peak <= limit {
		// The parser stops here with an error, but the lexer reads the whole source first
		// and does not always stop where the parser will (a lone "!", a tag ending with
		// brackets open): look for a trap in the rest, more broadly than the lexer would
		// find one, which refuses only templates that are invalid anyway.
		s.trap = anyLexerTrap(src, stop)
	}
	return s
}

// anyLexerTrap returns the offset of the first dot in src[from:] that follows a digit and
// precedes a multi-byte character that is not a digit, or -1: every place where the lexer
// could fall into the trap of lexerTrapError, and more.
func anyLexerTrap(src string, from int) int {
	for i := from; i < len(src); i++ {
		j := strings.IndexByte(src[i:], '.')
		if j < 0 {
			return -1
		}
		i += j
		next, size := utf8.DecodeRuneInString(src[i+1:])
		if size < 2 || unicode.IsDigit(next) {
			continue
		}
		if prev, _ := utf8.DecodeLastRuneInString(src[from:i]); unicode.IsDigit(prev) {
			return i
		}
	}
	return -1
}

// nestLevel is one open bracket level of the tag being read (level 0 is the tag itself).
type nestLevel struct {
	base  int  // depth of this level's elements: the enclosing levels' depth and chains
	links int  // operators and accessors in the current element's chain
	inner int  // deepest bracket group closed in the current element
	best  int  // deepest element of this level so far
	close byte // the bracket closing this level
}

type nestScanner struct {
	src    string
	limit  int
	levels []nestLevel
	blocks int    // open blocks
	raw    string // the end tag of a raw section pending the current block's end ("" if none)

	trap    int  // offset of a lexerTrapError (-1: none)
	operand bool // the last token ends an operand (a call or index may follow)
	junk    bool // characters the lexer skips since the last token (see scanNumber)
	peak    int
	at      int
}

// Outcomes of reading a tag.
const (
	tagDone = iota // the tag ended; reading goes on
	tagStop        // the lexer stops here (an error or the end of the input), or the limit is exceeded
)

// note records a depth reached at offset i; it reports whether the limit is exceeded.
func (s *nestScanner) note(d, i int) bool {
	if d > s.peak {
		s.peak = d
		if d > s.limit {
			s.at = i
			return true
		}
	}
	return false
}

// run reads the whole source; it returns the offset where the reading stopped before the
// end of the input (an error or the limit), or -1.
func (s *nestScanner) run() int {
	src := s.src
	i := 0
	for i < len(src) {
		j := strings.IndexByte(src[i:], '{')
		if j < 0 || i+j+1 >= len(src) {
			return -1
		}
		i += j
		switch src[i+1] {
		case '#': // a comment: everything up to the first #}
			k := i + 2
			if k < len(src) && (src[k] == '-' || src[k] == '+') {
				k++
			}
			end := strings.Index(src[k:], "#}")
			if end < 0 {
				return i // unclosed comment: the lexer stops
			}
			i = k + end + 2
		case '{':
			i += 2
			if i < len(src) && src[i] == '-' {
				i++
			}
			var r int
			if i, r = s.tag(i, false); r == tagStop {
				return i
			}
		case '%':
			tagStart := i
			i += 2
			if i < len(src) && (src[i] == '-' || src[i] == '+') {
				i++
			}
			for i < len(src) && (src[i] == ' ' || src[i] == '\t') {
				i++
			}
			nameEnd := scanWord(src, i)
			switch name := src[i:nameEnd]; name {
			case "if", "for", "filter":
				s.blocks++
				if s.note(s.blocks, tagStart) {
					return tagStart
				}
			case "endif", "endfor", "endfilter":
				if s.blocks > 0 {
					s.blocks--
				}
			case "raw", "comment":
				s.raw = "end" + name
			}
			var r int
			if i, r = s.tag(nameEnd, true); r == tagStop {
				return i
			}
		default:
			i++
		}
	}
	return -1
}

// tag reads the expression of a tag from offset i up to the end of the tag, and returns
// the offset after it. block tells whether the tag is a block (ends with %}) or an output
// (ends with }}).
func (s *nestScanner) tag(i int, block bool) (int, int) {
	src := s.src
	s.levels = append(s.levels[:0], nestLevel{base: s.blocks})
	s.operand, s.junk = false, false
	for {
		if i >= len(src) {
			return i, tagStop
		}
		c := src[i]
		junk := s.junk
		s.junk = false
		top := &s.levels[len(s.levels)-1]
		// The end of the tag, unless the next character closes an open bracket.
		if len(s.levels) == 1 || c != top.close {
			if !block && strings.HasPrefix(src[i:], "}}") {
				return s.endTag(i+2, false)
			}
			if block && strings.HasPrefix(src[i:], "%}") {
				return s.endTag(i+2, true)
			}
		}
		switch c {
		case ' ', '\t':
			i++
		case '"', '\'':
			end := scanString(src, i)
			if end < 0 {
				return i, tagStop // unclosed string: the lexer stops
			}
			i, s.operand = end, true
		case ',', ':':
			s.separate()
			i++
		case '|':
			s.operand = false
			i++
		case '+':
			if strings.HasPrefix(src[i+1:], "%}") {
				return s.endTag(i+3, true)
			}
			if s.link(i) {
				return i, tagStop
			}
			i++
		case '-':
			if strings.HasPrefix(src[i+1:], "%}") {
				return s.endTag(i+3, true)
			}
			if strings.HasPrefix(src[i+1:], "}}") {
				return s.endTag(i+3, false)
			}
			if s.link(i) {
				return i, tagStop
			}
			i++
		case '~', '.', '%':
			if s.link(i) {
				return i, tagStop
			}
			i++
		case '/', '*', '<', '>':
			if s.link(i) {
				return i, tagStop
			}
			i++
			if i < len(src) && (src[i] == c && (c == '/' || c == '*') || src[i] == '=' && (c == '<' || c == '>')) {
				i++
			}
		case '!':
			if i+1 >= len(src) || src[i+1] != '=' {
				return i, tagStop // a lone "!": the lexer stops
			}
			if s.link(i) {
				return i, tagStop
			}
			i += 2
		case '=':
			if i+1 < len(src) && src[i+1] == '=' {
				if s.link(i) {
					return i, tagStop
				}
				i += 2
			} else {
				s.separate() // an assignment or a keyword argument
				i++
			}
		case '(', '[', '{':
			if s.open(c, i) {
				return i, tagStop
			}
			i++
		case ')', ']', '}':
			if len(s.levels) == 1 || c != top.close {
				return i, tagStop // an unexpected or unbalanced delimiter: the lexer stops
			}
			if s.closeLevel(i) {
				return i, tagStop
			}
			i++
		default:
			r, size := rune(c), 1
			if c >= utf8.RuneSelf {
				r, size = utf8.DecodeRuneInString(src[i:])
			}
			switch {
			case unicode.IsDigit(r):
				end, outcome := scanNumber(src, i, !junk)
				if outcome == numberTrap && s.trap < 0 {
					s.trap = end
				}
				if outcome != numberOK {
					return i, tagStop // a malformed number: the lexer stops
				}
				i, s.operand = end, true
			case isWordRune(r):
				end := scanWord(src, i)
				if isKeyword(src[i:end], src[end:]) {
					if s.link(i) {
						return i, tagStop
					}
				} else {
					s.operand = true
				}
				i = end
			default:
				i += size // the lexer skips characters it has no token for
				s.junk = true
			}
		}
	}
}

// endTag ends the tag at offset i (after its closing delimiter).
func (s *nestScanner) endTag(i int, block bool) (int, int) {
	if len(s.levels) > 1 {
		// An unclosed bracket: the parser stops at this tag with a syntax error.
		return i, tagStop
	}
	if block && s.raw != "" {
		// The content of a raw section is text up to its end tag.
		end := findRawEnd(s.src, i, s.raw)
		s.raw = ""
		if end < 0 {
			return i, tagStop
		}
		return end, tagDone
	}
	return i, tagDone
}

// link counts an operator or accessor in the current chain.
func (s *nestScanner) link(i int) bool {
	l := &s.levels[len(s.levels)-1]
	l.links++
	s.operand = false
	return s.note(l.base+l.links+l.inner, i)
}

// open starts a bracket level; after an operand, `(` and `[` are a call or an index, which
// is also a link of the chain.
func (s *nestScanner) open(c byte, i int) bool {
	l := &s.levels[len(s.levels)-1]
	if s.operand && c != '{' {
		if s.link(i) {
			return true
		}
	}
	closer := byte(')')
	switch c {
	case '[':
		closer = ']'
	case '{':
		closer = '}'
	}
	base := l.base + l.links + 1
	s.levels = append(s.levels, nestLevel{base: base, close: closer})
	s.operand = false
	return s.note(base, i)
}

// closeLevel ends the innermost bracket level; the group becomes part of the enclosing
// element.
func (s *nestScanner) closeLevel(i int) bool {
	n := len(s.levels) - 1
	l := s.levels[n]
	group := 1 + max(l.best, l.links+l.inner)
	s.levels = s.levels[:n]
	p := &s.levels[n-1]
	p.inner = max(p.inner, group)
	s.operand = true
	return s.note(p.base+p.links+p.inner, i)
}

// separate ends an element of the current level.
func (s *nestScanner) separate() {
	l := &s.levels[len(s.levels)-1]
	l.best = max(l.best, l.links+l.inner)
	l.links, l.inner = 0, 0
	s.operand = false
}

// isWordRune reports whether r belongs to a name (the lexer's alphanumerics).
func isWordRune(r rune) bool {
	return r == '_' || r < utf8.RuneSelf && ('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') ||
		r >= utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// scanWord returns the end of the name starting at offset i.
func scanWord(src string, i int) int {
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf {
			if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' {
				i++
				continue
			}
			return i
		}
		r, size := utf8.DecodeRuneInString(src[i:])
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return i
		}
		i += size
	}
	return i
}

// isKeyword reports whether the name word, followed by rest, is lexed as an operator: `in`,
// `is`, `and` and `or` before a space or tab, `not` also before a parenthesis.
func isKeyword(word, rest string) bool {
	next := byte(0)
	if rest != "" {
		next = rest[0]
	}
	space := next == ' ' || next == '\t'
	switch word {
	case "in", "is", "and", "or":
		return space
	case "not":
		return space || next == '('
	}
	return false
}

// scanString returns the end of the string literal starting at offset i (its quote), or -1
// if it is not closed. As in the lexer, a quote preceded by a backslash does not close it.
func scanString(src string, i int) int {
	quote := src[i]
	prev := byte(0)
	for j := i + 1; j < len(src); j++ {
		c := src[j]
		if c == quote && prev != '\\' {
			return j + 1
		}
		prev = c
	}
	return -1
}

// findRawEnd returns the offset of the tag ending a raw section that starts at offset i:
// the first `{%`, optionally followed by `-` or `+`, then white space, then word.
func findRawEnd(src string, i int, word string) int {
	for {
		j := strings.Index(src[i:], "{%")
		if j < 0 {
			return -1
		}
		start := i + j
		k := start + 2
		if k < len(src) && (src[k] == '-' || src[k] == '+') {
			k++
		}
		for k < len(src) && (src[k] == ' ' || src[k] == '\t' || src[k] == '\n' || src[k] == '\r' || src[k] == '\f') {
			k++
		}
		if strings.HasPrefix(src[k:], word) {
			return start
		}
		i = start + 2
	}
}

// Outcomes of scanNumber.
const (
	numberOK   = iota // a number the lexer reads
	numberStop        // a malformed number: the lexer stops with an error
	numberTrap        // see lexerTrapError
)

// scanNumber returns the end of the number starting at offset i, as the lexer reads it
// (with an identifier glued to an integer, as in `1abc`), and its outcome. The lexer reads
// a 0b, 0o or 0x prefix only when prefix is set: not when characters it skips precede the
// number (they become part of the token's text).
func scanNumber(src string, i int, prefix bool) (int, int) {
	peek := func(j int) (rune, int) {
		if j >= len(src) {
			return -1, 0
		}
		if c := src[j]; c < utf8.RuneSelf {
			return rune(c), 1
		}
		return utf8.DecodeRuneInString(src[j:])
	}
	start := i
	_, size := peek(i)
	i += size
	if prefix && src[start] == '0' && i == start+1 {
		var digit func(rune) bool
		switch r, _ := peek(i); unicode.ToLower(r) {
		case 'b':
			digit = func(r rune) bool { return r == '0' || r == '1' }
		case 'o':
			digit = func(r rune) bool { return '0' <= r && r <= '7' }
		case 'x':
			digit = func(r rune) bool { return unicode.IsDigit(r) || 'a' <= r && r <= 'f' || 'A' <= r && r <= 'F' }
		}
		if digit != nil {
			end, any, ok := scanDigits(src, i+1, digit, false)
			if !ok || !any {
				return end, numberStop
			}
			return wordAfterInteger(src, end), numberOK
		}
	}
	end, _, ok := scanDigits(src, i, unicode.IsDigit, true)
	if !ok {
		return end, numberStop
	}
	i = end
	integer := true
	if r, _ := peek(i); r == '.' {
		switch next, size := peek(i + 1); {
		case unicode.IsDigit(next):
			integer = false
			if i, _, ok = scanDigits(src, i+1, unicode.IsDigit, false); !ok {
				return i, numberStop
			}
		case next == ' ' || next == '\t' || isNumericTerminator(next) || next == -1:
			integer = false
			i++
		case size > 1:
			return i, numberTrap
		}
	}
	if r, _ := peek(i); r == 'e' || r == 'E' {
		j := i + 1
		if r, _ := peek(j); r == '+' || r == '-' {
			j++
		}
		if end, any, ok := scanDigits(src, j, unicode.IsDigit, false); ok && any {
			integer = false
			i = end
		}
	}
	if !integer {
		if r, _ := peek(i); r == '.' {
			next, size := peek(i + 1)
			if unicode.IsDigit(next) || next == ' ' || next == '\t' || isNumericTerminator(next) || next == -1 {
				return i, numberStop // two dots in a number
			}
			if size > 1 {
				return i, numberTrap
			}
		}
		return i, numberOK
	}
	return wordAfterInteger(src, i), numberOK
}

// wordAfterInteger extends an integer ending at offset i with the name glued to it.
func wordAfterInteger(src string, i int) int {
	if i < len(src) {
		r, _ := utf8.DecodeRuneInString(src[i:])
		if isWordRune(r) {
			return scanWord(src, i)
		}
	}
	return i
}

// scanDigits reads digits (valid) with single underscores between them, as the lexer does:
// it returns the end, whether a digit was seen, and false on a misplaced underscore.
func scanDigits(src string, i int, valid func(rune) bool, sawDigit bool) (int, bool, bool) {
	pending := false
	for i < len(src) {
		r, size := rune(src[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(src[i:])
		}
		switch {
		case valid(r):
			i += size
			sawDigit, pending = true, false
		case r == '_':
			if !sawDigit || pending {
				return i, sawDigit, false
			}
			i++
			pending = true
		default:
			return i, sawDigit, !pending
		}
	}
	return i, sawDigit, !pending
}

func isNumericTerminator(r rune) bool {
	switch r {
	case ',', '|', ':', ')', ']', '}', '+', '-', '*', '/', '%', '<', '>', '=', '!':
		return true
	}
	return false
}
