// Package diagnostics is the Diagnostics tab of brokkrctl tui: pick an agent, pick one of the
// deployment objects it runs (the latest object of each stack associated with it), ask the
// agent to collect diagnostics about it, wait while the agent answers, and read what it
// collected: pod statuses, namespace events and log tails. The requests made in the
// session stay listed, so their results can be read again.
package diagnostics

import (
	"errors"
	"slices"
	"strings"
	"sync/atomic"
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
	keyScroll  = key.NewBinding(key.WithKeys("up", "k", "down", "j"), key.WithHelp("↑↓/jk", "scroll"))
	keyPage    = key.NewBinding(key.WithKeys("pgup", "pgdown"), key.WithHelp("pgup/pgdn", "page"))
)

// instances numbers the views, so a view takes only the answers to its own requests (views
// are recreated when the dashboard switches context).
var instances atomic.Uint64

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
	ViewID uint64
	Gen    uint64
	At     time.Time
	Agents []client.Agent
	Err    error
}

// ObjectsMsg carries an agent's deployment objects (the latest of each associated stack)
// and its stacks, for their names.
type ObjectsMsg struct {
	ViewID  uint64
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
	ViewID  uint64
	Wait    uint64
	At      time.Time
	Request client.DiagnosticRequest
	Err     error
}

// PolledMsg carries a diagnostic request and its result, if any, as the broker has them.
type PolledMsg struct {
	ViewID   uint64
	Wait     uint64
	At       time.Time
	Response client.DiagnosticResponse
	Err      error
}

// PollMsg makes a waiting view ask for the result again.
type PollMsg struct {
	ViewID uint64
	Wait   uint64
}

// TickMsg makes the view refresh the list on screen.
type TickMsg struct{ ViewID uint64 }

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
	id        uint64
	screen    screen
	pollEvery time.Duration

	// Agents.
	agentList  ui.List
	agents     []client.Agent
	agentsOK   bool
	agentsErr  error
	agentsGen  uint64
	agentsSeen uint64

	// The chosen agent's objects.
	agent      client.Agent
	objList    ui.List
	objects    []object
	objectsOK  bool
	objectsErr error
	objGen     uint64
	objSeen    uint64

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
	return &Model{env: env, id: instances.Add(1), pollEvery: pollEvery, width: 80, height: 20}
}

// ID identifies this view instance in its messages.
func (m *Model) ID() uint64 { return m.id }

// Title implements ui.View.
func (m *Model) Title() string { return "Diagnostics" }

// Init loads the agents and starts polling.
func (m *Model) Init() tea.Cmd { return tea.Batch(m.loadAgents(), m.tick()) }

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
		return []key.Binding{keyPods, keyEvents, keyLogs, keyScroll, keyPage, keyAgain, ui.KeyBack}
	case screenHistory:
		return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyOpen, ui.KeyFilter, ui.KeyBack}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, keyChoose, ui.KeyFilter, keyHistory, ui.KeyRefresh}
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case AgentsMsg:
		if msg.ViewID != m.id {
			return m, nil
		}
		m.applyAgents(msg)
		return m, status(msg.At, msg.Err)
	case ObjectsMsg:
		if msg.ViewID != m.id {
			return m, nil
		}
		m.applyObjects(msg)
		return m, status(msg.At, reachability(msg.Err))
	case RequestedMsg:
		if msg.ViewID != m.id {
			return m, nil
		}
		return m, m.requested(msg)
	case PolledMsg:
		if msg.ViewID != m.id {
			return m, nil
		}
		return m, m.polled(msg)
	case PollMsg:
		if msg.ViewID != m.id || msg.Wait != m.wait || m.screen != screenWaiting || m.cur == nil || m.final {
			return m, nil
		}
		return m, m.poll()
	case TickMsg:
		if msg.ViewID != m.id {
			return m, nil
		}
		if !m.env.Active(m.Title()) {
			return m, m.tick() // off screen: keep the timer, skip the requests
		}
		return m, tea.Batch(m.reload(), m.tick())
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

func (m *Model) tick() tea.Cmd {
	id := m.id
	return tea.Tick(m.env.RefreshEvery, func(time.Time) tea.Msg { return TickMsg{ViewID: id} })
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

func status(at time.Time, err error) tea.Cmd {
	return func() tea.Msg { return ui.StatusMsg{At: at, Err: err} }
}

// reachability keeps the errors that say something about reaching the broker: a refusal (a
// 404 object, a 400 request) shows in the view, not as an unreachable broker.
func reachability(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := client.AsError(err); ok {
		return nil
	}
	return err
}

func (m *Model) applyAgents(msg AgentsMsg) {
	if msg.Gen != 0 && msg.Gen <= m.agentsSeen {
		return
	}
	m.agentsSeen = max(m.agentsSeen, msg.Gen)
	m.agentsErr = msg.Err
	if msg.Err != nil && msg.Agents == nil {
		return // keep the last data
	}
	sel, hadSel := m.selectedAgent()
	agents := slices.Clone(msg.Agents)
	slices.SortStableFunc(agents, func(a, b client.Agent) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ClusterName, b.ClusterName)
	})
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
	if msg.AgentID != m.agent.ID || (msg.Gen != 0 && msg.Gen <= m.objSeen) {
		return
	}
	m.objSeen = max(m.objSeen, msg.Gen)
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
			name = short(o.StackID)
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
	out := make([]client.Agent, 0, len(m.agents))
	for _, a := range m.agents {
		if m.agentList.Match(a.Name, a.ClusterName, a.Status, a.ID.String()) {
			out = append(out, a)
		}
	}
	return out
}

func (m *Model) selectedAgent() (client.Agent, bool) {
	rows := m.visibleAgents()
	if m.agentList.Cursor < 0 || m.agentList.Cursor >= len(rows) {
		return client.Agent{}, false
	}
	return rows[m.agentList.Cursor], true
}

func (m *Model) visibleObjects() []object {
	out := make([]object, 0, len(m.objects))
	for _, o := range m.objects {
		if m.objList.Match(o.stack, o.content, o.obj.ID.String()) {
			out = append(out, o)
		}
	}
	return out
}

func (m *Model) selectedObject() (object, bool) {
	rows := m.visibleObjects()
	if m.objList.Cursor < 0 || m.objList.Cursor >= len(rows) {
		return object{}, false
	}
	return rows[m.objList.Cursor], true
}

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
	st := status(msg.At, reachability(msg.Err))
	if msg.Wait != m.wait || m.cur == nil {
		if msg.Err == nil {
			// Abandoned before the broker answered: the request still exists.
			m.remember(&entry{req: msg.Request, agent: m.agentByID(msg.Request.AgentID), object: m.objectByID(msg.Request.DeploymentObjectID)})
		}
		return st
	}
	if msg.Err != nil {
		m.waitErr = msg.Err
		return tea.Batch(st, ui.Flash("request diagnostics: "+msg.Err.Error(), true))
	}
	m.creating = false
	m.cur.req = msg.Request
	m.remember(m.cur)
	return tea.Batch(st, m.schedulePoll())
}

func (m *Model) schedulePoll() tea.Cmd {
	id, wait := m.id, m.wait
	return tea.Tick(m.pollEvery, func(time.Time) tea.Msg { return PollMsg{ViewID: id, Wait: wait} })
}

func (m *Model) polled(msg PolledMsg) tea.Cmd {
	st := status(msg.At, reachability(msg.Err))
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
	page := max(m.height-4, 1)
	switch {
	case key.Matches(k, keyPods):
		m.tab = tabPods
	case key.Matches(k, keyEvents):
		m.tab = tabEvents
	case key.Matches(k, keyLogs):
		m.tab = tabLogs
	case key.Matches(k, ui.KeyUp):
		m.scroll[m.tab]--
	case key.Matches(k, ui.KeyDown):
		m.scroll[m.tab]++
	case key.Matches(k, ui.KeyPgUp):
		m.scroll[m.tab] -= page
	case key.Matches(k, ui.KeyPgDown):
		m.scroll[m.tab] += page
	case k.String() == "home" || k.String() == "g":
		m.scroll[m.tab] = 0
	case k.String() == "end" || k.String() == "G":
		m.scroll[m.tab] = len(m.tabLines(m.tab, m.width))
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
	out := make([]*entry, 0, len(m.history))
	for _, e := range m.history {
		if m.hist.Match(e.req.ID.String(), e.agent.Name, e.label(), e.req.Status) {
			out = append(out, e)
		}
	}
	return out
}

func (m *Model) historyKey(k tea.KeyPressMsg) tea.Cmd {
	rows := m.visibleHistory()
	m.hist.SetPage(max(m.height-3, 1))
	if used, cmd := m.hist.Update(k, len(rows)); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		if m.hist.Cursor < 0 || m.hist.Cursor >= len(rows) {
			return nil
		}
		e := rows[m.hist.Cursor]
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
	return client.Agent{ID: id, Name: short(id)}
}

func (m *Model) objectByID(id uuid.UUID) object {
	for _, o := range m.objects {
		if o.obj.ID == id {
			return o
		}
	}
	return object{obj: client.DeploymentObject{ID: id}, stack: "-"}
}

// errNoClient is what commands answer when the view has no broker to talk to.
var errNoClient = errors.New("no broker client")

func short(id uuid.UUID) string { return id.String()[:8] }
