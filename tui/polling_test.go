package tui_test

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/agents"
)

// TestOffScreenViewsDoNotPoll: a view's timer keeps running while another tab is on screen,
// but it makes no request until it is shown again.
func TestOffScreenViewsDoNotPoll(t *testing.T) {
	c, err := client.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	env := &ui.Env{Client: c, Now: time.Now, Styles: ui.NewStyles(true, true), RefreshEvery: time.Millisecond}
	v := agents.New(env)

	env.SetActive("Overview")
	_, cmd := v.Update(agents.TickMsg{})
	if msg := cmd(); msg != (agents.TickMsg{}) {
		t.Fatalf("off screen, a tick led to %T, want only the next tick", msg)
	}
	if _, cmd := v.Update(ui.ActivatedMsg{Title: "Stacks"}); cmd != nil {
		t.Fatal("another view's activation made the agents view load")
	}

	env.SetActive("Agents")
	_, cmd = v.Update(agents.TickMsg{})
	if _, ok := cmd().(tea.BatchMsg); !ok {
		t.Fatal("on screen, a tick does not load")
	}
	_, cmd = v.Update(ui.ActivatedMsg{Title: "Agents"})
	if cmd == nil {
		t.Fatal("coming on screen does not refresh")
	}
}
