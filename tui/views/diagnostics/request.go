package diagnostics

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// request asks the agent for diagnostics of the object and starts waiting.
func (m *Model) request(a client.Agent, o object) tea.Cmd {
	m.wait++
	m.cur = &entry{agent: a, object: o}
	m.screen, m.creating, m.waitErr, m.final = screenWaiting, true, nil, false
	m.spin = m.newSpinner()
	return tea.Batch(m.create(m.wait, a.ID, o.obj.ID), m.spin.Tick)
}

// newSpinner returns the waiting screen's spinner: braille dots, one cell wide.
func (m *Model) newSpinner() spinner.Model {
	frames := make([]string, len(spinner.Dot.Frames))
	for i, f := range spinner.Dot.Frames {
		frames[i] = strings.TrimSpace(f)
	}
	return spinner.New(spinner.WithSpinner(spinner.Spinner{Frames: frames, FPS: spinner.Dot.FPS}), spinner.WithStyle(m.env.Styles.Key))
}

func (m *Model) requested(msg RequestedMsg) tea.Cmd {
	st := ui.Status(msg.At, ui.Unreachable(msg.Err))
	if msg.Wait != m.wait || m.cur == nil {
		if msg.Err == nil {
			// Abandoned before the broker answered: the request still exists.
			m.remember(&entry{req: msg.Request, agent: m.agentByID(msg.Request.AgentID), object: m.objectByID(msg.Request.DeploymentObjectID)})
		}
		return st
	}
	if msg.Err != nil {
		m.waitErr = msg.Err
		return tea.Batch(st, ui.Flash("request diagnostics: "+ui.ErrText(msg.Err), true))
	}
	m.creating = false
	m.cur.req = msg.Request
	m.remember(m.cur)
	return tea.Batch(st, m.schedulePoll())
}

func (m *Model) schedulePoll() tea.Cmd {
	wait := m.wait
	return tea.Tick(m.pollEvery, func(time.Time) tea.Msg { return PollMsg{Wait: wait} })
}

func (m *Model) polled(msg PolledMsg) tea.Cmd {
	st := ui.Status(msg.At, ui.Unreachable(msg.Err))
	if msg.Err == nil {
		// Keep the session's list up to date, whichever screen is shown.
		for _, e := range m.history {
			if e.req.ID == msg.Response.Request.ID {
				e.req = msg.Response.Request
			}
		}
	}
	if msg.Wait != m.wait || m.cur == nil || m.screen != screenWaiting {
		return st
	}
	if msg.Err != nil {
		m.waitErr = msg.Err
		if client.IsNotFound(msg.Err) {
			m.final = true // removed by the broker's cleanup
			return st
		}
		return tea.Batch(st, m.schedulePoll())
	}
	m.waitErr = nil
	resp := msg.Response
	m.cur.req = resp.Request
	if resp.Result != nil {
		r := parseResult(*resp.Result)
		m.cur.result = &r
		m.showResult()
		return st
	}
	switch {
	case resp.Request.Status == client.DiagnosticFailed || resp.Request.Status == client.DiagnosticExpired:
		m.final = true
		return st
	case resp.Request.Status == client.DiagnosticPending && m.env.Now().After(resp.Request.ExpiresAt):
		// No agent hands out an expired request; the broker marks it later.
		m.final = true
		return st
	}
	return tea.Batch(st, m.schedulePoll())
}

func (m *Model) showResult() {
	m.screen, m.final, m.creating = screenResult, false, false
	m.tab, m.scroll = tabPods, [tabs]int{}
}

func (m *Model) waitingKey(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, ui.KeyBack):
		m.wait++ // drop the answers still on their way
		m.screen = screenObjects
		if m.cur != nil && m.cur.agent.ID != m.agent.ID {
			m.screen = screenAgents
		}
		return m.reload()
	case key.Matches(k, keyAgain) && (m.final || (m.creating && m.waitErr != nil)):
		return m.request(m.cur.agent, m.cur.object)
	}
	return nil
}

func (m *Model) resultKey(k tea.KeyPressMsg) tea.Cmd {
	if off, ok := ui.ScrollKey(k, m.scroll[m.tab], max(m.height-4, 1), len(m.tabLines(m.tab, m.width))); ok {
		m.scroll[m.tab] = off
		m.clampScroll()
		return nil
	}
	switch {
	case key.Matches(k, keyPods):
		m.tab = tabPods
	case key.Matches(k, keyEvents):
		m.tab = tabEvents
	case key.Matches(k, keyLogs):
		m.tab = tabLogs
	case key.Matches(k, keyAgain):
		return m.request(m.cur.agent, m.cur.object)
	case key.Matches(k, ui.KeyBack):
		m.screen = screenObjects
		if m.cur != nil && m.cur.agent.ID != m.agent.ID {
			m.screen = screenAgents
		}
		return m.reload()
	default:
		return nil
	}
	m.clampScroll()
	return nil
}

// clampScroll keeps the tab's offset between the top and the last full page.
func (m *Model) clampScroll() {
	n := len(m.tabLines(m.tab, m.width))
	m.scroll[m.tab] = max(min(m.scroll[m.tab], n-m.resultBodyHeight(m.height)), 0)
}
