package tui_test

import (
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
)

// answers runs a command the way the program does and returns what comes back.
func answers(cmd tea.Cmd) []tea.Msg { return viewtest.Messages(cmd) }

// TestAnswersGoToTheViewThatAsked: the answers of a view's commands reach that view alone
// (no other view, nor another instance, takes them); the reachability they report reaches
// the root.
func TestAnswersGoToTheViewThatAsked(t *testing.T) {
	h := newHarness(t, tui.Options{})
	h.send(viewtest.Key("2"))
	back := answers(h.send(viewtest.Key("l"))) // Beta loads
	if len(back) != 2 {
		t.Fatalf("answers %v", back)
	}
	for _, msg := range back {
		h.send(msg)
	}
	check := func(want string) {
		t.Helper()
		for _, v := range h.views {
			w := ""
			if v.name == "Beta" {
				w = want
			}
			if got := strings.Join(loads(v), ","); got != w {
				t.Fatalf("%s took the answers %q", v.name, got)
			}
		}
	}
	check("Beta")
	if !strings.Contains(h.screen(), "live · updated 0s ago") {
		t.Fatalf("the reachability did not reach the status line:\n%s", h.screen())
	}
	// An answer arriving after its view left the screen still goes to it alone.
	back = answers(h.send(viewtest.Key("l")))
	h.send(viewtest.Key("1"))
	for _, msg := range back {
		h.send(msg)
	}
	check("Beta,Beta")
	// A paste goes to the view on screen; bubbletea's own messages go to the program.
	h.send(tea.PasteMsg{Content: "x"})
	for _, v := range h.views {
		pasted := len(v.other) > 0 && v.other[len(v.other)-1] == (tea.PasteMsg{Content: "x"})
		if pasted != (v.name == "Alpha") {
			t.Fatalf("%s got %v", v.name, v.other)
		}
	}
	if back := answers(h.send(viewtest.Key("Q"))); len(back) != 1 || back[0] != (tea.QuitMsg{}) {
		t.Fatalf("a view's quit came back as %#v", back)
	}
}

// loads lists the fakeLoaded answers a view took.
func loads(v *fakeView) []string {
	var out []string
	for _, m := range v.other {
		if l, ok := m.(fakeLoaded); ok {
			out = append(out, l.text)
		}
	}
	return out
}

// TestAnswersOfReplacedViewsAreDropped: switching context replaces the views; the answers
// of the old ones reach none of the new ones, and the channels they hold are closed.
func TestAnswersOfReplacedViewsAreDropped(t *testing.T) {
	h := newHarness(t, tui.Options{ContextName: "dev", Contexts: []string{"dev", "prod"},
		SwitchContext: func(string) (*client.Client, error) { return client.New("http://prod:3000") }})
	loaded := answers(h.send(viewtest.Key("l")))
	live := answers(h.send(viewtest.Key("w")))
	h.send(viewtest.Key("c"))
	h.send(viewtest.Key("j"))
	for _, msg := range answers(h.send(viewtest.Key("enter"))) {
		h.send(msg)
	}
	if len(h.views) != 6 {
		t.Fatalf("%d views made, want 3 more after the switch", len(h.views))
	}
	before := released
	for _, msg := range append(loaded, live...) {
		for _, m := range answers(h.send(msg)) {
			h.send(m)
		}
	}
	for _, v := range h.views[3:] {
		for _, m := range v.other {
			switch m.(type) {
			case fakeLoaded, fakeLive:
				t.Fatalf("%s of the new context took %v", v.name, m)
			}
		}
	}
	if released != before+1 {
		t.Fatalf("the channel of a replaced view was released %d times, want once", released-before)
	}
	// The answers of the new views still reach them.
	for _, msg := range answers(h.send(viewtest.Key("w"))) {
		h.send(msg)
	}
	if released != before+1 || len(h.views[3].other) == 0 {
		t.Fatalf("a live answer of the new Alpha was released or lost: %v", h.views[3].other)
	}
	if _, ok := h.views[3].other[len(h.views[3].other)-1].(fakeLive); !ok {
		t.Fatalf("the new Alpha got %v", h.views[3].other)
	}
}
