package rollouts

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Keys of the rollout view.
var (
	KeyPromote = key.NewBinding(key.WithKeys("P"), key.WithHelp("P", "promote (next wave now)"))
	KeyPause   = key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause"))
	KeyResume  = key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "resume"))
	KeyAbort   = key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "abort"))
)

// Detail is the rollout of one stack: its status, its waves with their progress and its
// agents, polled while the view showing it is on screen, with the keys that promote,
// pause, resume and abort it. The Rollouts tab and the Stacks tab both show it.
type Detail struct {
	env *ui.Env
	// owner is the title of the view showing the rollout: it polls only while that view is
	// on screen.
	owner   string
	session uint64
	tag     uint64
	stack   client.Stack

	rollout  *client.Rollout
	loaded   bool
	err      error
	loadedAt time.Time
	busy     string // the action waiting for the broker's answer

	cursor int // the agent under the cursor
	page   int // agent rows shown at the last render
}

// Open shows the rollout of st in the view titled owner, and starts loading it.
func Open(env *ui.Env, owner string, st client.Stack) (*Detail, tea.Cmd) {
	d := &Detail{env: env, owner: owner, session: nextTag(), tag: nextTag(), stack: st, page: 10}
	return d, loadRollout(*env, d.session, d.tag, st.ID)
}

// Stack returns the stack whose rollout is shown.
func (d *Detail) Stack() client.Stack { return d.stack }

// Rollout returns the rollout shown (nil while loading, or when the stack has none).
func (d *Detail) Rollout() *client.Rollout { return d.rollout }

// Refresh loads the rollout again now.
func (d *Detail) Refresh() tea.Cmd {
	d.tag = nextTag()
	return loadRollout(*d.env, d.session, d.tag, d.stack.ID)
}

// Update takes the answers meant for a rollout view and reports whether msg was one; the
// answers of a rollout view no longer shown (d nil, or another session) are dropped.
func (d *Detail) Update(msg tea.Msg) (tea.Cmd, bool) {
	switch msg := msg.(type) {
	case RolloutLoadedMsg:
		if d == nil || msg.Session != d.session || msg.Tag != d.tag {
			return nil, true
		}
		if msg.Err != nil {
			d.err = msg.Err
		} else {
			d.rollout, d.err, d.loaded, d.loadedAt = msg.Rollout, nil, true, d.env.Now()
			d.sortAgents()
		}
		return d.env.Tick(detailTickMsg{session: d.session, tag: msg.Tag}), true
	case detailTickMsg:
		if d == nil || msg.session != d.session || msg.tag != d.tag {
			return nil, true
		}
		if !d.env.Active(d.owner) {
			return d.env.Tick(msg), true // off screen: keep the timer, skip the request
		}
		return d.Refresh(), true
	case ActionDoneMsg:
		if d == nil || msg.Session != d.session {
			return nil, true
		}
		d.busy = ""
		if msg.Err != nil {
			return ui.Flash(msg.Action+": "+errText(msg.Err), true), true
		}
		r := msg.Rollout
		d.rollout, d.loaded, d.err, d.loadedAt = &r, true, nil, d.env.Now()
		d.sortAgents()
		return tea.Batch(ui.Flash(doneText(msg.Action, r), false), d.Refresh()), true
	}
	return nil, false
}

// sortAgents orders the agents by wave, then by name.
func (d *Detail) sortAgents() {
	if d.rollout == nil {
		return
	}
	ag := d.rollout.Agents
	sort.SliceStable(ag, func(i, j int) bool {
		if ag[i].Wave != ag[j].Wave {
			return ag[i].Wave < ag[j].Wave
		}
		if a, b := strings.ToLower(ag[i].AgentName), strings.ToLower(ag[j].AgentName); a != b {
			return a < b
		}
		return ag[i].AgentID.String() < ag[j].AgentID.String()
	})
	d.cursor = max(min(d.cursor, len(ag)-1), 0)
}

// Keys lists the keys of the rollout view: the actions that apply to the rollout's status,
// then moving and refreshing.
func (d *Detail) Keys() []key.Binding {
	var ks []key.Binding
	if d.rollout != nil {
		for _, a := range []struct {
			action string
			k      key.Binding
		}{{ActionPromote, KeyPromote}, {ActionPause, KeyPause}, {ActionResume, KeyResume}, {ActionAbort, KeyAbort}} {
			if Applies(a.action, d.rollout.Status) {
				ks = append(ks, a.k)
			}
		}
	}
	return append(ks, ui.KeyUp, ui.KeyDown, ui.KeyRefresh)
}

// Key handles a key of the rollout view.
func (d *Detail) Key(k tea.KeyPressMsg) tea.Cmd {
	switch {
	case key.Matches(k, ui.KeyRefresh):
		return d.Refresh()
	case key.Matches(k, KeyPromote):
		return d.action(ActionPromote)
	case key.Matches(k, KeyPause):
		return d.action(ActionPause)
	case key.Matches(k, KeyResume):
		return d.action(ActionResume)
	case key.Matches(k, KeyAbort):
		return d.action(ActionAbort)
	}
	n := 0
	if d.rollout != nil {
		n = len(d.rollout.Agents)
	}
	cur, _ := ui.ScrollKey(k, d.cursor, max(d.page, 1), n-1)
	d.cursor = max(min(cur, n-1), 0)
	return nil
}

// action asks the broker to act on the rollout (abort after a confirmation). An action the
// rollout's status rules out is refused here, without asking.
func (d *Detail) action(action string) tea.Cmd {
	r := d.rollout
	switch {
	case r == nil && d.loaded:
		return ui.Flash(action+": "+d.stack.Name+" has no rollout", true)
	case r == nil:
		return ui.Flash(action+": the rollout is still loading", true)
	case d.busy != "":
		return ui.Flash(action+": waiting for the broker to "+d.busy, true)
	case !Applies(action, r.Status):
		return ui.Flash(fmt.Sprintf("%s: the rollout is %s", action, r.Status), true)
	}
	run := act(*d.env, d.session, d.stack.ID, action)
	if action == ActionAbort {
		prompt := fmt.Sprintf("Abort the rollout of %s? Its agents go back to the object they had before", ui.Sanitize(d.stack.Name))
		return ui.Confirm(prompt, run)
	}
	d.busy = action
	return run
}

// Applies reports whether an action applies to a rollout of this status.
func Applies(action, status string) bool {
	switch action {
	case ActionPromote, ActionPause:
		return status == client.RolloutProgressing || status == client.RolloutWaiting
	case ActionResume:
		return status == client.RolloutPaused || status == client.RolloutHalted
	case ActionAbort:
		return client.Rollout{Status: status}.Active()
	}
	return false
}

// doneText is the flash of an action the broker carried out.
func doneText(action string, r client.Rollout) string {
	switch action {
	case ActionPromote:
		if r.Status == client.RolloutCompleted {
			return "promoted: the rollout is completed"
		}
		return fmt.Sprintf("promoted: wave %d/%d %s unlocked", r.CurrentWave+1, len(r.Waves), waveName(&r, r.CurrentWave))
	case ActionPause:
		return "rollout paused"
	case ActionResume:
		return "rollout resumed"
	case ActionAbort:
		return "rollout aborted: agents go back to the object they had before"
	}
	return action + ": " + r.Status
}

// errText is an action's error for the status line: a read-only key's refusal is
// explained, the broker's message is shown without the request line.
func errText(err error) string {
	if client.IsReadOnlyRefusal(err) {
		return ui.ReadOnlyText
	}
	if ae, ok := client.AsError(err); ok && ae.Message != "" {
		return ui.FirstLine(ae.Message)
	}
	return err.Error()
}
