package diagnostics

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// tab is a section of the result screen.
type tab int

const (
	tabPods tab = iota
	tabEvents
	tabLogs
	tabs
)

// maxRaw bounds how much of an unreadable payload the result screen shows.
const maxRaw = 4000

// logTail is the end of one container's log ("<pod>/<container>").
type logTail struct {
	key, text string
}

// result is a diagnostic result read for the screen. A payload that is not the JSON it
// should be keeps its error and raw text, and the other sections still show.
type result struct {
	collectedAt time.Time

	pods    []client.DiagnosticPod
	podsErr error
	podsRaw string

	events    []client.DiagnosticEvent
	eventsErr error
	eventsRaw string

	logs    []logTail
	logsErr error
	logsRaw string
	noLogs  bool // the agent sent no log tails at all
}

// parseResult reads the JSON payloads of a result.
func parseResult(r client.DiagnosticResult) result {
	out := result{collectedAt: r.CollectedAt, podsRaw: r.PodStatuses, eventsRaw: r.Events}
	out.pods, out.podsErr = r.DecodePods()
	out.events, out.eventsErr = r.DecodeEvents()
	if r.LogTails == nil {
		out.noLogs = true
		return out
	}
	out.logsRaw = *r.LogTails
	tails, err := r.DecodeLogTails()
	if err != nil {
		out.logsErr = err
		return out
	}
	if tails == nil {
		out.noLogs = true
	}
	for k, v := range tails {
		out.logs = append(out.logs, logTail{key: ui.Sanitize(k), text: ui.Sanitize(v)})
	}
	slices.SortFunc(out.logs, func(a, b logTail) int { return strings.Compare(a.key, b.key) })
	return out
}

// count is what a tab's title says about its section.
func (r *result) count(t tab) string {
	switch t {
	case tabPods:
		if r.podsErr != nil {
			return "!"
		}
		return fmt.Sprint(len(r.pods))
	case tabEvents:
		if r.eventsErr != nil {
			return "!"
		}
		return fmt.Sprint(len(r.events))
	}
	if r.logsErr != nil {
		return "!"
	}
	return fmt.Sprint(len(r.logs))
}

// tabLines renders a section of the current result for a width.
func (m *Model) tabLines(t tab, width int) []string {
	if m.cur == nil || m.cur.result == nil {
		return nil
	}
	r := m.cur.result
	switch t {
	case tabPods:
		return m.podLines(r, width)
	case tabEvents:
		return m.eventLines(r, width)
	}
	return m.logLines(r, width)
}

// unreadable renders a payload that could not be read: the error and the text as sent.
func (m *Model) unreadable(err error, raw string, width int) []string {
	s := m.env.Styles
	out := wrap(s.Bad.Render(err.Error()), width, "")
	out = append(out, "", s.Muted.Render("As sent by the agent:"))
	if len(raw) > maxRaw {
		raw = raw[:maxRaw] + "…"
	}
	if strings.TrimSpace(raw) == "" {
		raw = "(empty)"
	}
	for _, l := range strings.Split(ui.Sanitize(raw), "\n") {
		out = append(out, hardWrap(l, width, "  ")...)
	}
	return out
}

// wrap wraps text (which may carry styles) at word boundaries to width cells, indenting
// every line.
func wrap(text string, width int, indent string) []string {
	w := max(width-ansi.StringWidth(indent), 8)
	var out []string
	for _, l := range strings.Split(ansi.Wrap(text, w, ""), "\n") {
		out = append(out, indent+l)
	}
	return out
}

// hardWrap cuts verbatim text (a log line, a payload) to width cells, keeping its spaces.
func hardWrap(text string, width int, indent string) []string {
	w := max(width-ansi.StringWidth(indent), 8)
	var out []string
	for _, l := range strings.Split(ansi.Hardwrap(text, w, true), "\n") {
		out = append(out, indent+l)
	}
	return out
}

// podColumns are the widths of the pods table but its first (flexible) column.
var podColumns = []int{10, 6, 9, 22}

func columns(width int, fixed []int, cells ...string) string {
	flex := width
	for _, w := range fixed {
		flex -= w + 1
	}
	flex = max(flex, 8)
	parts := make([]string, len(cells))
	for i, c := range cells {
		w := flex
		if i > 0 && i-1 < len(fixed) {
			w = fixed[i-1]
		}
		parts[i] = ui.Fit(c, w)
	}
	return strings.TrimRight(strings.Join(parts, " "), " ")
}

func (m *Model) podLines(r *result, width int) []string {
	s := m.env.Styles
	if r.podsErr != nil {
		return m.unreadable(r.podsErr, r.podsRaw, width)
	}
	if len(r.pods) == 0 {
		return []string{s.Muted.Render("No pods of this deployment object were found.")}
	}
	out := []string{s.Header.Render(columns(width, podColumns, "POD", "PHASE", "READY", "RESTARTS", "STATE"))}
	for _, p := range r.pods {
		ready, restarts := 0, int64(0)
		var reasons []string
		for _, c := range p.Containers {
			if c.Ready {
				ready++
			}
			restarts += int64(c.RestartCount)
			if c.StateReason != nil && *c.StateReason != "" && !slices.Contains(reasons, *c.StateReason) {
				reasons = append(reasons, *c.StateReason)
			}
		}
		state := "-"
		if len(reasons) > 0 {
			state = s.Bad.Render(strings.Join(reasons, ","))
		}
		name := p.Name
		if p.Namespace != "" {
			name = p.Namespace + "/" + p.Name
		}
		out = append(out, columns(width, podColumns, name, phase(s, p.Phase),
			fmt.Sprintf("%d/%d", ready, len(p.Containers)), fmt.Sprint(restarts), state))
		for _, c := range p.Containers {
			st := c.State
			if c.StateReason != nil && *c.StateReason != "" {
				st += " (" + *c.StateReason + ")"
			}
			readiness := "ready"
			if !c.Ready {
				readiness = s.Warn.Render("not ready")
			}
			out = append(out, wrap(fmt.Sprintf("container %s: %s, %s, %d restarts", c.Name, st, readiness, c.RestartCount), width, "  ")...)
			if c.StateMessage != nil && *c.StateMessage != "" {
				out = append(out, wrap(s.Muted.Render(ui.Sanitize(*c.StateMessage)), width, "    ")...)
			}
		}
		for _, c := range p.Conditions {
			if c.Status == "True" {
				continue
			}
			line := fmt.Sprintf("condition %s=%s", c.ConditionType, c.Status)
			if c.Reason != nil && *c.Reason != "" {
				line += " (" + *c.Reason + ")"
			}
			if c.Message != nil && *c.Message != "" {
				line += ": " + *c.Message
			}
			out = append(out, wrap(s.Warn.Render(ui.Sanitize(line)), width, "  ")...)
		}
	}
	return out
}

func phase(s *ui.Styles, p string) string {
	switch p {
	case "Running", "Succeeded":
		return s.Good.Render(p)
	case "Pending":
		return s.Warn.Render(p)
	case "Failed":
		return s.Bad.Render(p)
	case "":
		return s.Muted.Render("-")
	}
	return s.Muted.Render(p)
}

// eventColumns are the widths of the events table but its third (flexible) column.
var eventColumns = []int{7, 22}

func (m *Model) eventLines(r *result, width int) []string {
	s := m.env.Styles
	if r.eventsErr != nil {
		return m.unreadable(r.eventsErr, r.eventsRaw, width)
	}
	if len(r.events) == 0 {
		return []string{s.Muted.Render("No events in the namespaces of this deployment object.")}
	}
	now := m.env.Now()
	const ageW = 12
	out := []string{s.Header.Render(eventRow(width, ageW, "TYPE", "REASON", "OBJECT", "LAST SEEN"))}
	for _, e := range r.events {
		if e.Error != nil {
			out = append(out, wrap(s.Bad.Render("collection error: "+ui.Sanitize(*e.Error)), width, "")...)
			continue
		}
		typ := deref(e.EventType, "Normal")
		if typ == "Warning" {
			typ = s.Warn.Render(typ)
		}
		obj := e.InvolvedObject
		if k := deref(e.InvolvedObjectKind, ""); k != "" {
			obj = k + "/" + obj
		}
		age := "-"
		ts := e.LastTimestamp
		if ts == nil {
			ts = e.FirstTimestamp
		}
		if ts != nil {
			age = ui.Age(now, *ts)
		}
		if e.Count != nil && *e.Count > 1 {
			age += fmt.Sprintf(" (x%d)", *e.Count)
		}
		out = append(out, eventRow(width, ageW, typ, deref(e.Reason, "-"), obj, age))
		if msg := deref(e.Message, ""); msg != "" {
			out = append(out, wrap(s.Muted.Render(ui.Sanitize(msg)), width, "  ")...)
		}
	}
	return out
}

func eventRow(width, ageW int, typ, reason, obj, age string) string {
	objW := max(width-eventColumns[0]-eventColumns[1]-ageW-3, 8)
	return strings.TrimRight(ui.Fit(typ, eventColumns[0])+" "+ui.Fit(reason, eventColumns[1])+" "+ui.Fit(obj, objW)+" "+ui.Fit(age, ageW), " ")
}

func (m *Model) logLines(r *result, width int) []string {
	s := m.env.Styles
	switch {
	case r.logsErr != nil:
		return m.unreadable(r.logsErr, r.logsRaw, width)
	case r.noLogs:
		return []string{s.Muted.Render("The agent sent no log tails.")}
	case len(r.logs) == 0:
		return []string{s.Muted.Render("No container logs.")}
	}
	var out []string
	for i, l := range r.logs {
		if i > 0 {
			out = append(out, "")
		}
		text := strings.TrimRight(l.text, "\n")
		n := 0
		if text != "" {
			n = strings.Count(text, "\n") + 1
		}
		unit := "lines"
		if n == 1 {
			unit = "line"
		}
		out = append(out, s.Header.Render(l.key)+s.Muted.Render(fmt.Sprintf(" (last %d %s)", n, unit)))
		if n == 0 {
			out = append(out, s.Muted.Render("  (empty)"))
			continue
		}
		for _, line := range strings.Split(text, "\n") {
			out = append(out, hardWrap(line, width, "  ")...)
		}
	}
	return out
}

func deref(p *string, def string) string {
	if p == nil || *p == "" {
		return def
	}
	return *p
}
