package stacks

import (
	"context"
	"fmt"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
	"github.com/brokkr/brokkr/tui/views/rollouts"
)

// rolloutColumn is the list's column of rollouts under way and held objects, shown once a
// stack on the list has either.
var rolloutColumn = ui.Column{Title: "ROLLOUT", Width: 11}

// loadRollout fetches a stack's latest rollout (without its agents) and what its objects are
// held back from.
func loadRollout(ctx context.Context, c *client.Client, id uuid.UUID) (*client.Rollout, *rollouts.HoldSummary, error, error) {
	r, rerr := rollouts.Latest(ctx, c, id)
	if r != nil {
		r.Agents = nil
	}
	holds, herr := c.Stacks().Holds(ctx, id)
	if herr != nil {
		return r, nil, rerr, fmt.Errorf("stack holds: %w", herr)
	}
	sum := rollouts.SummarizeHolds(holds)
	return r, &sum, rerr, nil
}

// openRollout shows the rollout of st; esc comes back to where it was opened.
func (v *Model) openRollout(st client.Stack) tea.Cmd {
	d, cmd := rollouts.Open(v.env, v.Title(), st)
	v.ro, v.roFrom, v.mode = d, v.mode, modeRollout
	return cmd
}

// rolloutKey handles a key of the rollout on screen.
func (v *Model) rolloutKey(k tea.KeyPressMsg) tea.Cmd {
	if v.ro != nil && !key.Matches(k, ui.KeyBack) {
		return v.ro.Key(k)
	}
	var id uuid.UUID
	if v.ro != nil {
		id = v.ro.Stack().ID
	}
	v.ro = nil
	if v.roFrom == modeDetail && v.detail != nil {
		v.mode = modeDetail
		return nil
	}
	// Back on the list: the row of the stack just seen is looked at again.
	if ex, ok := v.extras[id]; ok {
		ex.at = ex.at.Add(-v.env.RefreshEvery * extrasMaxAge)
		v.extras[id] = ex
	}
	v.mode = modeList
	v.listTag = nextTag()
	return tea.Batch(loadStacks(*v.env, v.listTag), v.extrasCmd(false))
}

// showRollouts reports whether the list has a stack with a rollout under way or held
// objects, so it shows the rollout column.
func (v *Model) showRollouts() bool {
	for _, ex := range v.extras {
		if ex.busy() {
			return true
		}
	}
	return false
}

// busy reports whether a stack has a rollout under way or held objects.
func (ex StackExtras) busy() bool {
	return (ex.Rollout != nil && ex.Rollout.Active()) || (ex.Holds != nil && ex.Holds.Agents > 0)
}

// columns returns the list's columns: the rollout column before the last when shown.
func (v *Model) columns(withRollouts bool) []ui.Column {
	if !withRollouts {
		return listColumns
	}
	cols := append([]ui.Column(nil), listColumns[:len(listColumns)-1]...)
	return append(cols, rolloutColumn, listColumns[len(listColumns)-1])
}

// rolloutCell is a row's rollout under way ("wave 2/3", "halted 2/3"), or else how many
// agents its objects are held back from ("held 3").
func (v *Model) rolloutCell(ex rowExtras) string {
	s := v.env.Styles
	if r := ex.Rollout; r != nil && r.Active() {
		word := r.Status
		if word == client.RolloutProgressing {
			word = "wave"
		}
		return rollouts.StatusStyle(s, r.Status).Render(fmt.Sprintf("%s %d/%d", word, r.CurrentWave+1, len(r.Waves)))
	}
	switch {
	case ex.Holds == nil:
		return "?"
	case ex.Holds.Agents > 0:
		return s.Warn.Render(fmt.Sprintf("held %d", ex.Holds.Agents))
	}
	return s.Muted.Render("-")
}

// rolloutText tells, for one stack, where its rollout stands and why objects are held: ""
// when neither applies.
func (v *Model) rolloutText(ex rowExtras) string {
	s := v.env.Styles
	var parts []string
	if r := ex.Rollout; r != nil && r.Active() {
		text := fmt.Sprintf("rollout %s at wave %d/%d", r.Status, r.CurrentWave+1, len(r.Waves))
		if r.CurrentWave < len(r.Waves) {
			text += " " + ui.Sanitize(r.Waves[r.CurrentWave].Name)
		}
		if r.Failures > 0 {
			text += fmt.Sprintf(", %d failed (%d allowed)", r.Failures, r.FailureLimit)
		}
		parts = append(parts, rollouts.StatusStyle(s, r.Status).Render(text))
	}
	if ex.Holds != nil {
		if h := rollouts.HoldText(*ex.Holds, ex.Rollout, v.env.Now()); h != "" {
			parts = append(parts, s.Warn.Render(h))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	out := parts[0]
	for _, p := range parts[1:] {
		out += s.Muted.Render(" · ") + p
	}
	return out
}
