// Package rollouts is the Rollouts tab of brokkrctl tui: the stacks whose objects go out
// wave by wave, and for one stack its rollout (status, waves and their progress, agents)
// with the keys that promote, pause, resume and abort it. The Stacks tab opens the same
// rollout view for a stack of its own.
package rollouts

import (
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Recent is how long a finished rollout stays in the list.
const Recent = 24 * time.Hour

// Model is the Rollouts view.
type Model struct {
	env *ui.Env

	list      ui.List
	stacks    []client.Stack
	known     map[uuid.UUID]Probe // the latest rollout of each stack looked at
	loaded    bool
	loadErr   error
	loadedAt  time.Time
	tag       uint64 // the list load (and tick chain) the view waits for
	tableRows int

	detail *Detail
}

// New returns the Rollouts view.
func New(env *ui.Env) ui.View {
	return &Model{env: env, known: map[uuid.UUID]Probe{}, tableRows: 20}
}

// Title implements ui.View.
func (v *Model) Title() string { return "Rollouts" }

// Init implements ui.View: the first list load.
func (v *Model) Init() tea.Cmd { return v.reload() }

// Capturing implements ui.View: the filter is being typed.
func (v *Model) Capturing() bool { return v.detail == nil && v.list.Editing() }

// Keys implements ui.View.
func (v *Model) Keys() []key.Binding {
	if v.detail != nil {
		return append(v.detail.Keys(), ui.KeyBack)
	}
	return []key.Binding{ui.KeyUp, ui.KeyDown, ui.KeyFilter, ui.KeyOpen, ui.KeyRefresh}
}

// Detail returns the rollout view on screen (nil for the list).
func (v *Model) Detail() *Detail { return v.detail }

func (v *Model) reload() tea.Cmd {
	v.tag = nextTag()
	snap := make(map[uuid.UUID]seen, len(v.known))
	for id, p := range v.known {
		snap[id] = seen{active: p.Rollout != nil && p.Rollout.Active(), at: p.At}
	}
	return loadList(*v.env, v.tag, snap)
}

// Update implements ui.View.
func (v *Model) Update(msg tea.Msg) (ui.View, tea.Cmd) {
	if cmd, ok := v.detail.Update(msg); ok {
		return v, cmd
	}
	switch msg := msg.(type) {
	case tea.KeyPressMsg:
		return v, v.key(msg)
	case ListLoadedMsg:
		return v, v.listLoaded(msg)
	case listTickMsg:
		if msg.tag != v.tag || v.detail != nil {
			return v, nil // a stale chain, or the list rests while a rollout is open
		}
		if !v.env.Active(v.Title()) {
			return v, v.env.Tick(msg)
		}
		return v, v.reload()
	case ui.ActivatedMsg:
		if msg.Title != v.Title() {
			return v, nil
		}
		if v.detail != nil {
			return v, v.detail.Refresh()
		}
		return v, v.reload()
	}
	if v.detail == nil && v.list.Editing() {
		_, cmd := v.list.Update(msg, len(v.rows()))
		return v, cmd
	}
	return v, nil
}

func (v *Model) key(k tea.KeyPressMsg) tea.Cmd {
	if v.detail != nil {
		if key.Matches(k, ui.KeyBack) {
			v.detail = nil
			return v.reload()
		}
		return v.detail.Key(k)
	}
	rows := v.rows()
	v.list.SetPage(max(v.tableRows, 1))
	if used, cmd := v.list.Update(k, len(rows)); used {
		return cmd
	}
	switch {
	case key.Matches(k, ui.KeyOpen):
		if st, ok := ui.Selected(&v.list, rows); ok {
			d, cmd := Open(v.env, v.Title(), st)
			v.detail = d
			return cmd
		}
	case key.Matches(k, ui.KeyRefresh):
		return v.reload()
	}
	return nil
}

func (v *Model) listLoaded(msg ListLoadedMsg) tea.Cmd {
	if msg.Tag != v.tag {
		return nil
	}
	tick := v.env.Tick(listTickMsg{tag: msg.Tag})
	if msg.Err != nil {
		v.loadErr = msg.Err
		return tick
	}
	var keep uuid.UUID
	if st, ok := ui.Selected(&v.list, v.rows()); ok {
		keep = st.ID
	}
	v.stacks = msg.Stacks
	live := make(map[uuid.UUID]bool, len(v.stacks))
	for _, st := range v.stacks {
		live[st.ID] = true
	}
	for id := range v.known {
		if !live[id] {
			delete(v.known, id)
		}
	}
	for id, p := range msg.Probes {
		if p.Err != nil {
			if old, ok := v.known[id]; ok { // keep what was known, look again soon
				old.Err = p.Err
				v.known[id] = old
				continue
			}
		}
		v.known[id] = p
	}
	v.loaded, v.loadErr, v.loadedAt = true, nil, v.env.Now()
	rows := v.rows()
	for i, st := range rows {
		if st.ID == keep {
			v.list.Cursor = i
		}
	}
	v.list.Clamp(len(rows))
	return tick
}

// listed reports whether a stack's rollout belongs in the list: under way, or finished
// within Recent.
func (v *Model) listed(r *client.Rollout) bool {
	if r == nil {
		return false
	}
	if r.Active() {
		return true
	}
	end := r.UpdatedAt
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	return v.env.Now().Sub(end) < Recent
}

// rows returns the stacks the list shows, matching the filter: rollouts under way first,
// then the newest.
func (v *Model) rows() []client.Stack {
	var out []client.Stack
	for _, st := range v.stacks {
		p := v.known[st.ID]
		if !v.listed(p.Rollout) {
			continue
		}
		if v.list.Match(st.Name, st.ID.String(), p.Rollout.Status, waveName(p.Rollout, p.Rollout.CurrentWave)) {
			out = append(out, st)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := v.known[out[i].ID].Rollout, v.known[out[j].ID].Rollout
		if a.Active() != b.Active() {
			return a.Active()
		}
		if !a.UpdatedAt.Equal(b.UpdatedAt) {
			return a.UpdatedAt.After(b.UpdatedAt)
		}
		return strings.ToLower(out[i].Name) < strings.ToLower(out[j].Name)
	})
	return out
}
