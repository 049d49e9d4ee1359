package stacks

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Render implements ui.View.
func (v *Model) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	switch v.mode {
	case modeYAML, modeDiff:
		if v.viewer != nil {
			out := v.viewer.render(v.env.Styles, width, height)
			v.pageRows = v.viewer.height
			return out
		}
	case modeDetail:
		if v.detail != nil {
			return v.renderDetail(width, height)
		}
	case modeRollout:
		if v.ro != nil {
			return v.ro.Render(width, height)
		}
	}
	return v.renderList(width, height)
}

var listColumns = []ui.Column{
	{Title: "NAME"},
	{Title: "GENERATOR", Width: 14},
	{Title: "LABELS"},
	{Title: "OBJECTS", Width: 7},
	{Title: "HEALTH", Width: 9},
	{Title: "DRIFT", Width: 5},
	{Title: "WAITING", Width: 7},
	{Title: "CREATED", Width: 7},
}

func (v *Model) renderList(width, height int) string {
	s := v.env.Styles
	rows := v.rows()
	var head string
	switch {
	case !v.loaded && v.loadErr == nil:
		head = s.Muted.Render("loading stacks…")
	case !v.loaded:
		head = s.Bad.Render("cannot list stacks: " + collapseSpace(v.loadErr.Error()))
	default:
		head = s.Title.Render(ui.Plural(len(v.stacks), "stack"))
		if v.list.Filter != "" {
			head += s.Muted.Render(fmt.Sprintf(" · %d match", len(rows)))
		}
		if v.loadErr != nil {
			head += s.Bad.Render(" · refresh failed: "+collapseSpace(v.loadErr.Error())) +
				s.Muted.Render(" · data from "+ui.Age(v.env.Now(), v.loadedAt)+" ago")
		}
	}
	lines := []string{head}
	if fl := v.list.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	withRollouts := v.loaded && v.showRollouts()
	var below string // what the selected stack's rollout and holds come to
	if withRollouts && v.list.Cursor < len(rows) {
		st := v.stacks[rows[v.list.Cursor]]
		ex, ok := v.extras[st.ID]
		below = v.rolloutText(ex)
		switch {
		case !ok:
			below = s.Muted.Render("…")
		case below == "":
			below = s.Muted.Render("no rollout under way, nothing held")
		}
		below = ui.Sanitize(st.Name) + s.Muted.Render(" · ") + below
	}
	tableH := height - len(lines)
	if withRollouts && tableH >= 3 {
		tableH--
	} else {
		below = ""
	}
	v.tableRows = max(tableH-1, 1)
	if tableH >= 2 && v.loaded {
		cells := make([][]string, 0, len(rows))
		for _, r := range rows {
			cells = append(cells, v.listCells(v.stacks[r], withRollouts))
		}
		lines = append(lines, strings.Split(ui.Table(s, v.columns(withRollouts), cells, v.list.Cursor, width, tableH), "\n")...)
		if len(rows) == 0 {
			if len(v.stacks) == 0 {
				lines = append(lines, s.Muted.Render("no stacks"))
			} else {
				lines = append(lines, s.Muted.Render("no stack matches the filter"))
			}
		}
	}
	if below != "" { // on the last line
		for len(lines) < height-1 {
			lines = append(lines, "")
		}
		lines = append(lines[:height-1], below)
	}
	return ui.Frame(lines, width, height)
}

func (v *Model) listCells(st client.Stack, withRollouts bool) []string {
	s := v.env.Styles
	labels, objects, health := s.Muted.Render("…"), s.Muted.Render("…"), s.Muted.Render("…")
	drift, waiting := s.Muted.Render("…"), s.Muted.Render("…")
	if ex, ok := v.extras[st.ID]; ok {
		labels = strings.Join(ex.Labels, ",")
		if len(ex.Labels) == 0 {
			labels = s.Muted.Render("-")
		}
		objects = "?"
		if ex.Objects >= 0 {
			objects = strconv.Itoa(ex.Objects)
		}
		health = "?"
		if ex.Health != "" {
			health = s.Status(ex.Health)
		}
		drift, waiting = v.countCell(ex.Drifted), v.countCell(ex.Waiting)
	}
	cells := []string{st.Name, v.generatorName(st.GeneratorID), labels, objects, health, drift, waiting}
	if withRollouts {
		cell := s.Muted.Render("…")
		if ex, ok := v.extras[st.ID]; ok {
			cell = v.rolloutCell(ex)
		}
		cells = append(cells, cell)
	}
	return append(cells, ui.Age(v.env.Now(), st.CreatedAt))
}

func (v *Model) renderDetail(width, height int) string {
	s := v.env.Styles
	d := v.detail
	now := v.env.Now()

	info := fmt.Sprintf("  %s · generator %s · created %s ago", ui.ShortID(d.stack.ID), v.generatorName(d.stack.GeneratorID), ui.Age(now, d.stack.CreatedAt))
	lines := []string{s.Title.Render(d.stack.Name) + s.Muted.Render(info)}

	var st []string
	switch {
	case d.health != nil:
		st = append(st, "health "+s.Status(d.health.OverallStatus))
	case d.healthErr != nil:
		st = append(st, "health "+s.Muted.Render("?"))
	default:
		st = append(st, "health "+s.Muted.Render("…"))
	}
	if d.objLoaded {
		st = append(st, ui.Plural(len(d.objects), "version"))
	}
	switch d.liveState {
	case "live":
		st = append(st, "live "+s.Good.Render("connected"))
	case "retrying":
		msg := "retrying"
		if d.liveErr != nil {
			msg += ": " + collapseSpace(d.liveErr.Error())
		}
		st = append(st, "live "+s.Warn.Render(msg))
	default:
		st = append(st, "live "+s.Muted.Render("connecting…"))
	}
	if len(d.drift) > 0 {
		st = append(st, s.Warn.Render("drift on "+ui.Plural(len(d.drift), "agent")))
	}
	if d.deps != nil && len(d.deps.Waiting) > 0 {
		st = append(st, s.Warn.Render("waiting on "+ui.Plural(len(d.deps.Waiting), "agent")))
	}
	if ex, ok := v.extras[d.stack.ID]; ok && ex.busy() {
		st = append(st, v.rolloutCell(ex)+s.Muted.Render(" (R)"))
	}
	lines = append(lines, strings.Join(st, s.Muted.Render(" · ")))

	tabs := []struct {
		p     pane
		label string
	}{
		{paneHistory, "h history"},
		{paneAgents, "a agents"},
		{paneEvents, fmt.Sprintf("e events %d", len(d.events.lines))},
		{paneLogs, fmt.Sprintf("L logs %d", len(d.logs.lines))},
		{paneDrift, fmt.Sprintf("d drift %d", len(d.drift))},
	}
	if d.agentsOK {
		tabs[1].label = fmt.Sprintf("a agents %d", len(d.agents))
	}
	var tb []string
	for _, t := range tabs {
		if t.p == d.pane {
			tb = append(tb, s.ActiveTab.Render("["+t.label+"]"))
		} else {
			tb = append(tb, s.Tab.Render(" "+t.label+" "))
		}
	}
	lines = append(lines, strings.Join(tb, " "))

	bodyH := height - len(lines)
	if bodyH > 0 {
		var body []string
		switch d.pane {
		case paneHistory:
			body = v.renderHistory(width, bodyH)
		case paneAgents:
			body = v.renderAgents(width, bodyH)
		case paneEvents:
			body = v.renderTelemetry(&d.events, d.evScroll, "events", width, bodyH)
		case paneLogs:
			body = v.renderTelemetry(&d.logs, d.logScroll, "log lines", width, bodyH)
		case paneDrift:
			body = v.renderDrift(width, bodyH)
		}
		lines = append(lines, body...)
	}
	return ui.Frame(lines, width, height)
}

var historyColumns = []ui.Column{
	{Title: "", Width: 1},
	{Title: "SEQ", Width: 6},
	{Title: "ID", Width: 8},
	{Title: "CHECKSUM", Width: 8},
	{Title: "KIND", Width: 8},
	{Title: "HEALTH", Width: 9},
	{Title: "H/D/F", Width: 5},
	{Title: "AGE", Width: 5},
	{Title: "NOTE"},
}

func (v *Model) renderHistory(width, height int) []string {
	s := v.env.Styles
	d := v.detail
	var out []string
	if d.objErr != nil {
		out = append(out, s.Bad.Render("cannot list versions: "+collapseSpace(d.objErr.Error())))
	}
	if !d.objLoaded {
		if d.objErr == nil {
			out = append(out, s.Muted.Render("loading versions…"))
		}
		return out
	}
	perObj := map[uuid.UUID]client.DeploymentObjectHealthSummary{}
	if d.health != nil {
		for _, h := range d.health.DeploymentObjects {
			perObj[h.ID] = h
		}
	}
	now := v.env.Now()
	cells := make([][]string, 0, len(d.objects))
	for i, o := range d.objects {
		mark := ""
		if o.ID == d.mark {
			mark = "*"
		}
		kind := "manifest"
		if o.IsDeletionMarker {
			kind = s.Warn.Render("deletion")
		}
		health, hdf := s.Muted.Render("-"), s.Muted.Render("-")
		if h, ok := perObj[o.ID]; ok {
			health = s.Status(h.Status)
			hdf = fmt.Sprintf("%d/%d/%d", h.HealthyAgents, h.DegradedAgents, h.FailingAgents)
		}
		cells = append(cells, []string{mark, seqText(o.SequenceID), ui.ShortID(o.ID), shortSum(o.YAMLChecksum, 8), kind,
			health, hdf, ui.Age(now, o.SubmittedAt), v.historyNote(i, o)})
	}
	h := height - len(out)
	v.pageRows = max(h-1, 1)
	if h >= 2 {
		out = append(out, strings.Split(ui.Table(s, historyColumns, cells, d.cursor, width, h), "\n")...)
	}
	if len(d.objects) == 0 {
		out = append(out, s.Muted.Render("no deployment objects yet"))
	}
	return out
}

// historyNote says which version is the newest, which one is marked, and which agents
// last reported on it.
func (v *Model) historyNote(i int, o client.DeploymentObject) string {
	d := v.detail
	var parts []string
	if i == 0 {
		parts = append(parts, "latest")
	}
	if o.ID == d.mark {
		parts = append(parts, "marked")
	}
	ok, failed := 0, 0
	for _, a := range d.agents {
		if a.Latest == nil || a.Latest.DeploymentObjectID != o.ID {
			continue
		}
		if a.Latest.Status == "SUCCESS" {
			ok++
		} else {
			failed++
		}
	}
	if ok > 0 {
		parts = append(parts, fmt.Sprintf("applied on %d", ok))
	}
	if failed > 0 {
		parts = append(parts, fmt.Sprintf("failed on %d", failed))
	}
	return strings.Join(parts, ", ")
}

var agentColumns = []ui.Column{
	{Title: "AGENT", Width: 16},
	{Title: "CLUSTER", Width: 10},
	{Title: "STATE", Width: 8},
	{Title: "WS", Width: 3},
	{Title: "OBJECT", Width: 6},
	{Title: "RESULT", Width: 8},
	{Title: "AGE", Width: 4},
	{Title: "NOTE"},
}

func (v *Model) renderAgents(width, height int) []string {
	s := v.env.Styles
	d := v.detail
	var out []string
	if d.agentsErr != nil {
		out = append(out, s.Bad.Render("cannot load agents: "+collapseSpace(d.agentsErr.Error())))
	}
	if !d.agentsOK {
		if d.agentsErr == nil {
			out = append(out, s.Muted.Render("loading agents…"))
		}
		return out
	}
	if d.registered > d.checked {
		out = append(out, s.Warn.Render(fmt.Sprintf("targeting checked for %d of %d registered agents", d.checked, d.registered)))
	}
	var newest int64
	if len(d.objects) > 0 {
		newest = d.objects[0].SequenceID
	}
	now := v.env.Now()
	cells := make([][]string, 0, len(d.agents))
	for _, a := range d.agents {
		ws := "off"
		if a.Connected {
			ws = "on"
		}
		obj, result, age := s.Muted.Render("-"), s.Status("pending"), s.Muted.Render("-")
		var notes []string
		if a.Checked && !a.Associated {
			notes = append(notes, "no longer targeted")
		}
		if ev := a.Latest; ev != nil {
			obj = "#" + seqText(a.LatestSeq)
			result = s.Status(ev.Status)
			age = ui.Age(now, ev.CreatedAt)
			if a.LatestSeq < newest {
				notes = append(notes, "behind #"+seqText(newest))
			}
			if ev.Message != nil && *ev.Message != "" {
				notes = append(notes, collapseSpace(*ev.Message))
			}
		} else {
			notes = append(notes, "no event for this stack yet")
		}
		if w := d.agentWait(a.AgentID); w != nil {
			notes = append([]string{"waiting for " + waitText(*w)}, notes...)
		}
		if dr := d.agentDrift(a.AgentID); dr != nil {
			notes = append([]string{strings.ToLower(dr.Status) + ": " + ui.Plural(len(dr.Objects), "object")}, notes...)
		}
		cells = append(cells, []string{a.Name, a.Cluster, s.Status(a.Status), ws, obj, result, age, strings.Join(notes, "; ")})
	}
	h := height - len(out)
	v.pageRows = max(h-1, 1)
	if h >= 2 {
		out = append(out, strings.Split(ui.Table(s, agentColumns, cells, d.agentCur, width, h), "\n")...)
	}
	if len(d.agents) == 0 {
		out = append(out, s.Muted.Render("no agent serves this stack"))
	}
	return out
}

// renderTelemetry draws the newest lines of a pane that fit, scrolled up by off lines.
func (v *Model) renderTelemetry(b *teleBuffer, off int, what string, width, height int) []string {
	s := v.env.Styles
	d := v.detail
	var out []string
	head := fmt.Sprintf("%s · newest %d kept", ui.Plural(len(b.lines), strings.TrimSuffix(what, "s")), keepLines)
	if off > 0 {
		head += fmt.Sprintf(" · scrolled up %d (G: follow)", off)
	} else {
		head += " · following"
	}
	out = append(out, s.Muted.Render(head))
	if d.telemetryErr != nil {
		out = append(out, s.Bad.Render("history: "+collapseSpace(d.telemetryErr.Error())))
	}
	bodyH := height - len(out)
	v.pageRows = max(bodyH, 1)
	if len(b.lines) == 0 {
		switch {
		case !d.telemetryReady && d.telemetryErr == nil:
			out = append(out, s.Muted.Render("loading…"))
		default:
			out = append(out, s.Muted.Render("no "+what+" in the broker's retention window; new ones appear here live"))
		}
		return out
	}
	end := max(len(b.lines)-off, 0)
	start := max(end-bodyH, 0)
	loc := v.env.Now().Location()
	for _, l := range b.lines[start:end] {
		prefix := l.at.In(loc).Format("15:04:05") + " " + ui.Fit(v.agentName(l.agent), 10) + " "
		text := l.text
		switch l.kind {
		case kindWarning:
			text = s.Warn.Render(text)
		case kindGap:
			text = s.Bad.Render(text)
		}
		out = append(out, s.Muted.Render(prefix)+text)
	}
	return out
}

// agentName names an agent by what the agents pane knows; the nil id is the broker itself.
func (v *Model) agentName(id uuid.UUID) string {
	if id == uuid.Nil {
		return "broker"
	}
	if v.detail != nil {
		for _, a := range v.detail.agents {
			if a.AgentID == id {
				return a.Name
			}
		}
	}
	return ui.ShortID(id)
}

func seqText(n int64) string { return strconv.FormatInt(n, 10) }

// shortSum cuts a checksum to its first n hex digits.
func shortSum(sum string, n int) string {
	if len(sum) > n {
		return sum[:n]
	}
	return sum
}
