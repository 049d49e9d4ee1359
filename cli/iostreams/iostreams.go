// Package iostreams gives commands their standard streams together with what they need to
// know about the terminal: whether stdout is one, whether colour is wanted, how wide it is.
// Commands never touch os.Stdout directly, so every command runs in tests against buffers.
package iostreams

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/mattn/go-isatty"
)

// IOStreams are the streams of one command invocation.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer
	ErrOut io.Writer

	stdinTTY  bool
	stdoutTTY bool
	stderrTTY bool
	color     bool
	width     int
}

// System returns the process's streams, with TTY detection and the colour policy applied:
// colour only on a terminal, never when NO_COLOR is set, always when CLICOLOR_FORCE is set
// to anything but "0" (NO_COLOR wins over both).
func System() *IOStreams {
	s := &IOStreams{
		In:        os.Stdin,
		Out:       os.Stdout,
		ErrOut:    os.Stderr,
		stdinTTY:  isTerminal(os.Stdin),
		stdoutTTY: isTerminal(os.Stdout),
		stderrTTY: isTerminal(os.Stderr),
	}
	s.color = ColorEnabled(s.stdoutTTY, os.Getenv)
	s.width = envWidth(os.Getenv)
	if s.width == 0 && s.stdoutTTY {
		s.width = terminalWidth(os.Stdout)
	}
	return s
}

// ColorEnabled applies the colour policy to a stream that is (or is not) a terminal.
func ColorEnabled(tty bool, getenv func(string) string) bool {
	if _, set := lookup(getenv, "NO_COLOR"); set {
		return false
	}
	if v, set := lookup(getenv, "CLICOLOR_FORCE"); set && v != "0" {
		return true
	}
	if getenv("TERM") == "dumb" {
		return false
	}
	return tty
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func envWidth(getenv func(string) string) int {
	if n, err := strconv.Atoi(strings.TrimSpace(getenv("COLUMNS"))); err == nil && n > 0 {
		return n
	}
	return 0
}

func isTerminal(f *os.File) bool {
	fd := f.Fd()
	return isatty.IsTerminal(fd) || isatty.IsCygwinTerminal(fd)
}

// Test returns streams backed by buffers: stdin, stdout and stderr, in that order. All TTY
// flags start false; set them with SetStdinTTY, SetStdoutTTY and SetStderrTTY.
func Test() (*IOStreams, *bytes.Buffer, *bytes.Buffer, *bytes.Buffer) {
	in, out, errOut := &bytes.Buffer{}, &bytes.Buffer{}, &bytes.Buffer{}
	return &IOStreams{In: in, Out: out, ErrOut: errOut, width: 80}, in, out, errOut
}

// IsStdinTTY reports whether stdin is a terminal.
func (s *IOStreams) IsStdinTTY() bool { return s.stdinTTY }

// IsStdoutTTY reports whether stdout is a terminal: tables get headers and alignment,
// timestamps become ages.
func (s *IOStreams) IsStdoutTTY() bool { return s.stdoutTTY }

// IsStderrTTY reports whether stderr is a terminal.
func (s *IOStreams) IsStderrTTY() bool { return s.stderrTTY }

// SetStdinTTY overrides stdin terminal detection.
func (s *IOStreams) SetStdinTTY(v bool) { s.stdinTTY = v }

// SetStdoutTTY overrides stdout terminal detection.
func (s *IOStreams) SetStdoutTTY(v bool) { s.stdoutTTY = v }

// SetStderrTTY overrides stderr terminal detection.
func (s *IOStreams) SetStderrTTY(v bool) { s.stderrTTY = v }

// CanPrompt reports whether the user can be asked a question: stdin and stdout are terminals.
func (s *IOStreams) CanPrompt() bool { return s.stdinTTY && s.stdoutTTY }

// ColorEnabled reports whether output may contain ANSI colour.
func (s *IOStreams) ColorEnabled() bool { return s.color }

// SetColorEnabled overrides the colour policy.
func (s *IOStreams) SetColorEnabled(v bool) { s.color = v }

// TerminalWidth is the width of the terminal in columns (80 when unknown).
func (s *IOStreams) TerminalWidth() int {
	if s.width <= 0 {
		return 80
	}
	return s.width
}

// SetTerminalWidth overrides the terminal width.
func (s *IOStreams) SetTerminalWidth(w int) { s.width = w }

// ColorScheme returns the palette for these streams.
func (s *IOStreams) ColorScheme() *ColorScheme { return &ColorScheme{enabled: s.color} }

// ColorScheme wraps text in ANSI styles when colour is enabled and returns it unchanged
// otherwise.
type ColorScheme struct{ enabled bool }

func (c *ColorScheme) wrap(code, s string) string {
	if !c.enabled || s == "" {
		return s
	}
	return "\x1b[" + code + "m" + s + "\x1b[0m"
}

// Bold renders s bold.
func (c *ColorScheme) Bold(s string) string { return c.wrap("1", s) }

// Green renders s green.
func (c *ColorScheme) Green(s string) string { return c.wrap("32", s) }

// Red renders s red.
func (c *ColorScheme) Red(s string) string { return c.wrap("31", s) }

// Yellow renders s yellow.
func (c *ColorScheme) Yellow(s string) string { return c.wrap("33", s) }

// Gray renders s dim.
func (c *ColorScheme) Gray(s string) string { return c.wrap("90", s) }

// SuccessIcon is a green check mark.
func (c *ColorScheme) SuccessIcon() string { return c.Green("✓") }

// FailureIcon is a red cross.
func (c *ColorScheme) FailureIcon() string { return c.Red("X") }

// WarningIcon is a yellow exclamation mark.
func (c *ColorScheme) WarningIcon() string { return c.Yellow("!") }
