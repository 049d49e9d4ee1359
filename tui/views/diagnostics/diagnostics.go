// Package diagnostics is the Diagnostics tab of brokkrctl tui: pick an agent, pick one of the
// deployment objects it runs (the latest object of each stack associated with it), ask the
// agent to collect diagnostics about it, wait while the agent answers, and read what it
// collected: pod statuses, namespace events and log tails. The requests made in the
// session stay listed, so their results can be read again.
package diagnostics

import (
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// pollEvery is how often a waiting view asks the broker for the result.
const pollEvery = time.Second

// requestedBy is what the requests of the dashboard say about who asked.
const requestedBy = "brokkrctl tui"

// View-specific key bindings.
var (
	keyChoose  = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose agent"))
	keyRequest = key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "request diagnostics"))
	keyHistory = key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "requests of this session"))
	keyAgain   = key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "request again"))
	keyAbandon = key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "stop waiting"))
	keyPods    = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pods"))
	keyEvents  = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "events"))
	keyLogs    = key.NewBinding(key.WithKeys("l"), key.WithHelp("l", "logs"))
)

type screen int

const (
	screenAgents screen = iota
	screenObjects
	screenWaiting
	screenResult
	screenHistory
)

// AgentsMsg carries the agents to pick from.
type AgentsMsg struct {
	Gen    uint64
	At     time.Time
	Agents []client.Agent
	Err    error
}

// ObjectsMsg carries an agent's deployment objects (the latest of each associated stack)
// and its stacks, for their names.
type ObjectsMsg struct {
	Gen     uint64
	At      time.Time
	AgentID uuid.UUID
	Objects []client.DeploymentObject
	Stacks  []client.Stack
	Err     error
}

// RequestedMsg is the outcome of asking for diagnostics; Wait is the waiting screen it
// belongs to.
type RequestedMsg struct {
	Wait    uint64
	At      time.Time
	Request client.DiagnosticRequest
	Err     error
}

// PolledMsg carries a diagnostic request and its result, if any, as the broker has them.
type PolledMsg struct {
	Wait     uint64
	At       time.Time
	Response client.DiagnosticResponse
	Err      error
}

// PollMsg makes a waiting view ask for the result again.
type PollMsg struct {
	Wait uint64
}

// TickMsg makes the view refresh the list on screen.
type TickMsg struct{}

// object is a deployment object as the objects screen lists it.
type object struct {
	obj     client.DeploymentObject
	stack   string // the stack's name, or its short id
	content string // what the YAML holds, e.g. "Deployment/web, Service/web"
}

// entry is a diagnostic request of this session.
type entry struct {
	agent  client.Agent
	object object
	req    client.DiagnosticRequest
	result *result // parsed once it arrived
}

// Model is the Diagnostics view. Build it with New.
type Model struct {
	env       *ui.Env
	screen    screen
	pollEvery time.Duration

	// Agents.
	agentList  ui.List
	agents     []client.Agent
	agentsOK   bool
	agentsErr  error
	agentsReqs ui.Requests

	// The chosen agent's objects.
	agent      client.Agent
	objList    ui.List
	objects    []object
	objectsOK  bool
	objectsErr error
	objReqs    ui.Requests

	// The request being waited for or read.
	cur      *entry
	wait     uint64 // numbers the waits; answers of an abandoned wait are dropped
	creating bool   // the request is being created
	waitErr  error  // the last poll or the creation failed
	final    bool   // the request failed or expired: polling stopped
	spin     spinner.Model

	// The result.
	tab    tab
	scroll [tabs]int

	// The session's requests, newest first.
	history []*entry
	hist    ui.List
	back    screen // where esc leaves the history for

	width, height int // size of the last render, for paging
}

// New returns the Diagnostics view.
func New(env *ui.Env) ui.View {
	return &Model{env: env, pollEvery: pollEvery, width: 80, height: 20}
}

// Title implements ui.View.
func (m *Model) Title() string { return "Diagnostics" }

// Init loads the agents and starts polling.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.loadAgents(), m.env.Tick(TickMsg{})) }

// Capturing reports that a filter is being typed.
func (m *Model) Capturing() bool {
	return m.agentList.Editing() || m.objList.Editing() || m.hist.Editing()
}

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	switch m.screen {
	case screenObjects:
		return []key.Binding{ui.KeyUp, ui.KeyDown, keyRequest, ui.KeyFilter, ui.KeyBack, keyHistory, ui.KeyRefresh}
	case screenWaiting:
		if m.final || (m.waitErr != nil && m.creating) {
			return []key.Binding{keyAgain, ui.KeyBack}
		}
		return []key.Binding{keyAbandon}
	case screenResult:
		return []key.Binding{keyPods, keyEvents, keyLogs, ui.KeyScroll, ui.KeyPage, keyAgain, ui.KeyBack}
	case screenHistory:
		return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyOpen, ui.KeyFilter, ui.KeyBack}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, keyChoose, ui.KeyFilter, keyHistory, ui.KeyRefresh}
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case AgentsMsg:
		m.applyAgents(msg)
		return m, ui.Status(msg.At, msg.Err)
	case ObjectsMsg:
		m.applyObjects(msg)
		return m, ui.Status(msg.At, ui.Unreachable(msg.Err))
	case RequestedMsg:
		return m, m.requested(msg)
	case PolledMsg:
		return m, m.polled(msg)
	case PollMsg:
		if msg.Wait != m.wait || m.screen != screenWaiting || m.cur == nil || m.final {
			return m, nil
		}
		return m, m.poll()
	case TickMsg:
		return m, m.env.Poll(m.Title(), m.reload, TickMsg{})
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.reload()
	case spinner.TickMsg:
		if m.screen != screenWaiting || m.final {
			return m, nil // the spinner stops
		}
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return m, cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	// Other messages (cursor blinks) belong to the filter being typed.
	if m.agentList.Editing() {
		_, cmd := m.agentList.Update(msg, len(m.visibleAgents()))
		return m, cmd
	}
	if m.objList.Editing() {
		_, cmd := m.objList.Update(msg, len(m.visibleObjects()))
		return m, cmd
	}
	if m.hist.Editing() {
		_, cmd := m.hist.Update(msg, len(m.visibleHistory()))
		return m, cmd
	}
	return m, nil
}

// reload refreshes the list on screen; the waiting screen polls on its own.
func (m *Model) reload() tea.Cmd {
	switch m.screen {
	case screenAgents:
		return m.loadAgents()
	case screenObjects:
		return m.loadObjects(m.agent.ID)
	}
	return nil
}

func (m *Model) applyAgents(msg AgentsMsg) {
	if !m.agentsReqs.Take(msg.Gen) {
		return
	}
	m.agentsErr = msg.Err
	if msg.Err != nil && msg.Agents == nil {
		return // keep the last data
	}
	sel, hadSel := m.selectedAgent()
	agents := slices.Clone(msg.Agents)
	slices.SortStableFunc(agents, ui.CompareAgents)
	m.agents, m.agentsOK = agents, true
	rows := m.visibleAgents()
	if hadSel {
		for i, a := range rows {
			if a.ID == sel.ID {
				m.agentList.Cursor = i
			}
		}
	}
	m.agentList.Clamp(len(rows))
	for _, a := range agents {
		if a.ID == m.agent.ID {
			m.agent = a // its status may have changed
		}
	}
}

func (m *Model) applyObjects(msg ObjectsMsg) {
	if msg.AgentID != m.agent.ID || !m.objReqs.Take(msg.Gen) {
		return
	}
	m.objectsErr = msg.Err
	if msg.Err != nil && msg.Objects == nil {
		return
	}
	sel, hadSel := m.selectedObject()
	names := make(map[uuid.UUID]string, len(msg.Stacks))
	for _, s := range msg.Stacks {
		names[s.ID] = s.Name
	}
	objs := make([]object, 0, len(msg.Objects))
	for _, o := range msg.Objects {
		name, ok := names[o.StackID]
		if !ok {
			name = ui.ShortID(o.StackID)
		}
		objs = append(objs, object{obj: o, stack: name, content: summarize(o)})
	}
	slices.SortStableFunc(objs, func(a, b object) int { return strings.Compare(a.stack, b.stack) })
	m.objects, m.objectsOK = objs, true
	rows := m.visibleObjects()
	if hadSel {
		for i, o := range rows {
			if o.obj.ID == sel.obj.ID {
				m.objList.Cursor = i
			}
		}
	}
	m.objList.Clamp(len(rows))
}

func (m *Model) visibleAgents() []client.Agent {
	return ui.Matching(&m.agentList, m.agents, func(a client.Agent) []string {
		return []string{a.Name, a.ClusterName, a.Status, a.ID.String()}
	})
}

func (m *Model) selectedAgent() (client.Agent, bool) {
	return ui.Selected(&m.agentList, m.visibleAgents())
}

func (m *Model) visibleObjects() []object {
	return ui.Matching(&m.objList, m.objects, func(o object) []string {
		return []string{o.stack, o.content, o.obj.ID.String()}
	})
}

func (m *Model) selectedObject() (object, bool) { return ui.Selected(&m.objList, m.visibleObjects()) }

func (m *Model) key(k tea.KeyPressMsg) (ui.View, tea.Cmd) {
	switch m.screen {
	case screenObjects:
		return m, m.objectsKey(k)
	case screenWaiting:
		return m, m.waitingKey(k)
	case screenResult:
		return m, m.resultKey(k)
	case screenHistory:
		return m, m.historyKey(k)
	}
	rows := m.visibleAgents()
	m.agentList.SetPage(max(m.height-3, 1))
	if used, cmd := m.agentList.Update(k, len(rows)); used {
		return m, cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		a, ok := m.selectedAgent()
		if !ok {
			return m, nil
		}
		if a.ID != m.agent.ID {
			m.objects, m.objectsOK, m.objList = nil, false, ui.List{}
		}
		m.agent, m.objectsErr, m.screen = a, nil, screenObjects
		return m, m.loadObjects(a.ID)
	case key.Matches(k, keyHistory):
		return m, m.openHistory()
	case key.Matches(k, ui.KeyRefresh):
		return m, m.loadAgents()
	}
	return m, nil
}

func (m *Model) objectsKey(k tea.KeyPressMsg) tea.Cmd {
	rows := m.visibleObjects()
	m.objList.SetPage(max(m.height-4, 1))
	if used, cmd := m.objList.Update(k, len(rows)); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		o, ok := m.selectedObject()
		if !ok {
			return nil
		}
		return m.request(m.agent, o)
	case key.Matches(k, ui.KeyBack):
		m.screen = screenAgents
		return m.loadAgents()
	case key.Matches(k, keyHistory):
		return m.openHistory()
	case key.Matches(k, ui.KeyRefresh):
		return m.loadObjects(m.agent.ID)
	}
	return nil
}
