package webhooks

import (
	"fmt"
	"strconv"
	"strings"

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
	var top []string
	switch {
	case !m.loaded && m.err == nil:
		top = append(top, s.Muted.Render("loading webhooks…"))
	case m.loaded:
		enabled := 0
		for _, h := range m.hooks {
			if h.Enabled {
				enabled++
			}
		}
		line := ui.Plural(len(m.hooks), "subscription") + fmt.Sprintf(" · %d enabled", enabled)
		if m.list.Filter != "" {
			line += fmt.Sprintf(" · %d shown", len(vis))
		}
		top = append(top, s.Muted.Render(line))
	}
	if m.err != nil {
		top = append(top, s.Bad.Render("error: "+ui.FirstLine(m.err.Error())))
	}
	if f := m.list.FilterLine(s); f != "" {
		top = append(top, f)
	}
	lines := top
	body := height - len(lines)
	switch {
	case body < 2:
	case m.loaded && len(m.hooks) == 0:
		lines = append(lines, "", s.Muted.Render("No webhook subscriptions."))
	case m.loaded && len(vis) == 0:
		lines = append(lines, "", s.Muted.Render("No subscription matches the filter."))
	case len(vis) > 0:
		m.list.SetPage(max(body-2, 1))
		rows := make([][]string, len(vis))
		for i, idx := range vis {
			h := m.hooks[idx]
			rows[i] = []string{h.Name, strings.Join(h.EventTypes, ","), m.enabledCell(h.Enabled),
				labelsCell(h.TargetLabels), Mode(h.TargetLabels), ui.Age(now, h.CreatedAt)}
		}
		cols := []ui.Column{{Title: "NAME"}, {Title: "EVENTS"}, {Title: "ENABLED", Width: 7},
			{Title: "TARGET LABELS"}, {Title: "DELIVERY", Width: 8}, {Title: "AGE", Width: 4}}
		lines = append(lines, ui.Table(s, cols, rows, m.list.Cursor, width, body))
	}
	return ui.FrameText(strings.Join(lines, "\n"), width, height)
}

func (m *Model) enabledCell(on bool) string {
	if on {
		return m.env.Styles.Good.Render("yes")
	}
	return m.env.Styles.Warn.Render("no")
}

func labelsCell(labels []string) string {
	if len(labels) == 0 {
		return "-"
	}
	return strings.Join(labels, ",")
}

func (m *Model) renderDetail(width, height int) string {
	h, ok := m.find(m.openID)
	title := "webhook"
	if ok {
		title = "webhook " + h.Name
	}
	if width < 6 || height < 3 {
		return ui.FrameText(title, width, height)
	}
	m.viewH = height - 2
	return ui.ScrollBox(m.env.Styles, title, m.detailLines(width-2), m.scroll, width, height)
}

// detailLines is the detail's content: the subscription's fields, then its recent deliveries.
func (m *Model) detailLines(width int) []string {
	s := m.env.Styles
	now := m.env.Now()
	h, ok := m.find(m.openID)
	if !ok {
		if !m.loaded {
			return []string{s.Muted.Render("loading…")}
		}
		return []string{s.Warn.Render("This webhook no longer exists."), s.Muted.Render("esc goes back to the list")}
	}
	field := func(name, value string) string { return s.Header.Render(ui.Fit(name, 14)) + " " + value }
	delivery := "the broker (no target labels)"
	switch Mode(h.TargetLabels) {
	case ModeAgent:
		delivery = "agents labelled " + strings.Join(h.TargetLabels, ", ")
	case ModeAny:
		delivery = "the broker or any agent (empty label list)"
	}
	filters := "none"
	if f := h.Filters; f != nil && (f.AgentID != nil || f.StackID != nil) {
		var parts []string
		if f.AgentID != nil {
			parts = append(parts, "agent "+f.AgentID.String())
		}
		if f.StackID != nil {
			parts = append(parts, "stack "+f.StackID.String())
		}
		filters = strings.Join(parts, ", ")
	}
	createdBy := ""
	if h.CreatedBy != nil {
		createdBy = " by " + *h.CreatedBy
	}
	lines := []string{
		field("ID", h.ID.String()),
		field("Enabled", m.enabledCell(h.Enabled)),
		field("Events", strings.Join(h.EventTypes, ", ")),
		field("Target labels", labelsCell(h.TargetLabels)),
		field("Delivered by", delivery),
		field("Filters", filters),
		field("URL", setWord(h.HasURL)+s.Muted.Render(" · auth header ")+setWord(h.HasAuthHeader)),
		field("Retries", fmt.Sprintf("%d max · timeout %ds", h.MaxRetries, h.TimeoutSeconds)),
		field("Created", ui.Stamp(now, h.CreatedAt)+createdBy),
		field("Updated", ui.Stamp(now, h.UpdatedAt)),
		"",
	}
	head := s.Title.Render("Recent deliveries")
	switch {
	case m.delErr != nil:
		lines = append(lines, head, s.Bad.Render("error: "+ui.FirstLine(m.delErr.Error())))
	case !m.delLoaded:
		lines = append(lines, head, s.Muted.Render("loading…"))
	case len(m.deliveries) == 0:
		lines = append(lines, head, s.Muted.Render("No deliveries yet."))
	default:
		lines = append(lines, head+s.Muted.Render(fmt.Sprintf(" (latest %d)", len(m.deliveries))))
		rows := make([][]string, len(m.deliveries))
		for i, d := range m.deliveries {
			lastErr := "-"
			if d.LastError != nil && *d.LastError != "" {
				lastErr = ui.FirstLine(*d.LastError)
			}
			rows[i] = []string{s.Status(d.Status), d.EventType, strconv.Itoa(int(d.Attempts)), lastErr, ui.Age(now, d.CreatedAt)}
		}
		cols := []ui.Column{{Title: "STATUS", Width: 8}, {Title: "EVENT", Width: 20}, {Title: "ATTEMPTS", Width: 8},
			{Title: "LAST ERROR"}, {Title: "AGE", Width: 4}}
		table := ui.Table(s, cols, rows, -1, width, len(rows)+1)
		lines = append(lines, strings.Split(table, "\n")...)
	}
	return lines
}

func setWord(on bool) string {
	if on {
		return "set"
	}
	return "not set"
}
