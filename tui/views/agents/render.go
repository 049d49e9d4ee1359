package agents

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Fixed column widths of the list; NAME, CLUSTER and LABELS share the rest.
const (
	statusWidth    = 8
	heartbeatWidth = 9
	k8sWidth       = 11
	driftWidth     = 5
	waitWidth      = 4
	// maxEvents is how many events the detail page lists.
	maxEvents = 50
)

// Render implements ui.View: exactly height lines of width cells.
func (m *Model) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	m.height = height
	var lines []string
	if m.mode == modeDetail {
		lines = m.renderDetail(width, height)
	} else {
		lines = m.renderList(width, height)
	}
	return ui.Frame(lines, width, height)
}

// footer is the bottom of both pages: the label editor or the filter, and the last error.
func (m *Model) footer(err error) []string {
	s := m.env.Styles
	var out []string
	if err != nil {
		out = append(out, s.Bad.Render("error: "+firstLine(err.Error())))
	}
	if m.editing {
		have := m.currentLabels(m.editFor.ID)
		cur := "none"
		if len(have) > 0 {
			cur = strings.Join(have, " ")
		}
		out = append(out,
			s.Muted.Render("+label adds · -label removes · enter applies · esc cancels"),
			s.Muted.Render("labels of "+agentName(m.editFor)+": ")+cur,
			m.input.View())
	} else if m.mode == modeList {
		if f := m.list.FilterLine(s); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func (m *Model) renderList(width, height int) []string {
	s := m.env.Styles
	rows := m.visible()
	active := 0
	for _, a := range m.agents {
		if a.Status == StatusActive {
			active++
		}
	}
	summary := s.Title.Render("Agents") + s.Muted.Render(fmt.Sprintf("  %d agents · %d active · %d not active", len(m.agents), active, len(m.agents)-active))
	if len(rows) != len(m.agents) {
		summary += s.Muted.Render(fmt.Sprintf(" · %d match", len(rows)))
	}
	if !m.loaded {
		summary = s.Title.Render("Agents") + s.Muted.Render("  loading…")
	}
	foot := m.footer(m.listErr)
	lines := []string{summary}
	tableH := height - 1 - len(foot)
	if tableH >= 2 {
		m.list.SetPage(tableH - 1)
		cells := make([][]string, 0, len(rows))
		for _, a := range rows {
			cells = append(cells, m.listRow(a))
		}
		table := ui.Table(s, m.columns(width), cells, m.list.Cursor, width, tableH)
		lines = append(lines, strings.Split(table, "\n")...)
		if len(rows) == 0 && m.loaded && tableH >= 3 {
			msg := "no agents"
			if len(m.agents) > 0 {
				msg = "no agent matches the filter"
			}
			lines = append(lines, s.Muted.Render("  "+msg))
		}
	}
	for len(lines) < height-len(foot) {
		lines = append(lines, "")
	}
	return append(lines[:max(height-len(foot), 0)], foot...)
}

func (m *Model) columns(width int) []ui.Column {
	rest := max(width-statusWidth-heartbeatWidth-k8sWidth-driftWidth-waitWidth-8, 12)
	return []ui.Column{
		{Title: "NAME", Width: max(rest*35/100, 4)},
		{Title: "CLUSTER", Width: max(rest/4, 4)},
		{Title: "STATUS", Width: statusWidth},
		{Title: "HEARTBEAT", Width: heartbeatWidth},
		{Title: "K8S", Width: k8sWidth},
		{Title: "DRIFT", Width: driftWidth},
		{Title: "WAIT", Width: waitWidth},
		{Title: "LABELS"},
	}
}

func (m *Model) listRow(a client.Agent) []string {
	s := m.env.Styles
	hb := s.Muted.Render("never")
	if a.LastHeartbeat != nil {
		hb = ui.Age(m.env.Now(), *a.LastHeartbeat) + " ago"
	}
	drift, wait := s.Muted.Render("?"), s.Muted.Render("?")
	if m.states != nil {
		objs, waiting := driftCounts(m.states[a.ID])
		drift, wait = m.count(objs), m.count(waiting)
	}
	return []string{a.Name, a.ClusterName, s.Status(a.Status), hb,
		m.k8sShort(a.K8sReachable, latency32(a.K8sAPILatencyMs)), drift, wait, strings.Join(m.labels[a.ID], ",")}
}

// count renders a count of the list: "-" for none, in the warning style otherwise.
func (m *Model) count(n int) string {
	if n == 0 {
		return m.env.Styles.Muted.Render("-")
	}
	return m.env.Styles.Warn.Render(strconv.Itoa(n))
}

func latency32(v *int32) *int64 {
	if v == nil {
		return nil
	}
	l := int64(*v)
	return &l
}

// k8sShort renders Kubernetes reachability in a few cells: "ok 12ms", "unreachable", "-".
func (m *Model) k8sShort(reachable *bool, latencyMs *int64) string {
	s := m.env.Styles
	switch {
	case reachable == nil:
		return s.Muted.Render("-")
	case !*reachable:
		return s.Bad.Render("unreachable")
	case latencyMs != nil:
		return s.Good.Render("ok " + strconv.FormatInt(*latencyMs, 10) + "ms")
	}
	return s.Good.Render("ok")
}

// bodyHeight is how many lines of the detail page's body fit under its title and above the
// footer.
func (m *Model) bodyHeight(height int) int {
	return max(height-1-len(m.footer(m.detailErr)), 1)
}

func (m *Model) renderDetail(width, height int) []string {
	s := m.env.Styles
	body := m.detailLines()
	bodyH := m.bodyHeight(height)
	m.clampScroll()
	title := s.Title.Render("Agent "+agentName(m.current)) + "  " + s.Status(m.current.Status)
	if len(body) > bodyH {
		pos := fmt.Sprintf("lines %d-%d of %d", m.scroll+1, min(m.scroll+bodyH, len(body)), len(body))
		gap := width - ansi.StringWidth(title) - len(pos)
		if gap >= 2 {
			title += strings.Repeat(" ", gap) + s.Muted.Render(pos)
		}
	}
	lines := []string{title}
	end := min(m.scroll+bodyH, len(body))
	lines = append(lines, body[m.scroll:end]...)
	for len(lines) < 1+bodyH {
		lines = append(lines, "")
	}
	return append(lines, m.footer(m.detailErr)...)
}

// detailLines is the whole detail page, one entry per line, before scrolling.
func (m *Model) detailLines() []string {
	s := m.env.Styles
	d := m.detail
	if d == nil {
		if m.detailErr != nil {
			return []string{s.Muted.Render("could not load the agent")}
		}
		return []string{s.Muted.Render("loading…")}
	}
	now := m.env.Now()
	a := d.Agent
	field := func(name, value string) string { return s.Muted.Render(ui.Fit(name, 12)) + value }
	ago := func(t *time.Time) string {
		if t == nil {
			return s.Muted.Render("never")
		}
		return ui.Age(now, *t) + " ago"
	}
	lines := []string{
		field("Heartbeat", ago(a.LastHeartbeat)),
		field("Kubernetes", m.k8sLong(a)),
	}
	if f := d.Fleet; f != nil {
		conn := s.Muted.Render("not connected")
		if f.WSConnected {
			conn = s.Good.Render("connected")
			if f.ConnectedSince != nil {
				conn += " for " + ui.Age(now, *f.ConnectedSince)
			}
		}
		lines = append(lines,
			field("Connection", conn),
			field("Health", m.health(f)),
			field("Pending", ui.Plural(f.PendingObjectCount, "deployment object")+" · "+
				ui.Plural(f.PendingWorkOrders, "work order")+" · "+fmt.Sprintf("%d claimed", f.ClaimedWorkOrders)),
			field("Last event", ago(f.LastEventAt)))
	}
	lines = append(lines,
		field("Created", ui.Age(now, a.CreatedAt)+" ago"),
		field("ID", a.ID.String()))

	section := func(title string, n int) {
		lines = append(lines, "", s.Header.Render(fmt.Sprintf("%s (%d)", title, n)))
		if n == 0 {
			lines = append(lines, s.Muted.Render("  none"))
		}
	}

	section("Labels", len(d.Labels))
	if len(d.Labels) > 0 {
		lines = append(lines, "  "+strings.Join(d.Labels, "  "))
	}

	section("Annotations", len(d.Annotations))
	for _, an := range d.Annotations {
		lines = append(lines, "  "+an.Key+s.Muted.Render(" = ")+an.Value)
	}

	stackNames := make(map[uuid.UUID]string, len(d.Stacks))
	for _, st := range d.Stacks {
		stackNames[st.ID] = st.Name
	}
	targeted := make(map[uuid.UUID]bool, len(d.Targets))
	section("Targets", len(d.Targets))
	for _, t := range d.Targets {
		targeted[t.StackID] = true
		name, ok := stackNames[t.StackID]
		if !ok {
			name = s.Muted.Render("stack " + t.StackID.String())
		}
		lines = append(lines, "  "+name)
	}

	section("Generator registrations", len(d.Registrations))
	regW := 0
	for _, r := range d.Registrations {
		regW = max(regW, ansi.StringWidth(m.generatorName(r.GeneratorID)))
	}
	for _, r := range d.Registrations {
		lines = append(lines, "  "+ui.Fit(m.generatorName(r.GeneratorID), min(regW, 40))+
			s.Muted.Render("  registered "+ui.Age(now, r.RegisteredAt)+" ago"))
	}

	section("Associated stacks", len(d.Stacks))
	stW := 0
	for _, st := range d.Stacks {
		stW = max(stW, ansi.StringWidth(st.Name))
	}
	for _, st := range d.Stacks {
		via := "by label/annotation"
		if targeted[st.ID] {
			via = "by target"
		}
		lines = append(lines, "  "+ui.Fit(st.Name, min(stW, 40))+s.Muted.Render("  "+via))
	}

	section("Drift and dependencies", len(d.States))
	for _, st := range d.States {
		if dr := st.Drift; dr != nil {
			head := "  " + st.Stack.Name + "  " + s.Warn.Render(dr.Status) + s.Muted.Render(" "+ui.Age(now, dr.ReportedAt)+" ago")
			lines = append(lines, head)
			for _, o := range dr.Objects {
				ref := o.Kind + "/" + o.Name
				if o.Namespace != "" {
					ref = o.Namespace + "/" + ref
				}
				lines = append(lines, "    "+ref+s.Muted.Render(": ")+strings.Join(o.Paths, ", "))
			}
		}
		if w := st.Waiting; w != nil {
			lines = append(lines, "  "+st.Stack.Name+"  "+s.Warn.Render("waiting")+" for "+waitingFor(*w)+
				s.Muted.Render(" · since "+ui.Age(now, w.Since)))
		}
	}

	section("Recent events", len(d.Events))
	for i, e := range d.Events {
		if i == maxEvents {
			lines = append(lines, s.Muted.Render(fmt.Sprintf("  … %d older", len(d.Events)-maxEvents)))
			break
		}
		msg := ""
		if e.Message != nil {
			msg = firstLine(*e.Message)
		}
		lines = append(lines, "  "+ui.Fit(ui.Age(now, e.CreatedAt), 4)+" "+ui.Fit(e.EventType, 8)+" "+
			ui.Fit(s.Status(e.Status), 8)+" "+s.Muted.Render("object "+ui.ShortID(e.DeploymentObjectID))+"  "+msg)
	}
	return lines
}

// k8sLong renders Kubernetes reachability with its latency and report age.
func (m *Model) k8sLong(a client.Agent) string {
	s := m.env.Styles
	if a.K8sReachable == nil {
		return s.Muted.Render("not reported")
	}
	out := s.Good.Render("reachable")
	if !*a.K8sReachable {
		out = s.Bad.Render("unreachable")
	}
	if a.K8sAPILatencyMs != nil {
		out += fmt.Sprintf(" · API %dms", *a.K8sAPILatencyMs)
	}
	if a.K8sReportedAt != nil {
		out += s.Muted.Render(" · reported " + ui.Age(m.env.Now(), *a.K8sReportedAt) + " ago")
	}
	return out
}

// health summarises the agent's deployment health reports.
func (m *Model) health(f *client.FleetAgentRecord) string {
	s := m.env.Styles
	if f.HealthFailing == 0 && f.HealthDegraded == 0 {
		return s.Good.Render("no failing or degraded objects")
	}
	var parts []string
	if f.HealthFailing > 0 {
		parts = append(parts, s.Bad.Render(fmt.Sprintf("%d failing", f.HealthFailing)))
	}
	if f.HealthDegraded > 0 {
		parts = append(parts, s.Warn.Render(fmt.Sprintf("%d degraded", f.HealthDegraded)))
	}
	return strings.Join(parts, " · ") + " objects"
}

func (m *Model) generatorName(id uuid.UUID) string {
	if m.detail != nil {
		if n, ok := m.detail.Generators[id]; ok {
			return n
		}
	}
	return "generator " + id.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}
