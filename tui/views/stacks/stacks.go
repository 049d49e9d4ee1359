// Package stacks is the Stacks tab of brokkrctl tui: the stacks of the broker, and for one
// stack its deployment-object history, how each agent applied it, its health, its live
// Kubernetes events and pod logs, the YAML of any version and the diff of two versions.
package stacks

import (
	"context"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// mode is what the view shows.
type mode int

const (
	modeList   mode = iota // the stacks
	modeDetail             // one stack, in one of its panes
	modeYAML               // one deployment object's YAML
	modeDiff               // the diff of two deployment objects
)

// pane is a sub-view of the stack detail.
type pane int

const (
	paneHistory pane = iota
	paneAgents
	paneEvents
	paneLogs
)

// View-specific keys.
var (
	keyHistory = key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "history"))
	keyAgents  = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "agents"))
	keyEvents  = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "events"))
	keyLogs    = key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "logs"))
	keyYAML    = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yaml"))
	keyMark    = key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark for diff"))
	keyDiff    = key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "diff with mark"))
	keyLeft    = key.NewBinding(key.WithKeys("left"), key.WithHelp("←/→", "scroll sideways"))
	keyRight   = key.NewBinding(key.WithKeys("right"))
	keyTop     = key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/G", "top/bottom"))
	keyBottom  = key.NewBinding(key.WithKeys("G", "end"))
)

// extrasMaxAge is how long the details of a list row are trusted, in refresh periods.
const extrasMaxAge = 6

// Model is the Stacks view.
type Model struct {
	env *ui.Env
	tag uint64 // this instance, for row details

	mode mode

	// The list.
	list       ui.List
	stacks     []client.Stack
	generators map[uuid.UUID]string
	loaded     bool
	loadErr    error
	loadedAt   time.Time
	listTag    uint64 // the list load (and tick chain) the view waits for
	extras     map[uuid.UUID]rowExtras
	pending    map[uuid.UUID]bool
	tableRows  int // rows the list table showed at the last render
	pageRows   int // rows a pane or viewer showed at the last render (page size)

	detail *detail
	viewer *viewer
	// sessions are the detail sessions this instance opened, so it can close the live
	// channels of those it left.
	sessions map[uint64]bool
}

type rowExtras struct {
	StackExtras
	at time.Time
}

// detail is the open stack.
type detail struct {
	session uint64 // this opening
	tag     uint64 // the detail load (and tick chain) the view waits for
	ctx     context.Context
	cancel  context.CancelFunc
	stack   client.Stack
	pane    pane

	objects    []client.DeploymentObject
	objLoaded  bool
	objErr     error
	cursor     int
	cursorID   uuid.UUID
	mark       uuid.UUID
	health     *client.StackHealthResponse
	healthErr  error
	agents     []AgentStatus
	agentsOK   bool
	agentsErr  error
	agentCur   int
	registered int
	checked    int

	events, logs   teleBuffer
	evScroll       int // lines scrolled up from the newest
	logScroll      int
	telemetryErr   error
	telemetryReady bool

	sub       *client.Subscription
	subClient *client.Client
	liveState string // "connecting", "live", "retrying"
	liveErr   error
}

// New returns the Stacks view.
func New(env *ui.Env) ui.View {
	return &Model{
		env:       env,
		tag:       nextTag(),
		extras:    map[uuid.UUID]rowExtras{},
		pending:   map[uuid.UUID]bool{},
		sessions:  map[uint64]bool{},
		tableRows: 20,
		pageRows:  20,
	}
}

// Title implements ui.View.
func (v *Model) Title() string { return "Stacks" }

// Init implements ui.View: the first list load.
func (v *Model) Init() tea.Cmd {
	v.listTag = nextTag()
	return loadStacks(*v.env, v.listTag)
}

// Capturing implements ui.View: the filter is being typed.
func (v *Model) Capturing() bool { return v.mode == modeList && v.list.Editing() }

// Keys implements ui.View.
func (v *Model) Keys() []key.Binding {
	switch v.mode {
	case modeDetail:
		ks := []key.Binding{keyHistory, keyAgents, keyEvents, keyLogs}
		if v.detail != nil && v.detail.pane == paneHistory {
			ks = append(ks, keyYAML, keyMark, keyDiff)
		}
		return append(ks, ui.KeyUp, ui.KeyDown, ui.KeyRefresh, ui.KeyBack)
	case modeYAML, modeDiff:
		return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyPgDown, keyTop, keyLeft, ui.KeyBack}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyFilter, ui.KeyOpen, ui.KeyRefresh}
}

// Update implements ui.View.
func (v *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case StacksLoadedMsg:
		return v, v.stacksLoaded(msg)
	case ExtrasLoadedMsg:
		if msg.Tag != v.tag {
			return v, nil
		}
		now := v.env.Now()
		for id, ex := range msg.Extras {
			v.extras[id] = rowExtras{StackExtras: ex, at: now}
			delete(v.pending, id)
		}
		return v, nil
	case listTickMsg:
		if msg.tag != v.listTag || v.mode != modeList {
			return v, nil // a stale chain, or the list rests while a stack is open
		}
		if !v.env.Active(v.Title()) {
			// Off screen: keep the timer, skip the requests.
			return v, tea.Tick(v.env.RefreshEvery, func(time.Time) tea.Msg { return msg })
		}
		v.listTag = nextTag()
		return v, loadStacks(*v.env, v.listTag)
	case DetailLoadedMsg:
		return v, v.detailLoaded(msg)
	case detailTickMsg:
		d := v.detail
		if d == nil || msg.tag != d.tag {
			return v, nil
		}
		d.tag = nextTag()
		return v, loadDetail(*v.env, d.tag, d.stack, d.pane == paneAgents || !d.agentsOK)
	case TelemetryLoadedMsg:
		v.telemetryLoaded(msg)
		return v, nil
	case LiveOpenedMsg:
		return v, v.liveOpened(msg)
	case LiveFrameMsg:
		return v, v.liveFrame(msg)
	case liveRetryMsg:
		d := v.detail
		if d == nil || msg.session != d.session || d.sub != nil {
			return v, nil
		}
		d.liveState = "connecting"
		return v, openLive(*v.env, d.ctx, d.session, d.stack.ID)
	}
	if v.mode == modeList && v.list.Editing() {
		_, cmd := v.list.Update(msg, len(v.rows()))
		return v, cmd
	}
	return v, nil
}

func (v *Model) key(k tea.KeyPressMsg) tea.Cmd {
	switch v.mode {
	case modeYAML, modeDiff:
		if key.Matches(k, ui.KeyBack) {
			v.mode, v.viewer = modeDetail, nil
			return nil
		}
		if v.viewer != nil {
			v.viewer.key(k)
		}
		return nil
	case modeDetail:
		return v.detailKey(k)
	}
	rows := v.rows()
	v.list.SetPage(max(v.tableRows, 1))
	if used, cmd := v.list.Update(k, len(rows)); used {
		return tea.Batch(cmd, v.extrasCmd(false))
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		if v.list.Cursor < len(rows) {
			return v.open(v.stacks[rows[v.list.Cursor]])
		}
	case key.Matches(k, ui.KeyRefresh):
		v.listTag = nextTag()
		return tea.Batch(loadStacks(*v.env, v.listTag), v.extrasCmd(true))
	}
	return nil
}

// rows returns the indexes of the stacks that match the filter, in list order.
func (v *Model) rows() []int {
	out := make([]int, 0, len(v.stacks))
	for i, st := range v.stacks {
		texts := []string{st.Name, st.ID.String(), v.generatorName(st.GeneratorID)}
		if ex, ok := v.extras[st.ID]; ok {
			texts = append(texts, ex.Labels...)
			texts = append(texts, ex.Health)
		}
		if v.list.Match(texts...) {
			out = append(out, i)
		}
	}
	return out
}

func (v *Model) generatorName(id uuid.UUID) string {
	if n, ok := v.generators[id]; ok {
		return n
	}
	return short(id)
}

func (v *Model) stacksLoaded(msg StacksLoadedMsg) tea.Cmd {
	if msg.Tag != v.listTag {
		return nil
	}
	tick := tea.Tick(v.env.RefreshEvery, func(time.Time) tea.Msg { return listTickMsg{tag: msg.Tag} })
	if msg.Err != nil {
		v.loadErr = msg.Err
		return tick
	}
	// Keep the cursor on the same stack across reloads.
	var keep uuid.UUID
	if rows := v.rows(); v.list.Cursor < len(rows) {
		keep = v.stacks[rows[v.list.Cursor]].ID
	}
	v.stacks = msg.Stacks
	sort.SliceStable(v.stacks, func(i, j int) bool {
		a, b := strings.ToLower(v.stacks[i].Name), strings.ToLower(v.stacks[j].Name)
		if a != b {
			return a < b
		}
		return v.stacks[i].ID.String() < v.stacks[j].ID.String()
	})
	if msg.Generators != nil {
		v.generators = msg.Generators
	}
	v.loaded, v.loadErr, v.loadedAt = true, nil, v.env.Now()
	rows := v.rows()
	for i, r := range rows {
		if v.stacks[r].ID == keep {
			v.list.Cursor = i
		}
	}
	v.list.Clamp(len(rows))
	return tea.Batch(tick, v.extrasCmd(false))
}

// visible returns the stacks on screen: the table's window around the cursor.
func (v *Model) visible() []client.Stack {
	rows := v.rows()
	body := max(v.tableRows, 1)
	start := 0
	if v.list.Cursor >= body {
		start = v.list.Cursor - body + 1
	}
	var out []client.Stack
	for i := start; i < len(rows) && i < start+body; i++ {
		out = append(out, v.stacks[rows[i]])
	}
	return out
}

// extrasCmd fetches the details of the rows on screen that have none, or old ones (all of
// them when force is set); rows already being fetched are skipped.
func (v *Model) extrasCmd(force bool) tea.Cmd {
	now := v.env.Now()
	maxAge := time.Duration(extrasMaxAge) * v.env.RefreshEvery
	var ids []uuid.UUID
	for _, st := range v.visible() {
		if v.pending[st.ID] {
			continue
		}
		if ex, ok := v.extras[st.ID]; ok && !force && now.Sub(ex.at) < maxAge {
			continue
		}
		v.pending[st.ID] = true
		ids = append(ids, st.ID)
	}
	if len(ids) == 0 {
		return nil
	}
	return loadExtras(*v.env, v.tag, ids)
}

// open shows a stack: its detail loads, its history and its live channel start.
func (v *Model) open(st client.Stack) tea.Cmd {
	base := v.env.Ctx
	if base == nil {
		base = context.Background()
	}
	ctx, cancel := context.WithCancel(base)
	d := &detail{session: nextTag(), tag: nextTag(), ctx: ctx, cancel: cancel, stack: st, liveState: "connecting"}
	v.detail, v.mode = d, modeDetail
	v.sessions[d.session] = true
	return tea.Batch(
		loadDetail(*v.env, d.tag, st, true),
		loadTelemetry(*v.env, d.session, st.ID),
		openLive(*v.env, ctx, d.session, st.ID),
	)
}

// closeDetail leaves the open stack, closing its live channel, and wakes the list.
func (v *Model) closeDetail() tea.Cmd {
	d := v.detail
	v.detail, v.viewer, v.mode = nil, nil, modeList
	var cmd tea.Cmd
	if d != nil {
		d.cancel()
		cmd = closeSub(d.sub)
	}
	v.listTag = nextTag()
	return tea.Batch(cmd, loadStacks(*v.env, v.listTag), v.extrasCmd(false))
}

func (v *Model) detailKey(k tea.KeyPressMsg) tea.Cmd {
	d := v.detail
	if d == nil {
		v.mode = modeList
		return nil
	}
	switch {
	case key.Matches(k, ui.KeyBack):
		return v.closeDetail()
	case key.Matches(k, ui.KeyRefresh):
		d.tag = nextTag()
		d.telemetryReady = false
		return tea.Batch(loadDetail(*v.env, d.tag, d.stack, true), loadTelemetry(*v.env, d.session, d.stack.ID))
	case key.Matches(k, keyHistory):
		d.pane = paneHistory
		return nil
	case key.Matches(k, keyAgents):
		d.pane = paneAgents // loaded on opening, then polled while shown
		return nil
	case key.Matches(k, keyEvents):
		d.pane = paneEvents
		return nil
	case key.Matches(k, keyLogs):
		d.pane = paneLogs
		return nil
	}
	switch d.pane {
	case paneHistory:
		return v.historyKey(k)
	case paneAgents:
		d.agentCur = moveCursor(k, d.agentCur, len(d.agents), v.pageRows)
	case paneEvents:
		d.evScroll = scrollKey(k, d.evScroll, len(d.events.lines), v.pageRows)
	case paneLogs:
		d.logScroll = scrollKey(k, d.logScroll, len(d.logs.lines), v.pageRows)
	}
	return nil
}

func (v *Model) historyKey(k tea.KeyPressMsg) tea.Cmd {
	d := v.detail
	n := len(d.objects)
	switch {
	case key.Matches(k, keyYAML):
		if d.cursor < n {
			v.viewer = yamlViewer(d.stack, d.objects[d.cursor])
			v.mode = modeYAML
		}
		return nil
	case key.Matches(k, keyMark):
		if d.cursor < n {
			id := d.objects[d.cursor].ID
			if d.mark == id {
				d.mark = uuid.Nil
				return ui.Flash("mark cleared", false)
			}
			d.mark = id
			return ui.Flash("marked #"+seqText(d.objects[d.cursor].SequenceID)+": D on another version shows the diff", false)
		}
		return nil
	case key.Matches(k, keyDiff):
		return v.diff()
	}
	d.cursor = moveCursor(k, d.cursor, n, v.pageRows)
	if d.cursor < n {
		d.cursorID = d.objects[d.cursor].ID
	}
	return nil
}

// diff opens the diff of the marked object and the one under the cursor, or, with no mark,
// of the object under the cursor and the version before it. The older one is the base.
func (v *Model) diff() tea.Cmd {
	d := v.detail
	if d.cursor >= len(d.objects) {
		return nil
	}
	cur := d.objects[d.cursor]
	var other client.DeploymentObject
	switch {
	case d.mark != uuid.Nil && d.mark != cur.ID:
		found := false
		for _, o := range d.objects {
			if o.ID == d.mark {
				other, found = o, true
			}
		}
		if !found {
			d.mark = uuid.Nil
			return ui.Flash("the marked version is gone", true)
		}
	case d.mark == cur.ID:
		return ui.Flash("move to another version to diff it with the marked one", true)
	case d.cursor+1 < len(d.objects):
		other = d.objects[d.cursor+1]
	default:
		return ui.Flash("no older version to diff with: mark one with m", true)
	}
	old, cur := other, cur
	if old.SequenceID > cur.SequenceID {
		old, cur = cur, old
	}
	v.viewer = diffViewer(d.stack, old, cur)
	v.mode = modeDiff
	return nil
}

// moveCursor applies a navigation key to a cursor over n rows.
func moveCursor(k tea.KeyPressMsg, cur, n, page int) int {
	switch {
	case key.Matches(k, ui.KeyUp):
		cur--
	case key.Matches(k, ui.KeyDown):
		cur++
	case key.Matches(k, ui.KeyPgUp):
		cur -= max(page, 1)
	case key.Matches(k, ui.KeyPgDown):
		cur += max(page, 1)
	case key.Matches(k, keyTop):
		cur = 0
	case key.Matches(k, keyBottom):
		cur = n - 1
	}
	return max(min(cur, n-1), 0)
}

// scrollKey applies a navigation key to a scroll offset counted from the newest line.
func scrollKey(k tea.KeyPressMsg, off, n, page int) int {
	switch {
	case key.Matches(k, ui.KeyUp):
		off++
	case key.Matches(k, ui.KeyDown):
		off--
	case key.Matches(k, ui.KeyPgUp):
		off += max(page, 1)
	case key.Matches(k, ui.KeyPgDown):
		off -= max(page, 1)
	case key.Matches(k, keyTop):
		off = n
	case key.Matches(k, keyBottom):
		off = 0
	}
	return max(min(off, n-1), 0)
}

func (v *Model) detailLoaded(msg DetailLoadedMsg) tea.Cmd {
	d := v.detail
	if d == nil || msg.Tag != d.tag {
		return nil
	}
	if msg.ObjectsErr != nil {
		d.objErr = msg.ObjectsErr
	} else {
		d.objects, d.objErr, d.objLoaded = msg.Objects, nil, true
		d.cursor = 0
		for i, o := range d.objects {
			if o.ID == d.cursorID {
				d.cursor = i
			}
		}
		if d.cursor < len(d.objects) {
			d.cursorID = d.objects[d.cursor].ID
		}
	}
	if msg.HealthErr != nil {
		d.healthErr = msg.HealthErr
	} else {
		d.health, d.healthErr = msg.Health, nil
	}
	if msg.AgentsLoaded {
		if msg.AgentsErr != nil {
			d.agentsErr = msg.AgentsErr
		} else {
			d.agents, d.agentsErr, d.agentsOK = msg.Agents, nil, true
			d.registered, d.checked = msg.Registered, msg.Checked
			d.agentCur = max(min(d.agentCur, len(d.agents)-1), 0)
		}
	}
	return tea.Tick(v.env.RefreshEvery, func(time.Time) tea.Msg { return detailTickMsg{tag: msg.Tag} })
}

func (v *Model) telemetryLoaded(msg TelemetryLoadedMsg) {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return
	}
	d.telemetryReady = true
	d.telemetryErr = nil
	if msg.EventsErr != nil {
		d.telemetryErr = msg.EventsErr
	} else {
		d.evScroll += d.events.add(historyEvents(msg.Events)...) * boolInt(d.evScroll > 0)
	}
	if msg.LogsErr != nil {
		d.telemetryErr = msg.LogsErr
	} else {
		d.logScroll += d.logs.add(historyLogs(msg.Logs)...) * boolInt(d.logScroll > 0)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// liveOpened takes a new subscription, or schedules another try.
func (v *Model) liveOpened(msg LiveOpenedMsg) tea.Cmd {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return v.orphan(msg.Session, msg.sub, msg.client)
	}
	if msg.Err != nil {
		d.liveState, d.liveErr = "retrying", msg.Err
		return v.retryLive(d)
	}
	if msg.sub == nil {
		d.liveState, d.liveErr = "live", nil
		return nil
	}
	if d.sub != nil {
		return closeSub(msg.sub) // already connected
	}
	d.sub, d.subClient, d.liveState, d.liveErr = msg.sub, msg.client, "live", nil
	return nextFrame(d.ctx, d.subClient, d.sub, d.session)
}

// orphan closes a subscription nobody waits for any more: one of a detail this view left,
// or one of a view that a context switch replaced (opened with another client).
// Subscriptions of another live instance of this view on the same client are left alone.
func (v *Model) orphan(session uint64, sub *client.Subscription, c *client.Client) tea.Cmd {
	if sub == nil {
		return nil
	}
	if v.sessions[session] || c != v.env.Client {
		return closeSub(sub)
	}
	return nil
}

func (v *Model) retryLive(d *detail) tea.Cmd {
	session := d.session
	return tea.Tick(v.env.RefreshEvery, func(time.Time) tea.Msg { return liveRetryMsg{session: session} })
}

// liveFrame takes one live frame and waits for the next.
func (v *Model) liveFrame(msg LiveFrameMsg) tea.Cmd {
	d := v.detail
	if d == nil || msg.Session != d.session {
		return v.orphan(msg.Session, msg.sub, msg.client)
	}
	if msg.Err != nil {
		if d.ctx.Err() != nil {
			return nil
		}
		old := d.sub
		d.sub, d.liveState, d.liveErr = nil, "retrying", msg.Err
		return tea.Batch(closeSub(old), v.retryLive(d))
	}
	f := msg.Frame
	switch f.Type {
	case client.WSK8sEvent:
		var e client.K8sEvent
		if f.Decode(&e) == nil {
			d.evScroll += d.events.add(eventLine(e.AgentID, e.ObservedAt, e.EventType, e.Reason, e.Message, e.InvolvedObject)) * boolInt(d.evScroll > 0)
		}
	case client.WSPodLogLine:
		var l client.PodLogLine
		if f.Decode(&l) == nil {
			d.logScroll += d.logs.add(logLine(l.AgentID, l.TS, l.Namespace, l.Pod, l.Container, l.Line)) * boolInt(d.logScroll > 0)
		}
	case client.WSLogGap:
		var g client.LogGap
		if f.Decode(&g) == nil {
			at := g.SinceTS
			if at.IsZero() {
				at = v.env.Now()
			}
			d.evScroll += d.events.add(gapLine(g, at)) * boolInt(d.evScroll > 0)
			d.logScroll += d.logs.add(gapLine(g, at)) * boolInt(d.logScroll > 0)
		}
	}
	if d.sub == nil || msg.sub != d.sub {
		return nil // an injected frame, or one of a replaced subscription
	}
	return nextFrame(d.ctx, d.subClient, d.sub, d.session)
}

func short(id uuid.UUID) string { return id.String()[:8] }
