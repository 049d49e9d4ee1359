package rollouts

import (
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// HoldGroup is a set of agents held back for the same reason: a rollout wave not unlocked
// yet, or an apply window.
type HoldGroup struct {
	// Reason is client.HoldRollout or client.HoldWindow.
	Reason string
	// Wave is the rollout wave of the agents (rollout holds); -1 when the broker named none.
	Wave int
	// Window names the apply window (window holds).
	Window string
	// Until is when the hold is expected to end; nil when it waits for an operator or for
	// other agents.
	Until *time.Time
	// Agents counts the agents held.
	Agents int
}

// HoldSummary is what a stack's holds come to: how many agents are held, grouped by reason.
type HoldSummary struct {
	Agents int
	Groups []HoldGroup
}

// SummarizeHolds groups holds by reason, wave or window, and end. The groups come in a
// stable order: rollout waves by index, then windows by name, then by end.
func SummarizeHolds(holds []client.Hold) HoldSummary {
	type groupKey struct {
		reason, window string
		wave           int
		until          int64
	}
	idx := map[groupKey]int{}
	agents := map[string]bool{}
	var out HoldSummary
	for _, h := range holds {
		agents[h.AgentID.String()] = true
		k := groupKey{reason: h.Reason, window: h.WindowName, wave: -1}
		if h.Wave != nil {
			k.wave = *h.Wave
		}
		if h.Until != nil {
			k.until = h.Until.UnixNano()
		}
		if i, ok := idx[k]; ok {
			out.Groups[i].Agents++
			continue
		}
		idx[k] = len(out.Groups)
		out.Groups = append(out.Groups, HoldGroup{Reason: h.Reason, Wave: k.wave, Window: h.WindowName, Until: h.Until, Agents: 1})
	}
	out.Agents = len(agents)
	sort.SliceStable(out.Groups, func(i, j int) bool {
		a, b := out.Groups[i], out.Groups[j]
		if a.Reason != b.Reason {
			return a.Reason == client.HoldRollout
		}
		if a.Wave != b.Wave {
			return a.Wave < b.Wave
		}
		if a.Window != b.Window {
			return a.Window < b.Window
		}
		return untilBefore(a.Until, b.Until)
	})
	return out
}

func untilBefore(a, b *time.Time) bool {
	switch {
	case a == nil:
		return false
	case b == nil:
		return true
	}
	return a.Before(*b)
}

// HoldText tells why a stack's objects are held: "held 3: rollout wave canary ×2, window
// freeze until 18:00 ×1". r, when known, names the waves of the stack's rollout; "" when
// nothing is held.
func HoldText(sum HoldSummary, r *client.Rollout, now time.Time) string {
	if sum.Agents == 0 {
		return ""
	}
	parts := make([]string, 0, len(sum.Groups))
	for _, g := range sum.Groups {
		parts = append(parts, GroupText(g, r, now)+" ×"+strconv.Itoa(g.Agents))
	}
	return "held " + strconv.Itoa(sum.Agents) + ": " + strings.Join(parts, ", ")
}

// GroupText names the reason of one group of holds: "rollout wave canary", "window freeze
// until 18:00".
func GroupText(g HoldGroup, r *client.Rollout, now time.Time) string {
	var text string
	switch g.Reason {
	case client.HoldRollout:
		text = "rollout"
		if g.Wave >= 0 {
			text += " wave " + waveName(r, g.Wave)
		}
	case client.HoldWindow:
		text = "window " + ui.OrDash(ui.Sanitize(g.Window))
	default:
		text = ui.OrDash(ui.Sanitize(g.Reason))
	}
	if g.Until != nil {
		text += " until " + When(now, *g.Until)
	}
	return text
}

// waveName names wave i of r ("#2" when r does not know it).
func waveName(r *client.Rollout, i int) string {
	if r != nil && i >= 0 && i < len(r.Waves) && r.Waves[i].Name != "" {
		return ui.Sanitize(r.Waves[i].Name)
	}
	return "#" + strconv.Itoa(i+1)
}

// When renders a time to come in the dashboard's zone: "18:00" today, "Dec 2 18:00" on
// another day.
func When(now, t time.Time) string {
	t = t.In(now.Location())
	y1, m1, d1 := now.Date()
	y2, m2, d2 := t.Date()
	if y1 == y2 && m1 == m2 && d1 == d2 {
		return t.Format("15:04")
	}
	return t.Format("Jan 2 15:04")
}

// In renders how far ahead t is: "in 4m"; "now" once it passed.
func In(now, t time.Time) string {
	if !t.After(now) {
		return "now"
	}
	return "in " + ui.Age(t, now)
}
