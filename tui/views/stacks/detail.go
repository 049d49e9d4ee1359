package stacks

import (
	"context"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

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

	drift    []client.StackDrift
	driftOK  bool
	driftErr error
	deps     *client.StackDependencies
	depsErr  error

	events, logs   teleBuffer
	evScroll       int // lines scrolled up from the newest
	logScroll      int
	telemetryErr   error
	telemetryReady bool

	sub       *client.Subscription
	liveState string // "connecting", "live", "retrying"
	liveErr   error
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
		cmd = ui.CloseLiveCmd(d.sub)
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
	case key.Matches(k, keyDrift):
		d.pane = paneDrift
		return nil
	case key.Matches(k, keyRollout):
		return v.openRollout(d.stack)
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
	cur, _ = ui.ScrollKey(k, cur, max(page, 1), n-1)
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
	if msg.DriftErr != nil {
		d.driftErr = msg.DriftErr
	} else {
		d.drift, d.driftErr, d.driftOK = msg.Drift, nil, true
	}
	if msg.DepsErr != nil {
		d.depsErr = msg.DepsErr
	} else {
		d.deps, d.depsErr = msg.Deps, nil
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
	return v.env.Tick(detailTickMsg{tag: msg.Tag})
}
