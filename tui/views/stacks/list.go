package stacks

import (
	"sort"
	"strings"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// extrasMaxAge is how long the details of a list row are trusted, in refresh periods.
const extrasMaxAge = 6

// rowExtras are the details of a list row, with the time they arrived.
type rowExtras struct {
	StackExtras
	at time.Time
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
	return ui.ShortID(id)
}

func (v *Model) stacksLoaded(msg StacksLoadedMsg) tea.Cmd {
	if msg.Tag != v.listTag {
		return nil
	}
	tick := v.env.Tick(listTickMsg{tag: msg.Tag})
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
	return loadExtras(*v.env, ids)
}
