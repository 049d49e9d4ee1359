package specs

import (
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/client"
)

// WindowRow is an apply window with the names of the stacks it is limited to: a row of the
// window table.
type WindowRow struct {
	Window client.ApplyWindow
	// Stacks names the window's stacks (an id stands for a stack whose name is unknown).
	Stacks []string
}

// WindowRows pairs windows with the names of their stacks (stackNames maps ids to names).
func WindowRows(windows []client.ApplyWindow, stackNames map[uuid.UUID]string) []WindowRow {
	rows := make([]WindowRow, 0, len(windows))
	for _, w := range windows {
		row := WindowRow{Window: w}
		for _, id := range w.StackIDs {
			name, ok := stackNames[id]
			if !ok {
				name = id.String()
			}
			row.Stacks = append(row.Stacks, name)
		}
		rows = append(rows, row)
	}
	return rows
}

// ApplyWindow is the table of apply windows.
var ApplyWindow = output.Spec[WindowRow]{
	Kind:   "window",
	Plural: "apply windows",
	Name:   func(r WindowRow) string { return r.Window.Name },
	Columns: []output.Column[WindowRow]{
		output.Text("NAME", func(r WindowRow) string { return r.Window.Name }),
		output.Text("KIND", func(r WindowRow) string { return r.Window.Kind }),
		output.Text("SCHEDULE", func(r WindowRow) string { return r.Window.Schedule }),
		output.Text("DURATION", func(r WindowRow) string { return r.Window.Duration }),
		output.Text("TIME ZONE", func(r WindowRow) string { return orDefault(r.Window.TimeZone, "UTC") }),
		output.Text("OPEN", func(r WindowRow) string { return output.YesNo(r.Window.Open) }),
		output.Age("NEXT OPEN", func(r WindowRow) *time.Time { return r.Window.NextOpenAt }),
		output.Age("NEXT CLOSE", func(r WindowRow) *time.Time { return r.Window.NextCloseAt }),
		output.Text("AGENTS", func(r WindowRow) string { return SelectorText(r.Window.Selector) }),
		output.Text("STACKS", func(r WindowRow) string {
			if len(r.Stacks) == 0 {
				return "all"
			}
			return strings.Join(r.Stacks, ",")
		}),
		output.WideOnly(output.Text("ID", func(r WindowRow) string { return r.Window.ID.String() })),
		output.WideOnly(output.Text("DESCRIPTION", func(r WindowRow) string { return orDash(r.Window.Description) })),
	},
}

// HoldRow is a deployment object held back from an agent, with the wave it waits in when a
// rollout holds it: a row of the holds table.
type HoldRow struct {
	Hold client.Hold
	// Wave names the rollout wave ("1 (eu)"); empty for window holds.
	Wave string
}

// HoldRows pairs holds with the names of the waves they wait in; rollouts maps rollout ids
// to the rollouts known, which also tell the wave of an agent when the hold does not (a hold
// of another rollout shows the wave index alone).
func HoldRows(holds []client.Hold, rollouts map[uuid.UUID]client.Rollout) []HoldRow {
	rows := make([]HoldRow, 0, len(holds))
	for _, h := range holds {
		row := HoldRow{Hold: h}
		var r client.Rollout
		if h.RolloutID != nil {
			r = rollouts[*h.RolloutID]
		}
		if wave, ok := holdWave(h, r); ok {
			row.Wave = WaveName(r, wave)
		}
		rows = append(rows, row)
	}
	return rows
}

// holdWave returns the wave a rollout hold waits in: the hold's own, or the agent's in r.
func holdWave(h client.Hold, r client.Rollout) (int, bool) {
	if h.Wave != nil {
		return *h.Wave, true
	}
	if h.Reason != client.HoldRollout {
		return 0, false
	}
	for _, a := range r.Agents {
		if a.AgentID == h.AgentID {
			return a.Wave, true
		}
	}
	return 0, false
}

// HoldReason renders why an object is held: "window NAME" or "rollout wave N (NAME)".
func HoldReason(r HoldRow) string {
	h := r.Hold
	switch {
	case h.Reason == client.HoldWindow && h.WindowName != "":
		return "window " + h.WindowName
	case h.Reason == client.HoldRollout && r.Wave != "":
		return "rollout wave " + r.Wave
	}
	return orDash(h.Reason)
}

// Hold is the table of held deployment objects.
var Hold = output.Spec[HoldRow]{
	Kind:   "hold",
	Plural: "held objects",
	Name:   func(r HoldRow) string { return r.Hold.AgentName + "/" + r.Hold.StackName },
	Columns: []output.Column[HoldRow]{
		output.Text("AGENT", func(r HoldRow) string { return r.Hold.AgentName }),
		output.Text("STACK", func(r HoldRow) string { return r.Hold.StackName }),
		output.Text("HELD OBJECT", func(r HoldRow) string { return r.Hold.DeploymentObjectID.String() }),
		output.Text("SERVING", func(r HoldRow) string {
			if r.Hold.ServingObjectID == nil {
				return "nothing"
			}
			return r.Hold.ServingObjectID.String()
		}),
		output.Text("REASON", HoldReason),
		output.Age("UNTIL", func(r HoldRow) *time.Time { return r.Hold.Until }),
		output.WideOnly(output.Text("AGENT ID", func(r HoldRow) string { return r.Hold.AgentID.String() })),
		output.WideOnly(output.Text("STACK ID", func(r HoldRow) string { return r.Hold.StackID.String() })),
	},
}

// PrintHolds prints holds: the wire list for json and yaml, otherwise the holds table.
func PrintHolds(p *output.Printer, l resolve.Holds) error {
	holds := l.Holds
	if holds == nil {
		holds = []client.Hold{}
	}
	if ok, err := p.PrintWire(holds); ok {
		return err
	}
	return output.PrintList(p, Hold, HoldRows(holds, l.Rollouts))
}

// HoldSummary counts holds by reason: "2 agents by rollout wave 1 (eu), 1 agent by window
// freeze"; empty when there are none.
func HoldSummary(l resolve.Holds) string {
	counts := map[string]int{}
	var order []string
	for _, r := range HoldRows(l.Holds, l.Rollouts) {
		reason := HoldReason(r)
		if counts[reason] == 0 {
			order = append(order, reason)
		}
		counts[reason]++
	}
	parts := make([]string, 0, len(order))
	for _, reason := range order {
		what := "agents"
		if counts[reason] == 1 {
			what = "agent"
		}
		parts = append(parts, fmt.Sprintf("%d %s by %s", counts[reason], what, reason))
	}
	return strings.Join(parts, ", ")
}
