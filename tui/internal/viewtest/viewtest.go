// Package viewtest holds what the tests of the dashboard and its views share: a fixed
// environment, key presses, renders checked for their size, golden files, and a driver
// that runs a view's commands the way the program does.
package viewtest

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/brokkr/brokkr/tui/ui"
)

// Env returns an environment without a broker client whose clock stands at now, with the
// styles of a NO_COLOR terminal (what golden files hold).
func Env(now time.Time, refresh time.Duration) *ui.Env {
	return &ui.Env{Now: func() time.Time { return now }, Styles: ui.NewStyles(true, true), RefreshEvery: refresh}
}

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }

// keyCodes are the keys Key knows by name.
var keyCodes = map[string]rune{
	"enter": tea.KeyEnter, "esc": tea.KeyEscape, "tab": tea.KeyTab, "backspace": tea.KeyBackspace,
	"up": tea.KeyUp, "down": tea.KeyDown, "left": tea.KeyLeft, "right": tea.KeyRight,
	"pgup": tea.KeyPgUp, "pgdown": tea.KeyPgDown, "space": tea.KeySpace,
}

// Key builds the key press bubbletea delivers for a key name ("enter", "esc", "pgdown"),
// with modifiers ("shift+tab", "ctrl+x"), or for typed text ("j", "/").
func Key(name string) tea.KeyPressMsg {
	var mod tea.KeyMod
	for {
		if rest, ok := strings.CutPrefix(name, "ctrl+"); ok && rest != "" {
			mod, name = mod|tea.ModCtrl, rest
		} else if rest, ok := strings.CutPrefix(name, "shift+"); ok && rest != "" {
			mod, name = mod|tea.ModShift, rest
		} else {
			break
		}
	}
	if code, ok := keyCodes[name]; ok {
		k := tea.KeyPressMsg{Code: code, Mod: mod}
		if code == tea.KeySpace && mod == 0 {
			k.Text = " "
		}
		return k
	}
	code := []rune(name)[0]
	if mod != 0 {
		return tea.KeyPressMsg{Code: code, Mod: mod}
	}
	return tea.KeyPressMsg{Code: code, Text: name}
}

// Press sends keys to v and returns the view and the command of the last one.
func Press(v ui.View, keys ...string) (ui.View, tea.Cmd) {
	var cmd tea.Cmd
	for _, k := range keys {
		v, cmd = v.Update(Key(k))
	}
	return v, cmd
}

// Type types text into v, one key press a character; the commands of typing (cursor
// blinks) are not run.
func Type(v ui.View, text string) ui.View {
	for _, r := range text {
		v, _ = v.Update(Key(string(r)))
	}
	return v
}

// CheckSize fails the test unless out is exactly width×height cells.
func CheckSize(t testing.TB, out string, width, height int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != height {
		t.Fatalf("render %dx%d: %d lines:\n%s", width, height, len(lines), ui.Plain(out))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != width {
			t.Fatalf("render %dx%d: line %d is %d cells wide: %q", width, height, i, w, ui.Plain(l))
		}
	}
}

// Render draws v, checks that it fills exactly width×height cells and returns what a
// NO_COLOR terminal shows.
func Render(t testing.TB, v ui.View, width, height int) string {
	t.Helper()
	out := v.Render(width, height)
	CheckSize(t, out, width, height)
	return ui.Plain(out)
}

// Golden compares out with the golden file of the subtest name.
func Golden(t *testing.T, name, out string) {
	t.Helper()
	t.Run(name, func(t *testing.T) { golden.RequireEqual(t, out) })
}

// HelpKeys lists the keys of v's bindings as its footer names them, space-separated.
func HelpKeys(v ui.View) string {
	out := make([]string, 0, len(v.Keys()))
	for _, k := range v.Keys() {
		out = append(out, k.Help().Key)
	}
	return strings.Join(out, " ")
}
