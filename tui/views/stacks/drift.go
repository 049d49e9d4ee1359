package stacks

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// isDeploy reports whether an agent event is the outcome of applying an object (and not a
// drift or dependency report); events of brokers that do not type them are.
func isDeploy(ev client.AgentEvent) bool {
	return ev.EventType == "" || ev.EventType == client.EventTypeDeploy
}

// optional drops the error of a request an older broker does not know (404), so it does not
// read as an unreachable broker.
func optional(err error) error {
	if client.IsNotFound(err) {
		return nil
	}
	return err
}

// loadDrift fetches a stack's drift and dependencies.
func loadDrift(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.StackDrift, error, *client.StackDependencies, error) {
	drift, derr := c.Stacks().Drift(ctx, id)
	if derr != nil {
		derr = fmt.Errorf("stack drift: %w", derr)
	}
	deps, perr := c.Stacks().Dependencies(ctx, id)
	if perr != nil {
		return drift, derr, nil, fmt.Errorf("stack dependencies: %w", perr)
	}
	return drift, derr, &deps, nil
}

// countCell renders a count of agents for the list: "-" for none, "?" when unknown.
func (v *Model) countCell(n int) string {
	s := v.env.Styles
	switch {
	case n < 0:
		return "?"
	case n == 0:
		return s.Muted.Render("-")
	}
	return s.Warn.Render(fmt.Sprint(n))
}

// agentDrift returns the open stack's drift on an agent, if any.
func (d *detail) agentDrift(id uuid.UUID) *client.StackDrift {
	for i := range d.drift {
		if d.drift[i].AgentID == id {
			return &d.drift[i]
		}
	}
	return nil
}

// agentWait returns what an agent waits for before it applies the open stack, if it waits.
func (d *detail) agentWait(id uuid.UUID) *client.WaitingAgent {
	if d.deps == nil {
		return nil
	}
	for i := range d.deps.Waiting {
		if d.deps.Waiting[i].AgentID == id {
			return &d.deps.Waiting[i]
		}
	}
	return nil
}

// waitText says what an agent waits for: "db (latest object not applied), cache (...)".
func waitText(w client.WaitingAgent) string {
	parts := make([]string, 0, len(w.WaitingFor))
	for _, f := range w.WaitingFor {
		name := f.StackName
		if name == "" {
			name = ui.ShortID(f.StackID)
		}
		parts = append(parts, name+" ("+collapseSpace(f.Reason)+")")
	}
	return strings.Join(parts, ", ")
}

// objectRef renders a drifted object as [namespace/]kind/name.
func objectRef(o client.DriftedObject) string {
	ref := o.Kind + "/" + o.Name
	if o.Namespace != "" {
		ref = o.Namespace + "/" + ref
	}
	return ref
}

var driftColumns = []ui.Column{
	{Title: "AGENT", Width: 16},
	{Title: "STATUS", Width: 9},
	{Title: "OBJECT", Width: 28},
	{Title: "AGE", Width: 4},
	{Title: "PATHS"},
}

// renderDrift draws the drift pane: what the stack depends on, the agents waiting for
// those stacks, and the drifted objects per agent.
func (v *Model) renderDrift(width, height int) []string {
	s := v.env.Styles
	d := v.detail
	now := v.env.Now()
	var out []string
	switch {
	case d.deps != nil:
		on := make([]string, 0, len(d.deps.DependsOn))
		for _, r := range d.deps.DependsOn {
			on = append(on, r.Name)
		}
		if len(on) == 0 {
			out = append(out, s.Muted.Render("depends on no stack"))
		} else {
			out = append(out, "depends on "+strings.Join(on, ", "))
		}
		for _, w := range d.deps.Waiting {
			out = append(out, s.Warn.Render("waiting ")+w.AgentName+s.Muted.Render(" for ")+waitText(w)+
				s.Muted.Render(" · since "+ui.Age(now, w.Since)))
		}
	case d.depsErr != nil:
		out = append(out, s.Bad.Render("cannot read dependencies: "+collapseSpace(d.depsErr.Error())))
	}
	if d.driftErr != nil {
		return append(out, s.Bad.Render("cannot read drift: "+collapseSpace(d.driftErr.Error())))
	}
	if !d.driftOK {
		return append(out, s.Muted.Render("loading drift…"))
	}
	if len(d.drift) == 0 {
		return append(out, s.Good.Render("no drift")+s.Muted.Render(": every agent's objects match the manifest"))
	}
	var cells [][]string
	for _, dr := range d.drift {
		for _, o := range dr.Objects {
			cells = append(cells, []string{dr.AgentName, s.Warn.Render(dr.Status), objectRef(o),
				ui.Age(now, dr.ReportedAt), strings.Join(o.Paths, ", ")})
		}
		if len(dr.Objects) == 0 {
			cells = append(cells, []string{dr.AgentName, s.Warn.Render(dr.Status), "-", ui.Age(now, dr.ReportedAt), ""})
		}
	}
	h := height - len(out)
	v.pageRows = max(h-1, 1)
	if h >= 2 {
		out = append(out, strings.Split(ui.Table(s, driftColumns, cells, -1, width, h), "\n")...)
	}
	return out
}
