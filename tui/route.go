package tui

import (
	"reflect"

	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/tui/ui"
)

// routed is an answer of a view's command on its way back to that view: the view at slot
// among the views of generation (switching context makes new views).
type routed struct {
	slot, generation int
	msg              tea.Msg
}

// Unwrap returns the answer itself.
func (r routed) Unwrap() tea.Msg { return r.msg }

// teaPackage is bubbletea's package: its messages (quit, batches, sequences, terminal
// requests) are for the program, which acts on them itself.
var teaPackage = reflect.TypeFor[tea.BatchMsg]().PkgPath()

// route makes the answers of cmd, a command of the view at slot, come back to that view
// only. The messages for the root (status, flash, confirmation) stay as they are; a
// confirmed action answers the view too.
func route(slot, generation int, cmd tea.Cmd) tea.Cmd {
	if cmd == nil {
		return nil
	}
	return func() tea.Msg { return routeMsg(slot, generation, cmd()) }
}

func routeMsg(slot, generation int, msg tea.Msg) tea.Msg {
	switch msg := msg.(type) {
	case nil:
		return nil
	case tea.BatchMsg:
		out := make(tea.BatchMsg, len(msg))
		for i, c := range msg {
			out[i] = route(slot, generation, c)
		}
		return out
	case ui.StatusMsg, ui.FlashMsg:
		return msg
	case ui.ConfirmMsg:
		msg.On = route(slot, generation, msg.On)
		return msg
	}
	if reflect.TypeOf(msg).PkgPath() == teaPackage {
		return msg
	}
	return routed{slot: slot, generation: generation, msg: msg}
}

// deliver hands an answer to the view that asked for it. When that view was replaced, no
// view takes the answer, and what it holds is let go.
func (m *Model) deliver(r routed) tea.Cmd {
	if r.generation != m.generation || r.slot >= len(m.views) {
		if rel, ok := r.msg.(ui.Releaser); ok {
			return func() tea.Msg {
				rel.Release()
				return nil
			}
		}
		return nil
	}
	return m.update(r.slot, r.msg)
}

// update hands msg to the view at slot; the answers of the commands it starts come back to
// it alone.
func (m *Model) update(slot int, msg tea.Msg) tea.Cmd {
	nv, cmd := m.views[slot].Update(msg)
	m.views[slot] = nv
	return route(slot, m.generation, cmd)
}

// broadcast hands msg to every view.
func (m *Model) broadcast(msg tea.Msg) tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.views))
	for i := range m.views {
		cmds = append(cmds, m.update(i, msg))
	}
	return tea.Batch(cmds...)
}

// initViews starts every view's first load.
func (m *Model) initViews() tea.Cmd {
	cmds := make([]tea.Cmd, 0, len(m.views))
	for i, v := range m.views {
		cmds = append(cmds, route(i, m.generation, v.Init()))
	}
	return tea.Batch(cmds...)
}
