package tui_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

var now = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

// fakeView records what reaches it and renders its name.
type fakeView struct {
	name      string
	keys      []string
	other     []tea.Msg
	capturing bool
	inits     *int
}

type fakeLoaded struct{ text string }

// fakeLive is an answer holding a channel, released when no view takes it.
type fakeLive struct{ released *int }

func (m fakeLive) Release() { *m.released++ }

// released counts the fakeLive answers released.
var released int

func (v *fakeView) Title() string { return v.name }
func (v *fakeView) Init() tea.Cmd {
	if v.inits != nil {
		*v.inits++
	}
	return nil
}
func (v *fakeView) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		v.keys = append(v.keys, msg.String())
		switch msg.String() {
		case "d":
			return v, ui.Confirm("Delete thing?", func() tea.Msg { return fakeLoaded{"deleted"} })
		case "l": // a load: its answer, with the broker's reachability
			name := v.name
			return v, tea.Batch(func() tea.Msg { return fakeLoaded{name} }, ui.Status(now, nil))
		case "w": // a live channel opens
			return v, func() tea.Msg { return fakeLive{&released} }
		case "Q": // a command of bubbletea's own
			return v, tea.Quit
		}
		if msg.String() == "/" {
			v.capturing = true
		}
		if msg.String() == "enter" {
			v.capturing = false
		}
	default:
		v.other = append(v.other, msg)
	}
	return v, nil
}
func (v *fakeView) Render(w, h int) string {
	return fmt.Sprintf("%s view %dx%d keys=%s", v.name, w, h, strings.Join(v.keys, ","))
}
func (v *fakeView) Keys() []key.Binding {
	return []key.Binding{ui.KeyOpen, key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "delete thing"))}
}
func (v *fakeView) Capturing() bool { return v.capturing }

type harness struct {
	m     *tui.Model
	views []*fakeView
	clock time.Time
	inits int
}

func newHarness(t *testing.T, opts tui.Options) *harness {
	t.Helper()
	h := &harness{clock: now}
	for _, n := range []string{"Alpha", "Beta", "Gamma"} {
		opts.Views = append(opts.Views, func(*ui.Env) ui.View {
			v := &fakeView{name: n, inits: &h.inits}
			h.views = append(h.views, v)
			return v
		})
	}
	opts.NoColor = true
	opts.Now = func() time.Time { return h.clock }
	opts.RefreshEvery = 5 * time.Second
	if opts.BrokerURL == "" {
		opts.BrokerURL = "http://broker:3000"
	}
	h.m = tui.New(t.Context(), opts)
	h.m.Init()
	h.send(tea.WindowSizeMsg{Width: 80, Height: 24})
	return h
}

func (h *harness) send(msg tea.Msg) tea.Cmd {
	_, cmd := h.m.Update(msg)
	return cmd
}

func (h *harness) screen() string { return ui.Plain(h.m.Render()) }

func TestTabsAndKeys(t *testing.T) {
	h := newHarness(t, tui.Options{ContextName: "prod"})
	if h.inits != 3 {
		t.Fatalf("%d views initialised at start, want 3", h.inits)
	}
	golden.RequireEqual(t, h.screen())
	h.send(viewtest.Key("tab"))
	if h.m.Active().Title() != "Beta" {
		t.Fatalf("tab: active %s", h.m.Active().Title())
	}
	h.send(viewtest.Key("shift+tab"))
	h.send(viewtest.Key("shift+tab"))
	if h.m.Active().Title() != "Gamma" {
		t.Fatalf("shift+tab wraps: active %s", h.m.Active().Title())
	}
	h.send(viewtest.Key("1"))
	h.send(viewtest.Key("x"))
	if h.m.Active().Title() != "Alpha" || strings.Join(h.views[0].keys, ",") != "x" {
		t.Fatalf("view keys %v", h.views[0].keys)
	}
	h.send(viewtest.Key("9")) // no ninth view: nothing happens
	if h.m.Active().Title() != "Alpha" {
		t.Fatal("9 switched views")
	}
	// Switching tabs tells every view which one is on screen.
	if got := fmt.Sprint(h.views[0].other); got != "[{Beta} {Alpha} {Gamma} {Alpha}]" {
		t.Fatalf("activations seen by Alpha: %s", got)
	}
	// Non-key messages reach every view.
	h.send(fakeLoaded{"x"})
	for _, v := range h.views {
		if last := v.other[len(v.other)-1]; last != (fakeLoaded{"x"}) {
			t.Fatalf("%s got %v", v.name, v.other)
		}
	}
}

func TestCapturingViewGetsGlobalKeys(t *testing.T) {
	h := newHarness(t, tui.Options{})
	h.send(viewtest.Key("/"))
	for _, k := range []string{"q", "?", "tab", "2", "c"} {
		if cmd := h.send(viewtest.Key(k)); cmd != nil {
			if _, quit := cmd().(tea.QuitMsg); quit {
				t.Fatalf("%s quit while the view was capturing", k)
			}
		}
	}
	if h.m.Active().Title() != "Alpha" || strings.Join(h.views[0].keys, ",") != "/,q,?,tab,2,c" {
		t.Fatalf("active %s, view keys %v", h.m.Active().Title(), h.views[0].keys)
	}
	h.send(viewtest.Key("enter"))
	cmd := h.send(viewtest.Key("q"))
	if cmd == nil {
		t.Fatal("q did not quit")
	}
	if _, quit := cmd().(tea.QuitMsg); !quit {
		t.Fatal("q did not quit")
	}
}

func TestHelpOverlay(t *testing.T) {
	h := newHarness(t, tui.Options{Contexts: []string{"a"}, SwitchContext: func(string) (*client.Client, error) { return nil, nil }})
	h.send(viewtest.Key("?"))
	golden.RequireEqual(t, h.screen())
	h.send(viewtest.Key("x")) // swallowed by the overlay
	h.send(viewtest.Key("esc"))
	if len(h.views[0].keys) != 0 || strings.Contains(h.screen(), "Everywhere") {
		t.Fatalf("after esc: keys %v\n%s", h.views[0].keys, h.screen())
	}
}

func TestConfirmation(t *testing.T) {
	h := newHarness(t, tui.Options{})
	cmd := h.send(viewtest.Key("d"))
	h.send(cmd()) // the view asks for confirmation
	if !strings.Contains(h.screen(), "Delete thing? [y/N]") {
		t.Fatalf("no prompt:\n%s", h.screen())
	}
	if cmd := h.send(viewtest.Key("n")); cmd != nil {
		t.Fatal("n ran the action")
	}
	if !strings.Contains(h.screen(), "cancelled") {
		t.Fatalf("no cancel note:\n%s", h.screen())
	}
	h.send(cmd())
	cmd = h.send(viewtest.Key("y"))
	if cmd == nil {
		t.Fatal("y did not run the action")
	}
	// The action's answer goes to the view that asked.
	h.send(cmd())
	if got := h.views[0].other; len(got) == 0 || got[len(got)-1] != (fakeLoaded{"deleted"}) {
		t.Fatalf("y did not run the action: the view got %v", got)
	}
}

func TestStatusLine(t *testing.T) {
	h := newHarness(t, tui.Options{ContextName: "prod"})
	line := func() string {
		lines := strings.Split(h.screen(), "\n")
		return strings.TrimSpace(lines[len(lines)-2])
	}
	if !strings.HasSuffix(line(), "loading…") {
		t.Fatalf("before data: %q", line())
	}
	h.send(ui.StatusMsg{At: now})
	h.clock = now.Add(3 * time.Second)
	if !strings.HasSuffix(line(), "live · updated 3s ago") {
		t.Fatalf("live: %q", line())
	}
	h.clock = now.Add(40 * time.Second)
	if !strings.HasSuffix(line(), "stale: updated 40s ago") {
		t.Fatalf("stale: %q", line())
	}
	h.send(ui.StatusMsg{At: h.clock, Err: errors.New("dial tcp: connection refused\nmore")})
	if !strings.HasSuffix(line(), "broker unreachable: dial tcp: connection refu…") {
		t.Fatalf("unreachable at 80 columns: %q", line())
	}
	h.send(tea.WindowSizeMsg{Width: 120, Height: 24})
	if !strings.HasSuffix(line(), "broker unreachable: dial tcp: connection refused · data from 40s ago") {
		t.Fatalf("unreachable at 120 columns: %q", line())
	}
	h.send(ui.FlashMsg{Text: "agent paused"})
	if !strings.HasSuffix(line(), "agent paused") {
		t.Fatalf("flash: %q", line())
	}
	h.clock = h.clock.Add(6 * time.Second)
	if strings.Contains(line(), "agent paused") {
		t.Fatalf("flash did not expire: %q", line())
	}
	if !strings.HasPrefix(line(), "context prod · http://broker:3000") {
		t.Fatalf("left side: %q", line())
	}
}

func TestContextSwitch(t *testing.T) {
	var asked []string
	fail := true
	h := newHarness(t, tui.Options{ContextName: "dev", Contexts: []string{"dev", "prod"},
		SwitchContext: func(name string) (*client.Client, error) {
			asked = append(asked, name)
			if fail {
				return nil, errors.New("no PAK")
			}
			return client.New("http://prod:3000")
		}})
	h.send(viewtest.Key("c"))
	golden.RequireEqual(t, h.screen())
	h.send(viewtest.Key("j"))
	cmd := h.send(viewtest.Key("enter"))
	h.send(cmd())
	if !strings.Contains(h.screen(), "context prod: no PAK") || h.inits != 3 {
		t.Fatalf("failed switch:\n%s", h.screen())
	}
	fail = false
	h.send(viewtest.Key("c"))
	h.send(viewtest.Key("j"))
	cmd = h.send(viewtest.Key("enter"))
	h.send(cmd())
	if h.inits != 6 || !strings.Contains(h.screen(), "switched to context prod") || !strings.Contains(h.screen(), "context prod ·") {
		t.Fatalf("switch: %d inits\n%s", h.inits, h.screen())
	}
	if strings.Join(asked, ",") != "prod,prod" {
		t.Fatalf("asked %v", asked)
	}
}

func TestSizes(t *testing.T) {
	h := newHarness(t, tui.Options{})
	for _, sz := range [][2]int{{80, 24}, {120, 40}, {20, 5}, {1, 1}, {0, 0}} {
		h.send(tea.WindowSizeMsg{Width: sz[0], Height: sz[1]})
		out := h.screen()
		lines := strings.Split(out, "\n")
		wantH := max(sz[1], 5)
		if len(lines) != wantH {
			t.Errorf("%v: %d lines, want %d", sz, len(lines), wantH)
		}
	}
}

// TestNarrowTabBar: when the titles of every view do not fit, the tab bar keeps the current
// view's title and only the numbers of the others, so every view stays reachable at a glance.
func TestNarrowTabBar(t *testing.T) {
	h := newHarness(t, tui.Options{})
	h.send(tea.WindowSizeMsg{Width: 24, Height: 10})
	h.send(viewtest.Key("2"))
	top := strings.TrimRight(strings.Split(h.screen(), "\n")[0], " ")
	if top != "brokkr 1 2 Beta 3" {
		t.Fatalf("tab bar at 24 columns: %q", top)
	}
	h.send(tea.WindowSizeMsg{Width: 80, Height: 10})
	if top := strings.TrimRight(strings.Split(h.screen(), "\n")[0], " "); top != "brokkr 1 Alpha 2 Beta 3 Gamma" {
		t.Fatalf("tab bar at 80 columns: %q", top)
	}
}
