package diagnostics

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// remember adds a request to the session's list (once).
func (m *Model) remember(e *entry) {
	for _, h := range m.history {
		if h.req.ID == e.req.ID {
			return
		}
	}
	m.history = append([]*entry{e}, m.history...)
}

func (m *Model) openHistory() tea.Cmd {
	m.back, m.screen = m.screen, screenHistory
	m.hist.Clamp(len(m.visibleHistory()))
	return nil
}

// visibleHistory returns the session's requests that match the filter.
func (m *Model) visibleHistory() []*entry {
	return ui.Matching(&m.hist, m.history, func(e *entry) []string {
		return []string{e.req.ID.String(), e.agent.Name, e.label(), e.req.Status}
	})
}

func (m *Model) historyKey(k tea.KeyPressMsg) tea.Cmd {
	rows := m.visibleHistory()
	m.hist.SetPage(max(m.height-3, 1))
	if used, cmd := m.hist.Update(k, len(rows)); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		e, ok := ui.Selected(&m.hist, rows)
		if !ok {
			return nil
		}
		m.wait++
		m.cur = e
		if e.result != nil {
			m.showResult()
			return nil
		}
		m.screen, m.creating, m.waitErr, m.final = screenWaiting, false, nil, false
		m.spin = m.newSpinner()
		return tea.Batch(m.poll(), m.spin.Tick)
	case key.Matches(k, ui.KeyBack):
		m.screen = m.back
		return m.reload()
	}
	return nil
}

func (m *Model) agentByID(id uuid.UUID) client.Agent {
	for _, a := range m.agents {
		if a.ID == id {
			return a
		}
	}
	return client.Agent{ID: id, Name: ui.ShortID(id)}
}

func (m *Model) objectByID(id uuid.UUID) object {
	for _, o := range m.objects {
		if o.obj.ID == id {
			return o
		}
	}
	return object{obj: client.DeploymentObject{ID: id}, stack: "-"}
}
