// Package overview is the Overview tab of brokkrctl tui: the state of the whole fleet on
// one screen — agents by status, connection and Kubernetes reachability with the stalest
// heartbeats first, failing and degraded deployments, the work order queue and the newest
// agent events.
//
// Agents come from the fleet records (GET /fleet) and are kept current by the fleet live
// channel: every fleet_update frame replaces one record of an in-memory table whose counts
// and orders are maintained incrementally. While the channel is down the fleet is polled on
// every refresh; while it is up, only every few refreshes (to notice created and deleted
// agents, which push no frame). The channel reconnects with exponential backoff.
//
// The broker has no endpoint listing the health of every stack, and asking each of 1,000
// stacks on every refresh is out of the question. The fleet records carry, per agent, the
// number of failing and degraded health rows: their totals tell at no extra cost whether
// anything is unhealthy at all, and which agents report it. Only then are stacks probed
// (GET /stacks/{id}/health), at most probeBudget per refresh and in this order: the stacks
// already known to be unhealthy (re-checked, up to probeKeep); a queue filled with the
// stacks associated with one reporting agent at a time (GET /agents/{id}/stacks, one
// request per refresh while the queue is empty), which finds the culprits within a refresh
// or two in the common case; and a rotation through the whole stack list, so that every
// stack is read within n/(probeBudget-probeKeep) refreshes at worst. The panel says how far
// the rotation got. A refresh thus costs at most probeBudget+2 health-related requests
// whatever the number of stacks, and none while everything is healthy.
//
// Events are read again only when some agent's last event is newer than the newest event
// shown (or every few refreshes), the work order queue on every refresh.
package overview

import (
	"slices"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Panels, in focus order.
const (
	panelAgents = iota
	panelDeployments
	panelWork
	panelEvents
	panelCount
)

// View-specific key bindings.
var (
	keyFocus = key.NewBinding(key.WithKeys("left", "h", "right", "l"), key.WithHelp("←→/hl", "panel"))
)

// tickMsg asks for the next poll.
type tickMsg struct{ gen uint64 }

// Model is the Overview view. Build it with New.
type Model struct {
	env *ui.Env

	gen       uint64 // last refresh requested; older answers are dropped
	refreshes int

	fleet       fleet
	fleetLoaded bool
	fleetErr    error
	fleetAt     time.Time // last good fleet listing
	resync      bool      // list the fleet at the next refresh, whatever the live channel

	stacks     []client.Stack
	stackNames map[uuid.UUID]string
	unhealthy  map[uuid.UUID]StackHealth
	badStacks  []StackHealth // unhealthy, worst first
	queue      []uuid.UUID   // stacks to probe before the rotation
	suspects   int           // turns of asking unhealthy agents for their stacks
	cursor     int           // rotation position in stacks
	checked    int           // stacks the rotation covered since probing started
	probing    bool          // the last round probed (something is unhealthy)
	healthErr  error

	work       WorkResult
	workLoaded bool
	workErr    error
	workAt     time.Time

	events       []client.AgentEvent
	eventsLoaded bool
	eventsErr    error
	eventsAt     time.Time

	live        liveState
	liveErr     error
	liveSession uint64
	liveSub     *client.Subscription
	liveEver    bool // connected once: a reconnect resynchronises the fleet
	backoff     time.Duration
	retryAt     time.Time
	statusAt    time.Time // last StatusMsg sent for a frame

	focus  int
	scroll [panelCount]int
}

// New returns the Overview view.
func New(env *ui.Env) ui.View {
	return &Model{
		env:        env,
		fleet:      newFleet(),
		stackNames: map[uuid.UUID]string{},
		unhealthy:  map[uuid.UUID]StackHealth{},
		backoff:    backoffMin,
	}
}

// Title implements ui.View.
func (m *Model) Title() string { return "Overview" }

// Capturing implements ui.View: the overview takes no text input.
func (m *Model) Capturing() bool { return false }

// Keys implements ui.View.
func (m *Model) Keys() []key.Binding {
	return []key.Binding{keyFocus, ui.KeyScroll, ui.KeyRefresh}
}

// Init starts the first refresh and opens the fleet live channel.
func (m *Model) Init() tea.Cmd {
	return tea.Batch(m.refresh(), m.dial())
}

// refresh starts a refresh; the answer schedules the next one.
func (m *Model) refresh() tea.Cmd {
	cl := m.env.Client
	if cl == nil {
		return nil
	}
	m.gen++
	m.refreshes++
	p := m.plan()
	if p.suspect != uuid.Nil {
		m.suspects++
	}
	return loadCmd(m.env, cl, m.gen, p)
}

// plan decides what the next refresh reads.
func (m *Model) plan() plan {
	p := plan{
		fleet:     m.live != liveConnected || m.resync || !m.fleetLoaded || m.fleetErr != nil || m.refreshes%fleetResyncEvery == 0,
		events:    !m.eventsLoaded || m.eventsErr != nil || m.refreshes%eventsResyncEvery == 0 || m.newEvents(),
		stackList: m.refreshes%stacksResyncEvery == 0,
		unhealthy: !m.fleetLoaded || m.fleet.n.unhealthy(),
		stacks:    m.stacks,
		queue:     m.queue,
		cursor:    m.cursor,
	}
	for _, s := range m.badStacks {
		p.bad = append(p.bad, s.StackID)
	}
	// When the queue is empty, ask the next agent reporting unhealthy objects for its
	// stacks: they are where the unhealthy ones are.
	if len(m.queue) == 0 && len(m.fleet.bad) > 0 {
		p.suspect = m.fleet.bad[m.suspects%len(m.fleet.bad)].AgentID
	}
	return p
}

// newEvents reports that some agent has an event newer than the newest one shown.
func (m *Model) newEvents() bool {
	if len(m.events) == 0 {
		return !m.fleet.lastEvent.IsZero()
	}
	return m.fleet.lastEvent.After(m.events[0].CreatedAt)
}

func (m *Model) tick() tea.Cmd { return m.env.Tick(tickMsg{gen: m.gen}) }

// dial opens a new live session.
func (m *Model) dial() tea.Cmd {
	cl := m.env.Client
	if cl == nil {
		m.live = liveOff
		return nil
	}
	m.liveSession++
	m.live = liveConnecting
	return dialCmd(m.env, cl, m.liveSession)
}

// Update implements ui.View.
func (m *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case LoadedMsg:
		if msg.Gen != m.gen {
			return m, nil
		}
		m.apply(msg)
		return m, m.tick()
	case tickMsg:
		if msg.gen != m.gen {
			return m, nil
		}
		if !m.env.Active(m.Title()) {
			return m, m.tick() // off screen: the live channel goes on, polling rests
		}
		return m, m.refresh()
	case ui.ActivatedMsg:
		if msg.Title != m.Title() {
			return m, nil
		}
		return m, m.refresh()
	case FrameMsg:
		if msg.Session != m.liveSession {
			return m, ui.CloseLiveCmd(msg.sub) // a channel this view left
		}
		return m, m.frame(msg)
	case liveOpenedMsg:
		if msg.session != m.liveSession {
			return m, ui.CloseLiveCmd(msg.sub)
		}
		if msg.err != nil {
			return m, m.down(msg.err)
		}
		m.live, m.liveErr, m.liveSub, m.backoff = liveConnected, nil, msg.sub, backoffMin
		next := nextFrameCmd(m.env, msg.sub, m.liveSession)
		if m.liveEver {
			// Frames were missed while the channel was down: list the fleet again now.
			m.resync = true
			return m, tea.Batch(next, m.refresh())
		}
		m.liveEver = true
		return m, next
	case liveClosedMsg:
		if msg.session != m.liveSession {
			return m, nil
		}
		m.liveSub = nil
		return m, m.down(msg.err)
	case liveRetryMsg:
		if msg.session != m.liveSession || m.live != liveDown {
			return m, nil
		}
		return m, m.dial()
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, nil
}

// down records that the live channel is down and schedules a reconnection.
func (m *Model) down(err error) tea.Cmd {
	m.live, m.liveErr = liveDown, err
	d := m.backoff
	m.retryAt = m.env.Now().Add(d)
	m.backoff = min(m.backoff*2, backoffMax)
	return retryCmd(d, m.liveSession)
}

// frame applies one live frame and waits for the next; at most one StatusMsg a second is
// sent for frames.
func (m *Model) frame(msg FrameMsg) tea.Cmd {
	m.fleet.upsert(msg.Record)
	m.dropHealed()
	m.live = liveConnected
	var cmds []tea.Cmd
	if msg.sub != nil {
		cmds = append(cmds, nextFrameCmd(m.env, msg.sub, m.liveSession))
	}
	if msg.At.Sub(m.statusAt) >= time.Second {
		m.statusAt = msg.At
		cmds = append(cmds, ui.Status(msg.At, nil))
	}
	return tea.Batch(cmds...)
}

// apply takes in a refresh; failed sections keep their last data.
func (m *Model) apply(msg LoadedMsg) {
	if r := msg.Fleet; r != nil {
		m.fleetErr = r.Err
		if r.Err == nil {
			m.fleet.replace(r.Records)
			m.fleetLoaded, m.fleetAt, m.resync = true, msg.At, false
		}
	}
	if r := msg.Health; r != nil {
		m.applyHealth(r)
	}
	m.dropHealed()
	if r := msg.Work; r != nil {
		m.workErr = r.Err
		if r.Err == nil {
			m.work, m.workLoaded, m.workAt = *r, true, msg.At
		}
	}
	if r := msg.Events; r != nil {
		m.eventsErr = r.Err
		if r.Err == nil {
			m.events, m.eventsLoaded, m.eventsAt = r.Events, true, msg.At
		}
	}
}

func (m *Model) applyHealth(r *HealthResult) {
	m.healthErr = r.Err
	if r.Stacks != nil {
		m.stacks = r.Stacks
		names := make(map[uuid.UUID]string, len(r.Stacks))
		for _, s := range r.Stacks {
			names[s.ID] = s.Name
		}
		m.stackNames = names
		for id := range m.unhealthy {
			if _, ok := names[id]; !ok {
				delete(m.unhealthy, id) // deleted stack
			}
		}
	}
	m.probing = !r.Skipped
	m.queue = r.Queue
	if r.Skipped {
		clear(m.unhealthy)
		m.checked = 0
	}
	for _, h := range r.Probed {
		if h.Status == client.HealthFailing || h.Status == client.HealthDegraded {
			m.unhealthy[h.StackID] = h
		} else {
			delete(m.unhealthy, h.StackID)
		}
	}
	if !r.Skipped {
		m.cursor = r.Next
		m.checked = min(m.checked+r.Walked, len(m.stacks))
	}
	bad := make([]StackHealth, 0, len(m.unhealthy))
	for _, h := range m.unhealthy {
		bad = append(bad, h)
	}
	slices.SortFunc(bad, func(a, b StackHealth) int { return m.worse(a, b) })
	m.badStacks = bad
}

// dropHealed forgets the unhealthy stacks the fleet's totals contradict: failing stacks
// once no agent reports a failing object, degraded ones once none reports a degraded
// object. The rotation finds them again should they still be unhealthy.
func (m *Model) dropHealed() {
	if !m.fleetLoaded || len(m.badStacks) == 0 {
		return
	}
	n := m.fleet.n
	keep := m.badStacks[:0]
	for _, h := range m.badStacks {
		if h.Status == client.HealthFailing && n.failingRows == 0 || h.Status == client.HealthDegraded && n.degradedRows == 0 {
			delete(m.unhealthy, h.StackID)
			continue
		}
		keep = append(keep, h)
	}
	m.badStacks = keep
}

// firstErr is the error of the first section that failed to load.
func (m *Model) firstErr() error {
	for _, err := range []error{m.fleetErr, m.healthErr, m.workErr, m.eventsErr} {
		if err != nil {
			return err
		}
	}
	return nil
}

// worse orders unhealthy stacks: failing before degraded, more bad objects first, then by
// name.
func (m *Model) worse(a, b StackHealth) int {
	rank := func(s string) int {
		if s == client.HealthFailing {
			return 0
		}
		return 1
	}
	if ra, rb := rank(a.Status), rank(b.Status); ra != rb {
		return ra - rb
	}
	if a.Failing != b.Failing {
		return b.Failing - a.Failing
	}
	if a.Degraded != b.Degraded {
		return b.Degraded - a.Degraded
	}
	na, nb := m.stackName(a.StackID), m.stackName(b.StackID)
	switch {
	case na < nb:
		return -1
	case na > nb:
		return 1
	}
	return 0
}

func (m *Model) stackName(id uuid.UUID) string {
	if n, ok := m.stackNames[id]; ok {
		return n
	}
	return ui.ShortID(id)
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch k.String() {
	case "left", "h":
		m.focus = (m.focus + panelCount - 1) % panelCount
	case "right", "l":
		m.focus = (m.focus + 1) % panelCount
	case "up", "k":
		m.scroll[m.focus] = max(m.scroll[m.focus]-1, 0)
	case "down", "j":
		m.scroll[m.focus] = min(m.scroll[m.focus]+1, max(m.rows(m.focus)-1, 0))
	case "pgup":
		m.scroll[m.focus] = max(m.scroll[m.focus]-10, 0)
	case "pgdown", "space":
		m.scroll[m.focus] = min(m.scroll[m.focus]+10, max(m.rows(m.focus)-1, 0))
	case "home", "g":
		m.scroll[m.focus] = 0
	case "r":
		return m.refresh()
	}
	return nil
}

// rows is how many rows the panel's list has.
func (m *Model) rows(panel int) int {
	switch panel {
	case panelAgents:
		return len(m.fleet.stale)
	case panelDeployments:
		return len(m.badStacks)
	case panelWork:
		return len(m.work.Oldest)
	case panelEvents:
		return len(m.events)
	}
	return 0
}
