package overview

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// Below these sizes the panels give way to a few summary lines.
const (
	gridMinWidth  = 60
	gridMinHeight = 12
)

// staleAfter is the heartbeat age shown as a warning.
const staleAfter = 5 * time.Minute

// Render implements ui.View. It formats only the rows that fit; the orders and counts it
// reads are kept up to date by Update.
func (m *Model) Render(width, height int) string {
	if width <= 0 || height <= 0 {
		return ""
	}
	if width < gridMinWidth || height < gridMinHeight {
		return ui.Frame(append([]string{m.header(width)}, m.compact()...), width, height)
	}
	// The grid's lines are built exactly width cells wide: only the header is measured.
	lines := make([]string, 0, height)
	lines = append(lines, ui.Fit(m.header(width), width))
	body := height - 1
	topH := (body + 1) / 2
	leftW := width / 2
	bx := newBoxer(m.env.Styles)
	lines = side(lines, m.panel(bx, panelAgents, leftW, topH), m.panel(bx, panelDeployments, width-leftW, topH))
	lines = side(lines, m.panel(bx, panelWork, leftW, body-topH), m.panel(bx, panelEvents, width-leftW, body-topH))
	return strings.Join(lines, "\n")
}

// side appends two boxes of the same height next to each other to out.
func side(out, a, b []string) []string {
	for i := range max(len(a), len(b)) {
		var l, r string
		if i < len(a) {
			l = a[i]
		}
		if i < len(b) {
			r = b[i]
		}
		out = append(out, l+r)
	}
	return out
}

// boxer draws panel frames that look like ui.Box's, from content lines that already have
// the inner width, so that a frame costs no text measuring: the overview is drawn again
// after every live frame.
type boxer struct {
	s           *ui.Styles
	b           lipgloss.Border
	left, right string
	paint       lipgloss.Style
}

func newBoxer(s *ui.Styles) boxer {
	b := s.Border.GetBorderStyle()
	paint := lipgloss.NewStyle().Foreground(s.Border.GetBorderTopForeground())
	return boxer{s: s, b: b, left: paint.Render(b.Left), right: paint.Render(b.Right), paint: paint}
}

// box frames lines (each exactly w-2 cells wide, at most h-2 of them) in a w×h box titled
// title.
func (x boxer) box(title string, lines []string, w, h int) []string {
	iw := w - 2
	out := make([]string, 0, h)
	t := " " + title + " "
	tw := ansi.StringWidth(t)
	if iw > tw {
		out = append(out, x.s.Title.Render(x.b.TopLeft+t)+x.s.Muted.Render(strings.Repeat(x.b.Top, iw-tw)+x.b.TopRight))
	} else {
		out = append(out, x.paint.Render(x.b.TopLeft+strings.Repeat(x.b.Top, iw)+x.b.TopRight))
	}
	blank := strings.Repeat(" ", iw)
	for i := range h - 2 {
		l := blank
		if i < len(lines) {
			l = lines[i]
		}
		out = append(out, x.left+l+x.right)
	}
	return append(out, x.paint.Render(x.b.BottomLeft+strings.Repeat(x.b.Bottom, iw)+x.b.BottomRight))
}

// header is the first line: the fleet's size and the live channel's state.
func (m *Model) header(width int) string {
	s := m.env.Styles
	left := s.Title.Render("Fleet")
	if m.fleetLoaded {
		left += " " + ui.Plural(m.fleet.n.total, "agent")
		if len(m.stacks) > 0 {
			left += s.Muted.Render(" · ") + ui.Plural(len(m.stacks), "stack")
		}
	}
	right := m.liveLine()
	gap := width - ansi.StringWidth(left) - ansi.StringWidth(right)
	if gap < 1 {
		return ui.Fit(right, width)
	}
	return left + strings.Repeat(" ", gap) + right
}

func (m *Model) liveLine() string {
	s := m.env.Styles
	switch m.live {
	case liveConnected:
		return s.Good.Render("● live updates connected")
	case liveConnecting:
		return s.Muted.Render("○ live updates connecting…")
	case liveDown:
		t := "○ live updates down"
		if d := m.retryAt.Sub(m.env.Now()); d > 0 {
			t += ", retry in " + strconv.Itoa(int(d.Round(time.Second)/time.Second)) + "s"
		} else {
			t += ", retrying"
		}
		return s.Warn.Render(t) + s.Muted.Render(" · polling")
	}
	return s.Muted.Render("○ live updates off")
}

// panel draws one boxed panel as w×h lines.
func (m *Model) panel(bx boxer, p, w, h int) []string {
	iw, ih := max(w-2, 1), max(h-2, 1)
	var title string
	var lines []string
	switch p {
	case panelAgents:
		title, lines = "Agents · stalest heartbeat first", m.agentsPanel(iw, ih)
	case panelDeployments:
		title, lines = "Deployments", m.deploymentsPanel(iw, ih)
	case panelWork:
		title, lines = "Work orders", m.workPanel(iw, ih)
	case panelEvents:
		title, lines = "Recent events", m.eventsPanel(iw, ih)
	}
	if p == m.focus {
		title = "▸ " + title
	}
	if len(lines) > ih {
		lines = lines[:ih]
	}
	for i, l := range lines {
		lines[i] = ui.Fit(l, iw)
	}
	return bx.box(title, lines, w, h)
}

// panelHead starts a panel of a section: why it could not be loaded, or that it is
// loading. It reports whether the section has data to show.
func (m *Model) panelHead(err error, at time.Time, loaded bool, width int) ([]string, bool) {
	var lines []string
	if err != nil {
		lines = m.errLines(lines, err, at, width)
	}
	if !loaded && err == nil {
		lines = append(lines, m.env.Styles.Muted.Render("loading…"))
	}
	return lines, loaded
}

// errLines tell why a section could not be loaded and how old the data shown is (at is
// when it was loaded, zero if unknown): a headline and the error, wrapped on at most two
// lines.
func (m *Model) errLines(lines []string, err error, at time.Time, width int) []string {
	s := m.env.Styles
	head, detail := "broker unreachable", err.Error()
	if e, ok := client.AsError(err); ok {
		head, detail = fmt.Sprintf("broker refused (%d)", e.StatusCode), e.Message
	}
	head = "⚠ " + head
	if !at.IsZero() {
		head += " · data " + ui.Age(m.env.Now(), at) + " old"
	}
	lines = append(lines, s.Bad.Render(head))
	wrapped := strings.Split(ansi.Wrap(ui.FirstLine(detail), max(width, 1), " "), "\n")
	for _, l := range wrapped[:min(len(wrapped), 2)] {
		lines = append(lines, s.Muted.Render(l))
	}
	return lines
}

// table renders a window of a list: rows [off, off+n) built by row, under a header, in the
// lines left of height. Only the visible rows are formatted.
func (m *Model) table(lines []string, cols []ui.Column, count, off int, row func(i int) []string, width, height int) []string {
	room := height - len(lines)
	if room < 2 || count == 0 {
		return lines
	}
	body := room - 1
	off = min(off, max(count-body, 0))
	rows := make([][]string, 0, min(body, count))
	for i := off; i < count && len(rows) < body; i++ {
		rows = append(rows, row(i))
	}
	t := ui.Table(m.env.Styles, cols, rows, -1, width, len(rows)+1)
	return append(lines, strings.Split(t, "\n")...)
}

func (m *Model) agentsPanel(w, h int) []string {
	s := m.env.Styles
	lines, ok := m.panelHead(m.fleetErr, m.fleetAt, m.fleetLoaded, w)
	if !ok {
		return lines
	}
	n := m.fleet.n
	if n.total == 0 {
		return append(lines, s.Muted.Render("no agents registered"))
	}
	st := s.Status(statusActive) + " " + strconv.Itoa(n.active) + "  " + s.Status(statusInactive) + " " + strconv.Itoa(n.inactive)
	if other := n.total - n.active - n.inactive; other > 0 {
		st += "  other " + strconv.Itoa(other)
	}
	lines = append(lines, st,
		"connected "+good(s, n.connected)+"  not connected "+warn(s, n.total-n.connected),
		"k8s up "+good(s, n.k8sUp)+"  down "+bad(s, n.k8sDown)+"  unknown "+strconv.Itoa(n.k8sUnknown))
	cols := []ui.Column{{Title: "AGENT"}, {Title: "STATUS", Width: 8}, {Title: "WS", Width: 3}, {Title: "LAST HB", Width: 7}, {Title: "K8S", Width: 4}}
	if w >= 56 {
		cols = append(cols[:1], ui.Column{Title: "CLUSTER", Width: 12}, cols[1], cols[2], cols[3], cols[4])
	}
	now := m.env.Now()
	wide := len(cols) == 6
	return m.table(lines, cols, len(m.fleet.stale), m.scroll[panelAgents], func(i int) []string {
		r := m.fleet.stale[i]
		ws := s.Warn.Render("no")
		if r.WSConnected {
			ws = s.Good.Render("yes")
		}
		hb := s.Bad.Render("never")
		if r.LastHeartbeat != nil {
			hb = ui.Age(now, *r.LastHeartbeat)
			if now.Sub(*r.LastHeartbeat) > staleAfter {
				hb = s.Warn.Render(hb)
			}
		}
		k8s := s.Muted.Render("-")
		if r.K8sReachable != nil {
			k8s = s.Good.Render("up")
			if !*r.K8sReachable {
				k8s = s.Bad.Render("down")
			}
		}
		if wide {
			return []string{r.Name, r.ClusterName, s.Status(r.Status), ws, hb, k8s}
		}
		return []string{r.Name, s.Status(r.Status), ws, hb, k8s}
	}, w, h)
}

func (m *Model) deploymentsPanel(w, h int) []string {
	s := m.env.Styles
	var lines []string
	if m.healthErr != nil {
		lines = m.errLines(lines, m.healthErr, time.Time{}, w)
	}
	if !m.fleetLoaded {
		lines = append(lines, s.Muted.Render("loading…"))
		return lines
	}
	n := m.fleet.n
	if !n.unhealthy() {
		return append(lines, s.Good.Render("no failing or degraded deployments"))
	}
	lines = append(lines,
		healthLine(s, client.HealthFailing, n.failingRows, n.failingAgents, s.Bad.Render),
		healthLine(s, client.HealthDegraded, n.degradedRows, n.degradedAgents, s.Warn.Render))
	if len(m.fleet.bad) > 0 {
		var b strings.Builder
		b.WriteString(s.Muted.Render("worst agents:"))
		for _, r := range m.fleet.bad {
			if b.Len() > 4*w { // enough to fill the line, whatever the styles add
				break
			}
			fmt.Fprintf(&b, " %s %s", r.Name, healthCounts(r.HealthFailing, r.HealthDegraded))
		}
		lines = append(lines, b.String())
	}
	if m.probing && len(m.stacks) > 0 {
		lines = append(lines, s.Muted.Render(fmt.Sprintf("stack health read: %d/%d, %d per refresh", m.checked, len(m.stacks), probeBudget)))
	}
	if len(m.badStacks) == 0 {
		if m.probing {
			lines = append(lines, s.Muted.Render("no unhealthy stack found yet"))
		}
		return lines
	}
	cols := []ui.Column{{Title: "STACK"}, {Title: "HEALTH", Width: 8}, {Title: "OBJECTS", Width: 7}}
	return m.table(lines, cols, len(m.badStacks), m.scroll[panelDeployments], func(i int) []string {
		h := m.badStacks[i]
		return []string{m.stackName(h.StackID), s.Status(h.Status), healthCounts(int64(h.Failing), int64(h.Degraded))}
	}, w, h)
}

// healthLine counts the objects in one health state and the agents reporting them.
func healthLine(s *ui.Styles, word string, objects int64, agents int, render func(...string) string) string {
	if objects == 0 {
		return s.Muted.Render(word + " none")
	}
	return render(word) + " " + ui.Plural(objects, "object") + " on " + ui.Plural(agents, "agent")
}

// healthCounts renders failing and degraded counts as "2F 1D".
func healthCounts(failing, degraded int64) string {
	var parts []string
	if failing > 0 {
		parts = append(parts, strconv.FormatInt(failing, 10)+"F")
	}
	if degraded > 0 {
		parts = append(parts, strconv.FormatInt(degraded, 10)+"D")
	}
	return strings.Join(parts, " ")
}

func (m *Model) workPanel(w, h int) []string {
	s := m.env.Styles
	lines, ok := m.panelHead(m.workErr, m.workAt, m.workLoaded, w)
	if !ok {
		return lines
	}
	lines = append(lines, "pending "+warn(s, m.work.Pending)+"  claimed "+strconv.Itoa(m.work.Claimed))
	if m.work.Pending == 0 {
		return append(lines, s.Muted.Render("nothing waiting"))
	}
	now := m.env.Now()
	cols := []ui.Column{{Title: "OLDEST PENDING", Width: 14}, {Title: "TYPE"}, {Title: "AGE", Width: 4}, {Title: "RETRIES", Width: 7}}
	return m.table(lines, cols, len(m.work.Oldest), m.scroll[panelWork], func(i int) []string {
		o := m.work.Oldest[i]
		return []string{ui.ShortID(o.ID), o.WorkType, ui.Age(now, o.CreatedAt), fmt.Sprintf("%d/%d", o.RetryCount, o.MaxRetries)}
	}, w, h)
}

func (m *Model) eventsPanel(w, h int) []string {
	s := m.env.Styles
	lines, ok := m.panelHead(m.eventsErr, m.eventsAt, m.eventsLoaded, w)
	if !ok {
		return lines
	}
	if len(m.events) == 0 {
		return append(lines, s.Muted.Render("no events yet"))
	}
	now := m.env.Now()
	cols := []ui.Column{{Title: "AGE", Width: 4}, {Title: "AGENT", Width: max(min(w/4, 16), 6)}, {Title: "STATUS", Width: 8}, {Title: "MESSAGE"}}
	withType := w >= 56
	if withType {
		cols = []ui.Column{cols[0], cols[1], cols[2], {Title: "TYPE", Width: 8}, cols[3]}
	}
	return m.table(lines, cols, len(m.events), m.scroll[panelEvents], func(i int) []string {
		e := m.events[i]
		msg := ""
		if e.Message != nil {
			msg = ui.FirstLine(*e.Message)
		}
		if withType {
			return []string{ui.Age(now, e.CreatedAt), m.fleet.name(e.AgentID), s.Status(e.Status), e.EventType, msg}
		}
		return []string{ui.Age(now, e.CreatedAt), m.fleet.name(e.AgentID), s.Status(e.Status), msg}
	}, w, h)
}

// compact is the overview in a few lines, for screens too small for the panels.
func (m *Model) compact() []string {
	s := m.env.Styles
	var lines []string
	if err := m.firstErr(); err != nil {
		lines = m.errLines(lines, err, time.Time{}, 1000)[:1]
	}
	if m.fleetLoaded {
		n := m.fleet.n
		lines = append(lines,
			fmt.Sprintf("agents %d: %s %d · %s %d · connected %d", n.total, s.Status(statusActive), n.active, s.Status(statusInactive), n.inactive, n.connected),
			fmt.Sprintf("health: %s %d · %s %d", s.Status(client.HealthFailing), n.failingRows, s.Status(client.HealthDegraded), n.degradedRows))
		if len(m.badStacks) > 0 {
			lines = append(lines, "worst stack: "+m.stackName(m.badStacks[0].StackID)+" "+s.Status(m.badStacks[0].Status))
		}
	}
	if m.workLoaded {
		lines = append(lines, fmt.Sprintf("work orders: pending %d · claimed %d", m.work.Pending, m.work.Claimed))
	}
	if len(m.events) > 0 {
		e := m.events[0]
		lines = append(lines, "last event: "+ui.Age(m.env.Now(), e.CreatedAt)+" "+m.fleet.name(e.AgentID)+" "+s.Status(e.Status))
	}
	return lines
}

func good(s *ui.Styles, n int) string { return colourIf(s.Good.Render, n) }
func warn(s *ui.Styles, n int) string { return colourIf(s.Warn.Render, n) }
func bad(s *ui.Styles, n int) string  { return colourIf(s.Bad.Render, n) }

// colourIf styles a count that is not zero.
func colourIf(render func(...string) string, n int) string {
	v := strconv.Itoa(n)
	if n == 0 {
		return v
	}
	return render(v)
}
