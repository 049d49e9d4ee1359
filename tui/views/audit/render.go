package audit

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Render implements ui.View.
func (m *Model) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if m.open {
		return m.renderDetail(width, height)
	}
	return m.renderList(width, height)
}

func (m *Model) renderList(width, height int) string {
	s := m.env.Styles
	now := m.env.Now()
	vis := m.visible()
	var lines []string
	switch {
	case !m.loaded && m.err == nil:
		lines = append(lines, s.Muted.Render("loading audit log…"))
	case m.loaded:
		line := "no matching entries"
		if len(m.entries) > 0 {
			pages := (m.total + int64(m.pageSize) - 1) / int64(m.pageSize)
			line = fmt.Sprintf("entries %d–%d of %d · page %d/%d", m.shown.Offset+1, m.shown.Offset+len(m.entries),
				m.total, m.shown.Offset/m.pageSize+1, max(pages, 1))
		}
		if m.list.Filter != "" {
			line += fmt.Sprintf(" · %d shown", len(vis))
		}
		if m.query != m.shown {
			line += " · loading…"
		}
		lines = append(lines, s.Muted.Render(line))
	}
	if f := filterSummary(m.query); f != "" {
		lines = append(lines, s.Muted.Render("server filters: ")+f+s.Muted.Render("  (f edits)"))
	}
	if m.err != nil {
		lines = append(lines, s.Bad.Render("error: "+ui.FirstLine(m.err.Error())))
	}
	if f := m.list.FilterLine(s); f != "" {
		lines = append(lines, f)
	}
	if m.form != nil && height-len(lines) >= m.form.height() {
		lines = append(lines, m.form.render(width))
	}
	body := height - strings.Count(strings.Join(lines, "\n"), "\n") - 1
	switch {
	case body < 2:
	case m.loaded && len(m.entries) == 0:
		lines = append(lines, "", s.Muted.Render("No audit entries."))
	case m.loaded && len(vis) == 0:
		lines = append(lines, "", s.Muted.Render("No entry on this page matches the filter."))
	case len(vis) > 0:
		m.list.SetPage(max(body-2, 1))
		rows := make([][]string, len(vis))
		cols := []ui.Column{{Title: "TIME", Width: 4}, {Title: "ACTOR", Width: 14}, {Title: "ACTION", Width: 20},
			{Title: "RESOURCE", Width: 19}, {Title: "DETAILS"}}
		wide := width >= 110
		if wide {
			cols[1].Width, cols[2].Width, cols[3].Width = 18, 23, 30
		}
		cols[4].Width = max(width-cols[0].Width-cols[1].Width-cols[2].Width-cols[3].Width-4, 4)
		for i, idx := range vis {
			e := m.entries[idx]
			rows[i] = []string{ui.Age(now, e.Timestamp), actorCell(e), e.Action, resourceCell(e, !wide), oneLineJSON(e.Details)}
		}
		lines = append(lines, ui.Table(s, cols, rows, m.list.Cursor, width, body))
	}
	return ui.FrameText(strings.Join(lines, "\n"), width, height)
}

// filterSummary lists the server-side filters of q ("" when there are none).
func filterSummary(q Query) string {
	var parts []string
	add := func(name, v string) {
		if v != "" {
			parts = append(parts, name+"="+v)
		}
	}
	add("action", q.Action)
	add("actor_type", q.ActorType)
	add("actor_id", clipID(q.ActorID))
	add("resource_type", q.ResourceType)
	add("resource_id", clipID(q.ResourceID))
	add("since", q.Since)
	return strings.Join(parts, " ")
}

// clipID cuts a typed UUID to its first 8 characters.
func clipID(s string) string {
	if len(s) > 8 {
		return s[:8] + "…"
	}
	return s
}

// actorCell is "type/name" (or the id's first 8 characters when the actor has no name).
func actorCell(e client.AuditLogEntry) string {
	switch {
	case e.ActorName != nil && *e.ActorName != "" && *e.ActorName != e.ActorType:
		return e.ActorType + "/" + *e.ActorName
	case e.ActorID != nil:
		return e.ActorType + "/" + e.ActorID.String()[:8]
	}
	return e.ActorType
}

// resourceCell is "type/id-prefix"; short abbreviates the longest resource type.
func resourceCell(e client.AuditLogEntry, short bool) string {
	t := e.ResourceType
	if short && t == "webhook_subscription" {
		t = "webhook"
	}
	if e.ResourceID != nil {
		return t + "/" + e.ResourceID.String()[:8]
	}
	return t
}

// oneLineJSON renders details compactly on one line ("-" when there are none).
func oneLineJSON(raw json.RawMessage) string {
	if isEmptyJSON(raw) {
		return "-"
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return ui.FirstLine(string(raw))
	}
	return b.String()
}

func isEmptyJSON(raw json.RawMessage) bool {
	t := strings.TrimSpace(string(raw))
	return t == "" || t == "null" || t == "{}"
}

func (m *Model) renderDetail(width, height int) string {
	if width >= 6 && height >= 3 {
		m.viewH = height - 2
	}
	return ui.ScrollBox(m.env.Styles, "audit entry "+m.entry.Action, m.detailLines(), m.scroll, width, height)
}

// detailLines is the detail's content: the entry's fields, then its details pretty-printed.
func (m *Model) detailLines() []string {
	s := m.env.Styles
	e := m.entry
	field := func(name, value string) string { return s.Header.Render(ui.Fit(name, 12)) + " " + value }
	actor := e.ActorType
	if e.ActorName != nil && *e.ActorName != "" {
		actor += " " + *e.ActorName
	}
	if e.ActorID != nil {
		actor += s.Muted.Render(" · ") + e.ActorID.String()
	}
	resource := e.ResourceType
	if e.ResourceID != nil {
		resource += s.Muted.Render(" · ") + e.ResourceID.String()
	}
	lines := []string{
		field("ID", e.ID.String()),
		field("Time", ui.Stamp(m.env.Now(), e.Timestamp)),
		field("Actor", actor),
		field("Action", e.Action),
		field("Resource", resource),
	}
	if e.IPAddress != nil {
		lines = append(lines, field("IP address", *e.IPAddress))
	}
	if e.UserAgent != nil {
		lines = append(lines, field("User agent", *e.UserAgent))
	}
	lines = append(lines, "", s.Title.Render("Details"))
	if isEmptyJSON(e.Details) {
		return append(lines, s.Muted.Render("(none)"))
	}
	var b bytes.Buffer
	if err := json.Indent(&b, e.Details, "", "  "); err != nil {
		return append(lines, strings.Split(string(e.Details), "\n")...)
	}
	return append(lines, strings.Split(b.String(), "\n")...)
}
