package specs

import (
	"strings"
	"time"

	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// DriftRow is one drifted object of a stack on one agent: a row of the drift table.
type DriftRow struct {
	Drift  client.StackDrift
	Object client.DriftedObject
}

// DriftRows flattens a stack's drift into one row per agent and object; an agent's report
// without objects is one row of its own.
func DriftRows(drifts []client.StackDrift) []DriftRow {
	return flatten(drifts, func(d client.StackDrift) []client.DriftedObject { return d.Objects },
		func(d client.StackDrift, o client.DriftedObject) DriftRow { return DriftRow{Drift: d, Object: o} })
}

// flatten makes one row per group and item of the group's items, and one row with the zero
// item for a group without items.
func flatten[G, I, R any](groups []G, items func(G) []I, row func(G, I) R) []R {
	var rows []R
	for _, g := range groups {
		its := items(g)
		if len(its) == 0 {
			var zero I
			rows = append(rows, row(g, zero))
		}
		for _, it := range its {
			rows = append(rows, row(g, it))
		}
	}
	return rows
}

// DriftedObjectRef renders a drifted object as [namespace/]kind/name ("-" when none).
func DriftedObjectRef(o client.DriftedObject) string {
	if o.Kind == "" && o.Name == "" {
		return "-"
	}
	s := o.Kind + "/" + o.Name
	if o.Namespace != "" {
		s = o.Namespace + "/" + s
	}
	return s
}

// Drift is the table of a stack's drift.
var Drift = output.Spec[DriftRow]{
	Kind:   "drift",
	Plural: "drifted objects",
	Name:   func(r DriftRow) string { return r.Drift.AgentName + "/" + DriftedObjectRef(r.Object) },
	Columns: []output.Column[DriftRow]{
		output.Text("AGENT", func(r DriftRow) string { return r.Drift.AgentName }),
		output.Text("OBJECT", func(r DriftRow) string { return DriftedObjectRef(r.Object) }),
		output.Text("STATUS", func(r DriftRow) string { return r.Drift.Status }),
		output.Text("PATHS", func(r DriftRow) string {
			if len(r.Object.Paths) == 0 {
				return "-"
			}
			return strings.Join(r.Object.Paths, ",")
		}),
		output.Age("REPORTED", func(r DriftRow) *time.Time { return &r.Drift.ReportedAt }),
		output.WideOnly(output.Text("API VERSION", func(r DriftRow) string { return orDash(r.Object.APIVersion) })),
		output.WideOnly(output.Text("DEPLOYMENT OBJECT", func(r DriftRow) string { return r.Drift.DeploymentObjectID.String() })),
		output.WideOnly(output.Text("AGENT ID", func(r DriftRow) string { return r.Drift.AgentID.String() })),
	},
}

// WaitRow is one stack an agent waits for before it applies a stack: a row of the waiting
// table.
type WaitRow struct {
	Agent client.WaitingAgent
	Wait  client.DependencyWait
}

// WaitRows flattens the waiting agents of a stack into one row per agent and awaited stack.
func WaitRows(agents []client.WaitingAgent) []WaitRow {
	return flatten(agents, func(a client.WaitingAgent) []client.DependencyWait { return a.WaitingFor },
		func(a client.WaitingAgent, w client.DependencyWait) WaitRow { return WaitRow{Agent: a, Wait: w} })
}

// Waiting is the table of the agents waiting to apply a stack.
var Waiting = output.Spec[WaitRow]{
	Kind:   "waiting",
	Plural: "waiting agents",
	Name:   func(r WaitRow) string { return r.Agent.AgentName },
	Columns: []output.Column[WaitRow]{
		output.Text("AGENT", func(r WaitRow) string { return r.Agent.AgentName }),
		output.Text("WAITING FOR", func(r WaitRow) string { return orDash(r.Wait.StackName) }),
		output.Text("REASON", func(r WaitRow) string { return orDash(r.Wait.Reason) }),
		output.Age("SINCE", func(r WaitRow) *time.Time { return &r.Agent.Since }),
		output.WideOnly(output.Text("AGENT ID", func(r WaitRow) string { return r.Agent.AgentID.String() })),
	},
}

func orDash(s string) string { return output.OrDash(&s) }
