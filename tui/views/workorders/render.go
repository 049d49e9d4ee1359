package workorders

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// labelWidth is the width of the detail page's field names.
const labelWidth = 15

var columns = []ui.Column{
	{Title: "ID", Width: 8},
	{Title: "TYPE", Width: 10},
	{Title: "STATUS", Width: 13},
	{Title: "TARGETS"},
	{Title: "RETRIES", Width: 7},
	{Title: "CLAIMED BY", Width: 12},
	{Title: "AGE", Width: 4},
}

// Render implements ui.View.
func (m *Model) Render(width, height int) string {
	m.width, m.height = width, height
	if width < 1 || height < 1 {
		return ""
	}
	switch {
	case m.form != nil:
		return m.renderForm(width, height)
	case m.mode == modeDetail:
		return m.renderDetail(width, height)
	}
	return m.renderList(width, height)
}

func (m *Model) renderList(width, height int) string {
	s := m.env.Styles
	queued, finished := 0, 0
	for _, r := range m.rows {
		if r.queued {
			queued++
		} else {
			finished++
		}
	}
	head := s.Title.Render("Work orders")
	if m.loaded {
		head += s.Muted.Render(fmt.Sprintf(" · %d queued · %d recently finished", queued, finished))
	}
	lines := []string{head}
	if m.listErr != nil {
		text := "load failed: " + ui.FirstLine(m.listErr.Error())
		if m.loaded {
			text += " (showing the last data)"
		}
		lines = append(lines, s.Bad.Render(text))
	}
	if fl := m.list.FilterLine(s); fl != "" {
		lines = append(lines, fl)
	}
	rows := m.visible()
	switch {
	case !m.loaded && m.listErr == nil:
		lines = append(lines, s.Muted.Render("loading work orders…"))
	case !m.loaded:
	case len(m.rows) == 0:
		lines = append(lines, "", s.Muted.Render("No work orders. Press n to enqueue one from a YAML file."))
	case len(rows) == 0:
		lines = append(lines, "", s.Muted.Render("No work order matches the filter."))
	default:
		now := m.env.Now()
		cells := make([][]string, len(rows))
		for i, r := range rows {
			cells[i] = []string{ui.ShortID(r.id), r.workType, s.Status(r.status), r.targets, r.retries, r.claimedBy, ui.Age(now, r.created)}
		}
		tableH := height - len(lines)
		m.list.SetPage(max(tableH-1, 1))
		lines = append(lines, strings.Split(ui.Table(s, columns, cells, m.list.Cursor, width, tableH), "\n")...)
	}
	return ui.Frame(lines, width, height)
}

func (m *Model) bodyHeight(height int) int {
	h := height - 1
	if m.detailErr != nil {
		h--
	}
	return max(h, 1)
}

func (m *Model) renderDetail(width, height int) string {
	s := m.env.Styles
	body := m.detailLines(width)
	bodyH := m.bodyHeight(height)
	scroll := min(m.scroll, max(len(body)-bodyH, 0))
	st := ""
	switch {
	case m.log != nil && m.log.Success:
		st = client.WorkOrderCompleted
	case m.log != nil:
		st = client.WorkOrderFailed
	case m.order != nil:
		st = m.order.Status
	}
	head := s.Title.Render("Work order "+m.detailID.String()) + "  " + s.Status(st)
	if len(body) > bodyH {
		pos := fmt.Sprintf("%d-%d/%d", scroll+1, min(scroll+bodyH, len(body)), len(body))
		if gap := width - ansi.StringWidth(head) - len(pos); gap > 0 {
			head += strings.Repeat(" ", gap) + s.Muted.Render(pos)
		}
	}
	lines := []string{head}
	if m.detailErr != nil {
		lines = append(lines, s.Bad.Render("refresh failed: "+ui.FirstLine(m.detailErr.Error())))
	}
	end := min(scroll+bodyH, len(body))
	lines = append(lines, body[scroll:end]...)
	return ui.Frame(lines, width, height)
}

// detailLines renders the detail page's body for a width: the order's fields, the result of
// a finished order, and its YAML.
func (m *Model) detailLines(width int) []string {
	s := m.env.Styles
	now := m.env.Now()
	var out []string
	valueW := max(width-labelWidth, 10)
	field := func(label, value string) {
		for i, p := range strings.Split(ansi.Wrap(value, valueW, ""), "\n") {
			name := strings.Repeat(" ", labelWidth)
			if i == 0 {
				name = s.Muted.Render(ui.Fit(label, labelWidth))
			}
			out = append(out, name+p)
		}
	}
	o, l := m.order, m.log
	if o == nil && l == nil {
		if m.detailErr == nil {
			out = append(out, s.Muted.Render("loading…"))
		}
		return out
	}
	if l == nil {
		field("Type", o.WorkType)
		field("Status", s.Status(o.Status))
		field("Created", timeAndAge(now, o.CreatedAt))
		field("Updated", timeAndAge(now, o.UpdatedAt))
		if o.Status == client.WorkOrderPending && m.eligible != nil {
			names := m.eligibleNames(o.ID)
			if len(names) == 0 {
				field("Eligible", s.Warn.Render("no agent may claim it (check its targeting)"))
			} else {
				field("Eligible", strings.Join(names, ", "))
			}
		}
		claim := "-"
		if o.ClaimedBy != nil {
			claim = m.agentLabel(*o.ClaimedBy)
			if o.ClaimedAt != nil {
				claim += " at " + timeAndAge(now, *o.ClaimedAt)
			}
		}
		field("Claimed by", claim)
		if isQueued(o.Status) {
			field("Retries", fmt.Sprintf("%d of %d · backoff %ds · claim timeout %ds",
				o.RetryCount, o.MaxRetries, o.BackoffSeconds, o.ClaimTimeoutSeconds))
		} else {
			field("Retries", fmt.Sprintf("%d attempted", o.RetryCount))
		}
		if o.NextRetryAfter != nil {
			field("Next retry", timeAndAge(now, *o.NextRetryAfter))
		}
		if o.LastError != nil {
			field("Last error", s.Bad.Render(ui.Sanitize(*o.LastError)))
			if o.LastErrorAt != nil {
				field("Failed at", timeAndAge(now, *o.LastErrorAt))
			}
		}
	} else {
		// A finished order: the log entry says it all.
		field("Type", l.WorkType)
		field("Created", timeAndAge(now, l.CreatedAt))
	}
	if l != nil {
		out = append(out, "", s.Header.Render("Result"))
		outcome := s.Status(client.WorkOrderCompleted) + " (succeeded)"
		if !l.Success {
			outcome = s.Status(client.WorkOrderFailed)
		}
		field("Outcome", outcome)
		field("Completed", timeAndAge(now, l.CompletedAt))
		if l.ClaimedBy != nil {
			claim := m.agentLabel(*l.ClaimedBy)
			if l.ClaimedAt != nil {
				claim += " at " + timeAndAge(now, *l.ClaimedAt)
			}
			field("Executed by", claim)
		}
		field("Retries used", fmt.Sprintf("%d", l.RetriesAttempted))
		msg := "-"
		if l.ResultMessage != nil && *l.ResultMessage != "" {
			msg = ui.Sanitize(*l.ResultMessage)
		}
		field("Message", msg)
	}
	yaml := ""
	if l != nil {
		yaml = l.YAMLContent
	} else {
		yaml = o.YAMLContent
	}
	yaml = strings.TrimRight(ui.Sanitize(yaml), "\n")
	n := 0
	if yaml != "" {
		n = strings.Count(yaml, "\n") + 1
	}
	title := fmt.Sprintf("YAML (%d lines)", n)
	if n == 1 {
		title = "YAML (1 line)"
	}
	out = append(out, "", s.Header.Render(title))
	for _, line := range strings.Split(yaml, "\n") {
		for _, p := range strings.Split(ansi.Hardwrap(line, max(width-2, 10), true), "\n") {
			out = append(out, "  "+p)
		}
	}
	return out
}

// agentLabel names an agent with its short id.
func (m *Model) agentLabel(id uuid.UUID) string {
	if a, ok := m.agents[id]; ok && a.Name != "" {
		return a.Name + " (" + ui.ShortID(id) + ")"
	}
	return id.String()
}

// timeAndAge renders a time absolutely (UTC) and relative to now.
func timeAndAge(now, t time.Time) string {
	abs := t.UTC().Format("2006-01-02 15:04:05Z")
	if t.After(now) {
		return abs + " (in " + ui.Age(t, now) + ")"
	}
	return abs + " (" + ui.Age(now, t) + " ago)"
}

func (m *Model) renderForm(width, height int) string {
	s := m.env.Styles
	f := m.form
	var b strings.Builder
	b.WriteString("Enqueue a work order from a YAML file, for the agents you name.\n\n")
	for i := range f.inputs {
		f.inputs[i].SetWidth(max(width-labelWidth-10, 10))
		label := ui.Fit(fmt.Sprintf("%d %s", i+1, stepLabels[i]), labelWidth+2)
		var value string
		switch {
		case i == f.step:
			label = s.Key.Render(label)
			value = f.inputs[i].View()
		case i < f.step:
			value = "  " + f.inputs[i].Value()
		default:
			label = s.Muted.Render(label)
			value = s.Muted.Render("  " + f.inputs[i].Value())
		}
		b.WriteString("  " + label + value + "\n")
	}
	b.WriteString("\n")
	if f.step > stepFile && f.content != "" {
		b.WriteString(s.Muted.Render(fmt.Sprintf("  read %d lines from %s", lineCount(f.content), f.path)) + "\n")
	}
	switch {
	case f.busy && f.step == stepFile:
		b.WriteString(s.Muted.Render("  reading the file…") + "\n")
	case f.busy:
		b.WriteString(s.Muted.Render("  creating the work order…") + "\n")
	}
	if f.err != "" {
		b.WriteString(s.Bad.Render("  error: "+f.err) + "\n")
	}
	b.WriteString("\n" + s.Muted.Render("enter next · shift+tab back · esc cancel"))
	if width < 20 || height < 6 {
		return ui.FrameText(b.String(), width, height)
	}
	return ui.FrameText(ui.Box(s, "new work order", b.String(), width, height), width, height)
}
