// Package stacks is the Stacks tab of brokkrctl tui: the stacks of the broker, and for one
// stack its deployment-object history, how each agent applied it, its health, its live
// Kubernetes events and pod logs, the YAML of any version and the diff of two versions.
package stacks

import (
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/rollouts"
)

// mode is what the view shows.
type mode int

const (
	modeList    mode = iota // the stacks
	modeDetail              // one stack, in one of its panes
	modeYAML                // one deployment object's YAML
	modeDiff                // the diff of two deployment objects
	modeRollout             // one stack's rollout
)

// pane is a sub-view of the stack detail.
type pane int

const (
	paneHistory pane = iota
	paneAgents
	paneEvents
	paneLogs
	paneDrift
)

// View-specific keys.
var (
	keyHistory = key.NewBinding(key.WithKeys("h"), key.WithHelp("h", "history"))
	keyAgents  = key.NewBinding(key.WithKeys("a"), key.WithHelp("a", "agents"))
	keyEvents  = key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "events"))
	keyLogs    = key.NewBinding(key.WithKeys("L"), key.WithHelp("L", "logs"))
	keyDrift   = key.NewBinding(key.WithKeys("d"), key.WithHelp("d", "drift & dependencies"))
	keyYAML    = key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yaml"))
	keyMark    = key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "mark for diff"))
	keyDiff    = key.NewBinding(key.WithKeys("D"), key.WithHelp("D", "diff with mark"))
	keyLeft    = key.NewBinding(key.WithKeys("left"), key.WithHelp("←/→", "scroll sideways"))
	keyRight   = key.NewBinding(key.WithKeys("right"))
	keyTop     = key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g/G", "top/bottom"))
	keyBottom  = key.NewBinding(key.WithKeys("G", "end"))
	keyRollout = key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "rollout"))
)

// Model is the Stacks view.
type Model struct {
	env *ui.Env

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
	// ro is the rollout on screen (modeRollout), opened from the mode roFrom.
	ro     *rollouts.Detail
	roFrom mode
}

// New returns the Stacks view.
func New(env *ui.Env) ui.View {
	return &Model{
		env:       env,
		extras:    map[uuid.UUID]rowExtras{},
		pending:   map[uuid.UUID]bool{},
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
	case modeRollout:
		if v.ro != nil {
			return append(v.ro.Keys(), ui.KeyBack)
		}
	case modeDetail:
		ks := []key.Binding{keyHistory, keyAgents, keyEvents, keyLogs, keyDrift, keyRollout}
		if v.detail != nil && v.detail.pane == paneHistory {
			ks = append(ks, keyYAML, keyMark, keyDiff)
		}
		return append(ks, ui.KeyUp, ui.KeyDown, ui.KeyRefresh, ui.KeyBack)
	case modeYAML, modeDiff:
		return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyPgDown, keyTop, keyLeft, ui.KeyBack}
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyFilter, ui.KeyOpen, keyRollout, ui.KeyRefresh}
}

// Update implements ui.View.
func (v *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	if cmd, ok := v.ro.Update(msg); ok {
		return v, cmd
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case StacksLoadedMsg:
		return v, v.stacksLoaded(msg)
	case ExtrasLoadedMsg:
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
			return v, v.env.Tick(msg)
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
	case modeRollout:
		return v.rolloutKey(k)
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
	case key.Matches(k, keyRollout):
		if v.list.Cursor < len(rows) {
			return v.openRollout(v.stacks[rows[v.list.Cursor]])
		}
	case key.Matches(k, ui.KeyRefresh):
		v.listTag = nextTag()
		return tea.Batch(loadStacks(*v.env, v.listTag), v.extrasCmd(true))
	}
	return nil
}
