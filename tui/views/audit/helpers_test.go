package audit

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

func testEnv(c *client.Client, refresh time.Duration) *ui.Env {
	return &ui.Env{Client: c, Now: func() time.Time { return now }, Styles: ui.NewStyles(true, true), RefreshEvery: refresh}
}

// press builds the key press for a key name ("enter", "esc", "tab") or a printable rune.
func press(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "shift+tab":
		return tea.KeyPressMsg{Code: tea.KeyTab, Mod: tea.ModShift}
	case "ctrl+x":
		return tea.KeyPressMsg{Code: 'x', Mod: tea.ModCtrl}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	}
	r := []rune(k)[0]
	return tea.KeyPressMsg{Code: r, Text: k}
}

// typeText presses every rune of s.
func typeText(v ui.View, s string) ui.View {
	for _, r := range s {
		v, _ = v.Update(press(string(r)))
	}
	return v
}

// outcome is what running a view's commands produced for the root.
type outcome struct {
	flashes  []ui.FlashMsg
	confirms []ui.ConfirmMsg
	statuses []ui.StatusMsg
}

// drive runs cmd as the program would, feeding every message back into the view, and
// collects what is meant for the root. Timer messages are dropped, so polling stops.
func drive(t *testing.T, v ui.View, cmd tea.Cmd) (ui.View, outcome) {
	t.Helper()
	var out outcome
	queue := []tea.Cmd{cmd}
	for len(queue) > 0 {
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		switch msg := c().(type) {
		case nil:
		case tea.BatchMsg:
			queue = append(queue, msg...)
		case ui.FlashMsg:
			out.flashes = append(out.flashes, msg)
		case ui.ConfirmMsg:
			out.confirms = append(out.confirms, msg)
		case ui.StatusMsg:
			out.statuses = append(out.statuses, msg)
		case TickMsg:
		default:
			var next tea.Cmd
			v, next = v.Update(msg)
			queue = append(queue, next)
		}
	}
	return v, out
}

// render draws the view and checks that it fills exactly width×height cells.
func render(t *testing.T, v ui.View, width, height int) string {
	t.Helper()
	out := v.Render(width, height)
	lines := strings.Split(out, "\n")
	if len(lines) != height {
		t.Fatalf("render %dx%d: %d lines", width, height, len(lines))
	}
	for i, l := range lines {
		if w := ansi.StringWidth(l); w != width {
			t.Fatalf("render %dx%d: line %d is %d cells wide: %q", width, height, i, w, l)
		}
	}
	return ui.Plain(out)
}
