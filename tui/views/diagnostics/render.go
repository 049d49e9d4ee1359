package diagnostics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"go.yaml.in/yaml/v3"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

var (
	agentColumns = []ui.Column{
		{Title: "NAME"},
		{Title: "CLUSTER", Width: 16},
		{Title: "STATUS", Width: 10},
		{Title: "HEARTBEAT", Width: 9},
	}
	objectColumns = []ui.Column{
		{Title: "STACK", Width: 18},
		{Title: "SEQ", Width: 5},
		{Title: "OBJECT", Width: 8},
		{Title: "CONTENT"},
		{Title: "SUBMITTED", Width: 9},
	}
	historyColumns = []ui.Column{
		{Title: "REQUEST", Width: 8},
		{Title: "AGENT", Width: 14},
		{Title: "OBJECT"},
		{Title: "STATUS", Width: 10},
		{Title: "AGE", Width: 4},
	}
	tabNames = [tabs]string{"Pods", "Events", "Logs"}
)

// Render implements ui.View.
func (m *Model) Render(width, height int) string {
	m.width, m.height = width, height
	if width < 1 || height < 1 {
		return ""
	}
	var lines []string
	switch m.screen {
	case screenObjects:
		lines = m.renderObjects(width, height)
	case screenWaiting:
		lines = m.renderWaiting(width)
	case screenResult:
		lines = m.renderResult(width, height)
	case screenHistory:
		lines = m.renderHistory(width, height)
	default:
		lines = m.renderAgents(width, height)
	}
	return ui.Frame(lines, width, height)
}

// table appends a table filling the lines left of height.
func table(s *ui.Styles, lines []string, cols []ui.Column, cells [][]string, l *ui.List, width, height int) []string {
	h := height - len(lines)
	l.SetPage(max(h-1, 1))
	return append(lines, strings.Split(ui.Table(s, cols, cells, l.Cursor, width, h), "\n")...)
}

func (m *Model) renderAgents(width, height int) []string {
	s := m.env.Styles
	lines := []string{s.Title.Render("Diagnostics") + s.Muted.Render(" · pick an agent")}
	if m.agentsErr != nil {
		lines = append(lines, s.Bad.Render("load failed: "+ui.FirstLine(m.agentsErr.Error())))
	}
	if fl := m.agentList.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	rows := m.visibleAgents()
	switch {
	case !m.agentsOK && m.agentsErr == nil:
		return append(lines, s.Muted.Render("loading agents…"))
	case !m.agentsOK:
		return lines
	case len(m.agents) == 0:
		return append(lines, "", s.Muted.Render("No agents yet."))
	case len(rows) == 0:
		return append(lines, "", s.Muted.Render("No agent matches the filter."))
	}
	now := m.env.Now()
	cells := make([][]string, len(rows))
	for i, a := range rows {
		hb := "-"
		if a.LastHeartbeat != nil {
			hb = ui.Age(now, *a.LastHeartbeat)
		}
		cells[i] = []string{a.Name, a.ClusterName, s.Status(a.Status), hb}
	}
	return table(s, lines, agentColumns, cells, &m.agentList, width, height)
}

// inactiveNote warns that an agent that is not ACTIVE answers no diagnostic request.
func (m *Model) inactiveNote(a client.Agent) string {
	if a.Status == "" || a.Status == "ACTIVE" {
		return ""
	}
	return m.env.Styles.Warn.Render(a.Name + " is " + a.Status + ": agents collect diagnostics only while ACTIVE")
}

func (m *Model) renderObjects(width, height int) []string {
	s := m.env.Styles
	a := m.agent
	head := s.Title.Render("Diagnostics · "+a.Name) + s.Muted.Render(" ("+a.ClusterName+") ") + s.Status(a.Status)
	lines := []string{head}
	if note := m.inactiveNote(a); note != "" {
		lines = append(lines, note)
	}
	if m.objectsErr != nil {
		lines = append(lines, s.Bad.Render("load failed: "+ui.FirstLine(m.objectsErr.Error())))
	}
	if fl := m.objList.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	rows := m.visibleObjects()
	switch {
	case !m.objectsOK && m.objectsErr == nil:
		return append(lines, s.Muted.Render("loading deployment objects…"))
	case !m.objectsOK:
		return lines
	case len(m.objects) == 0:
		return append(lines, "", s.Muted.Render("No deployment objects: no stack associated with "+a.Name+" has one."))
	case len(rows) == 0:
		return append(lines, "", s.Muted.Render("No deployment object matches the filter."))
	}
	now := m.env.Now()
	cells := make([][]string, len(rows))
	for i, o := range rows {
		cells[i] = []string{o.stack, fmt.Sprint(o.obj.SequenceID), ui.ShortID(o.obj.ID), o.content, ui.Age(now, o.obj.SubmittedAt)}
	}
	return table(s, lines, objectColumns, cells, &m.objList, width, height)
}

// label names a request's object: its stack and sequence id.
func (e *entry) label() string {
	if e.object.obj.SequenceID == 0 {
		return e.object.stack + " (object " + ui.ShortID(e.object.obj.ID) + ")"
	}
	return fmt.Sprintf("%s #%d", e.object.stack, e.object.obj.SequenceID)
}

func (m *Model) renderWaiting(width int) []string {
	s := m.env.Styles
	e := m.cur
	if e == nil {
		return nil
	}
	now := m.env.Now()
	lines := []string{s.Title.Render("Diagnostics of "+e.label()) + s.Muted.Render(" on "+e.agent.Name), ""}
	req := e.req
	switch {
	case m.creating && m.waitErr != nil:
		lines = append(lines, wrap(s.Bad.Render("✗ The request could not be made: "+m.waitErr.Error()), width, "")...)
		return append(lines, "", s.Muted.Render("n tries again · esc goes back"))
	case m.creating:
		lines = append(lines, m.spin.View()+" Sending the request…")
		return lines
	case m.final && m.waitErr != nil:
		lines = append(lines, wrap(s.Bad.Render("✗ The request is gone from the broker: "+m.waitErr.Error()), width, "")...)
	case m.final && req.Status == client.DiagnosticFailed:
		lines = append(lines, s.Bad.Render("✗ The request failed."))
	case m.final:
		lines = append(lines, s.Bad.Render("✗ The request expired before "+e.agent.Name+" answered."))
	default:
		lines = append(lines, m.spin.View()+" Waiting for "+e.agent.Name+" to collect diagnostics… "+s.Status(req.Status))
	}
	lines = append(lines, "")
	field := func(name, value string) { lines = append(lines, "  "+s.Muted.Render(ui.Fit(name, 11))+value) }
	field("Request", req.ID.String())
	field("Object", e.object.obj.ID.String())
	requested := ui.Age(now, req.CreatedAt) + " ago"
	if req.RequestedBy != nil {
		requested += " by " + *req.RequestedBy
	}
	field("Requested", requested)
	if req.ClaimedAt != nil {
		field("Claimed", ui.Age(now, *req.ClaimedAt)+" ago")
	}
	if req.ExpiresAt.After(now) {
		field("Expires", "in "+ui.Age(req.ExpiresAt, now))
	} else {
		field("Expired", ui.Age(now, req.ExpiresAt)+" ago")
	}
	lines = append(lines, "")
	if note := m.inactiveNote(e.agent); note != "" {
		lines = append(lines, note)
	}
	if m.waitErr != nil && !m.final {
		lines = append(lines, wrap(s.Warn.Render("last poll failed (retrying): "+m.waitErr.Error()), width, "")...)
	}
	if m.final {
		return append(lines, s.Muted.Render("n requests again · esc goes back"))
	}
	return append(lines,
		s.Muted.Render("Agents look for diagnostic requests every 10 s."),
		s.Muted.Render("esc stops waiting; the request stays on the broker until it expires."))
}

// resultBodyHeight is how many lines of a tab the result screen shows.
func (m *Model) resultBodyHeight(height int) int { return max(height-3, 1) }

func (m *Model) renderResult(width, height int) []string {
	s := m.env.Styles
	e := m.cur
	if e == nil || e.result == nil {
		return nil
	}
	r := e.result
	now := m.env.Now()
	head := s.Title.Render("Diagnostics of "+e.label()) + s.Muted.Render(" on "+e.agent.Name+" · collected "+ui.Age(now, r.collectedAt)+" ago")
	var tabsLine strings.Builder
	keys := [tabs]string{"p", "e", "l"}
	for t := range tabs {
		label := fmt.Sprintf("%s %s (%s)", keys[t], tabNames[t], r.count(t))
		if t == m.tab {
			tabsLine.WriteString(s.ActiveTab.Render("[" + label + "]"))
		} else {
			tabsLine.WriteString(s.Tab.Render(" " + label + " "))
		}
		tabsLine.WriteString(" ")
	}
	body := m.tabLines(m.tab, width)
	bodyH := m.resultBodyHeight(height)
	scroll := max(min(m.scroll[m.tab], len(body)-bodyH), 0)
	tl := tabsLine.String()
	if len(body) > bodyH {
		pos := fmt.Sprintf("%d-%d/%d", scroll+1, min(scroll+bodyH, len(body)), len(body))
		if gap := width - ansi.StringWidth(tl) - len(pos); gap > 0 {
			tl += strings.Repeat(" ", gap) + s.Muted.Render(pos)
		}
	}
	lines := []string{head, tl, s.Muted.Render(strings.Repeat("─", width))}
	return append(lines, body[scroll:min(scroll+bodyH, len(body))]...)
}

func (m *Model) renderHistory(width, height int) []string {
	s := m.env.Styles
	lines := []string{s.Title.Render("Diagnostics") + s.Muted.Render(" · requests of this session")}
	if fl := m.hist.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	rows := m.visibleHistory()
	switch {
	case len(m.history) == 0:
		return append(lines, "", s.Muted.Render("No requests yet. Pick an agent and one of its objects, then press enter."))
	case len(rows) == 0:
		return append(lines, "", s.Muted.Render("No request matches the filter."))
	}
	now := m.env.Now()
	cells := make([][]string, len(rows))
	for i, e := range rows {
		cells[i] = []string{ui.ShortID(e.req.ID), e.agent.Name, e.label(), s.Status(e.req.Status), ui.Age(now, e.req.CreatedAt)}
	}
	return table(s, lines, historyColumns, cells, &m.hist, width, height)
}

// maxKinds is how many resources the CONTENT column names before it counts the rest.
const maxKinds = 2

// summarize says what a deployment object holds: its resources as Kind/name.
func summarize(o client.DeploymentObject) string {
	if o.IsDeletionMarker {
		return "(deletion marker)"
	}
	dec := yaml.NewDecoder(bytes.NewReader([]byte(o.YAMLContent)))
	var names []string
	for {
		var doc struct {
			Kind     string `yaml:"kind"`
			Metadata struct {
				Name string `yaml:"name"`
			} `yaml:"metadata"`
		}
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return "(YAML not readable)"
		}
		if doc.Kind == "" && doc.Metadata.Name == "" {
			continue
		}
		names = append(names, doc.Kind+"/"+doc.Metadata.Name)
	}
	switch {
	case len(names) == 0:
		return "(empty)"
	case len(names) > maxKinds:
		return strings.Join(names[:maxKinds], ", ") + fmt.Sprintf(" +%d more", len(names)-maxKinds)
	}
	return strings.Join(names, ", ")
}
