// Package agents is the Agents tab of brokkrctl tui: every agent of the fleet with its
// status, heartbeat, Kubernetes reachability and labels; a detail page per agent (labels,
// annotations, targets, registrations, associated stacks, recent events, health); and the
// operator's actions on an agent: pause/resume and label edits.
package agents

import (
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Agent statuses the pause/resume action switches between.
const (
	StatusActive   = "ACTIVE"
	StatusInactive = "INACTIVE"
)

// View-specific key bindings.
var (
	keyPause  = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause/resume"))
	keyLabels = key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "edit labels"))
	keyApply  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply"))
)

type mode int

const (
	modeList mode = iota
	modeDetail
)

// Model is the Agents view. Build it with New.
type Model struct {
	env *ui.Env

	// The list.
	list     ui.List
	agents   []client.Agent         // sorted by name, then cluster
	labels   map[uuid.UUID][]string // sorted labels by agent
	states   map[uuid.UUID][]StackState
	loaded   bool
	listErr  error
	listReqs ui.Requests

	// The detail page.
	mode       mode
	current    client.Agent // the agent whose detail is open (from the list until loaded)
	detail     *Detail
	detailErr  error
	detailReqs ui.Requests
	scroll     int
	height     int // height of the last render, for paging

	// The label editor.
	editing bool
	input   textinput.Model
	editFor client.Agent
}

// New returns the Agents view.
func New(env *ui.Env) ui.View {
	return &Model{env: env, labels: map[uuid.UUID][]string{}, height: 20}
}

// Title implements ui.View.
func (m *Model) Title() string { return "Agents" }

// Init loads the agents and starts polling.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.loadList(), m.env.Tick(TickMsg{})) }

// Capturing reports that the filter or the label editor is taking keys.
func (m *Model) Capturing() bool { return m.editing || m.list.Editing() }

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	switch {
	case m.editing:
		return []key.Binding{keyApply, ui.KeyCancel}
	case m.mode == modeDetail:
		return []key.Binding{ui.KeyScroll, ui.KeyPage, ui.KeyBack, keyPause, keyLabels, ui.KeyRefresh}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyOpen, ui.KeyFilter, keyPause, keyLabels, ui.KeyRefresh}
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		m.applyList(msg)
		return m, ui.Status(msg.At, msg.Err)
	case DetailMsg:
		m.applyDetail(msg)
		return m, ui.Status(msg.At, msg.Err)
	case ActionMsg:
		text := msg.Text
		if msg.Err != nil {
			text += ": " + ui.ErrText(msg.Err)
		}
		// A refusal of an action (a 404 label, a 409 duplicate) shows in the flash, not as an
		// unreachable broker.
		return m, tea.Batch(ui.Flash(text, msg.Err != nil), ui.Status(msg.At, ui.Unreachable(msg.Err)), m.reload())
	case TickMsg:
		return m, m.env.Poll(m.Title(), m.reload, TickMsg{})
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.reload()
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	// Other messages (cursor blinks) belong to whichever input is open.
	if m.editing {
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return m, cmd
	}
	if m.list.Editing() {
		_, cmd := m.list.Update(msg, len(m.visible()))
		return m, cmd
	}
	return m, nil
}

// reload asks for the list again, and for the detail when it is open.
func (m *Model) reload() tea.Cmd {
	if m.mode == modeDetail {
		return tea.Batch(m.loadList(), m.loadDetail(m.current.ID))
	}
	return m.loadList()
}

// applyList takes a list answer, keeping the cursor on the agent it was on.
func (m *Model) applyList(msg LoadedMsg) {
	if !m.listReqs.Take(msg.Gen) {
		return // an older request answered late
	}
	m.listErr = msg.Err
	if msg.Err != nil && msg.Agents == nil {
		return // keep the last data
	}
	selected, hadSel := m.selected()
	agents := slices.Clone(msg.Agents)
	slices.SortStableFunc(agents, ui.CompareAgents)
	labels := make(map[uuid.UUID][]string, len(agents))
	for _, a := range agents {
		l, ok := msg.Labels[a.ID]
		if !ok {
			l = m.labels[a.ID] // its labels could not be read this time
		}
		l = slices.Clone(l)
		slices.Sort(l)
		labels[a.ID] = l
	}
	m.agents, m.labels, m.loaded = agents, labels, true
	if msg.States != nil {
		m.states = msg.States
	}
	rows := m.visible()
	if hadSel {
		for i, a := range rows {
			if a.ID == selected.ID {
				m.list.Cursor = i
			}
		}
	}
	m.list.Clamp(len(rows))
	if m.mode == modeDetail && m.detail == nil {
		for _, a := range agents {
			if a.ID == m.current.ID {
				m.current = a
			}
		}
	}
}

func (m *Model) applyDetail(msg DetailMsg) {
	if msg.AgentID != m.current.ID || !m.detailReqs.Take(msg.Gen) {
		return
	}
	m.detailErr = msg.Err
	if msg.Detail == nil {
		return // keep the last data
	}
	d := *msg.Detail
	d.Labels, d.Events = slices.Clone(d.Labels), slices.Clone(d.Events)
	slices.Sort(d.Labels)
	slices.SortStableFunc(d.Events, func(a, b client.AgentEvent) int { return b.CreatedAt.Compare(a.CreatedAt) })
	m.detail = &d
	if d.Agent.ID == m.current.ID {
		m.current = d.Agent
	}
}

// visible returns the agents that match the filter, in display order.
func (m *Model) visible() []client.Agent {
	return ui.Matching(&m.list, m.agents, func(a client.Agent) []string {
		return append([]string{a.Name, a.ClusterName, a.Status}, m.labels[a.ID]...)
	})
}

// selected returns the agent under the cursor of the list.
func (m *Model) selected() (client.Agent, bool) { return ui.Selected(&m.list, m.visible()) }

// target returns the agent actions apply to: the open one on the detail page, the selected
// one on the list.
func (m *Model) target() (client.Agent, bool) {
	if m.mode == modeDetail {
		return m.current, m.current.ID != uuid.Nil
	}
	return m.selected()
}

// currentLabels returns the labels known for an agent.
func (m *Model) currentLabels(id uuid.UUID) []string {
	if m.detail != nil && m.detail.Agent.ID == id {
		return m.detail.Labels
	}
	return m.labels[id]
}

func (m *Model) key(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	if m.editing {
		return m.editKey(k)
	}
	if m.mode == modeDetail {
		return m.detailKey(k)
	}
	rows := m.visible()
	if used, cmd := m.list.Update(k, len(rows)); used {
		return m, cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		a, ok := m.selected()
		if !ok {
			return m, nil
		}
		m.mode, m.scroll, m.detailErr = modeDetail, 0, nil
		if m.detail != nil && m.detail.Agent.ID != a.ID {
			m.detail = nil
		}
		m.current = a
		return m, m.loadDetail(a.ID)
	case key.Matches(k, ui.KeyRefresh):
		return m, m.loadList()
	}
	return m.actionKey(k)
}

func (m *Model) detailKey(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	if off, ok := ui.ScrollKey(k, m.scroll, max(m.height-2, 1), len(m.detailLines())); ok {
		m.scroll = off
		m.clampScroll()
		return m, nil
	}
	switch {
	case key.Matches(k, ui.KeyBack):
		m.mode = modeList
		return m, nil
	case key.Matches(k, ui.KeyRefresh):
		return m, m.reload()
	}
	return m.actionKey(k)
}

// clampScroll keeps the detail page's offset between the top and the last full page.
func (m *Model) clampScroll() {
	m.scroll = min(m.scroll, max(len(m.detailLines())-m.bodyHeight(m.height), 0))
	m.scroll = max(m.scroll, 0)
}

// actionKey handles the keys that act on the selected agent, on the list and the detail.
func (m *Model) actionKey(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	a, ok := m.target()
	if !ok {
		return m, nil
	}
	switch {
	case key.Matches(k, keyPause):
		return m, m.confirmToggle(a)
	case key.Matches(k, keyLabels):
		return m, m.openEditor(a)
	}
	return m, nil
}

// confirmToggle asks before pausing an active agent or resuming any other.
func (m *Model) confirmToggle(a client.Agent) tea.Cmd {
	verb, to := "Pause", StatusInactive
	if a.Status != StatusActive {
		verb, to = "Resume", StatusActive
	}
	prompt := verb + " agent " + agentName(a) + " (status " + to + ")?"
	return ui.Confirm(prompt, m.setStatus(a, to))
}

func (m *Model) openEditor(a client.Agent) tea.Cmd {
	m.editing, m.editFor = true, a
	m.input = textinput.New()
	m.input.Prompt = "labels> "
	return m.input.Focus()
}

func (m *Model) editKey(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	switch k.String() {
	case "esc":
		m.editing = false
		m.input.Blur()
		return m, nil
	case "enter":
		add, remove, err := parseLabelEdits(m.input.Value())
		if err != nil {
			return m, ui.Flash(err.Error(), true)
		}
		a := m.editFor
		add, remove, skipped := dropNoOps(m.currentLabels(a.ID), add, remove)
		m.editing = false
		m.input.Blur()
		if len(add) == 0 && len(remove) == 0 {
			text := "no label changes"
			if len(skipped) > 0 {
				text += " (" + strings.Join(skipped, "; ") + ")"
			}
			return m, ui.Flash(text, false)
		}
		apply := m.editLabels(a, add, remove)
		if len(remove) == 0 {
			return m, apply
		}
		prompt := "Remove label " + strings.Join(remove, ", ") + " from agent " + agentName(a)
		if len(remove) > 1 {
			prompt = "Remove labels " + strings.Join(remove, ", ") + " from agent " + agentName(a)
		}
		if len(add) > 0 {
			prompt += " and add " + strings.Join(add, ", ")
		}
		return m, ui.Confirm(prompt+"?", apply)
	}
	var cmd tea.Cmd
	m.input, cmd = m.input.Update(k)
	return m, cmd
}

func agentName(a client.Agent) string {
	if a.ClusterName == "" {
		return a.Name
	}
	return a.Name + "/" + a.ClusterName
}
