package stacks

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// keepLines is how many telemetry lines a pane keeps.
const keepLines = 200

// lineKind tells how a telemetry line is styled.
type lineKind int8

const (
	kindNormal lineKind = iota
	kindWarning
	kindGap
)

// teleLine is one line of the events or logs pane.
type teleLine struct {
	key   string // identity, to drop a line seen both in history and live
	at    time.Time
	agent uuid.UUID
	kind  lineKind
	text  string
}

// teleBuffer keeps the newest keepLines lines of a pane, oldest first.
type teleBuffer struct {
	lines []teleLine
	seen  map[string]struct{}
}

// add inserts lines (in any order), dropping ones already held, and keeps the newest.
func (b *teleBuffer) add(ls ...teleLine) int {
	if b.seen == nil {
		b.seen = map[string]struct{}{}
	}
	added := 0
	for _, l := range ls {
		if _, dup := b.seen[l.key]; dup && l.key != "" {
			continue
		}
		if l.key != "" {
			b.seen[l.key] = struct{}{}
		}
		b.lines = append(b.lines, l)
		added++
	}
	sort.SliceStable(b.lines, func(i, j int) bool { return b.lines[i].at.Before(b.lines[j].at) })
	if n := len(b.lines) - keepLines; n > 0 {
		for _, l := range b.lines[:n] {
			delete(b.seen, l.key)
		}
		b.lines = append([]teleLine(nil), b.lines[n:]...)
	}
	return added
}

// eventLine renders a Kubernetes event.
func eventLine(agent uuid.UUID, at time.Time, typ, reason, message string, obj client.K8sObjectRef) teleLine {
	ref := obj.Kind + " " + obj.Name
	if obj.Namespace != nil && *obj.Namespace != "" {
		ref = obj.Kind + " " + *obj.Namespace + "/" + obj.Name
	}
	kind := kindNormal
	if typ != "" && !strings.EqualFold(typ, "Normal") {
		kind = kindWarning
	}
	msg := collapseSpace(message)
	return teleLine{
		key:   strings.Join([]string{"ev", agent.String(), identityTime(at), reason, ref, msg}, "|"),
		at:    at,
		agent: agent,
		kind:  kind,
		text:  fmt.Sprintf("%-7s %s %s: %s", ui.OrDash(typ), ui.OrDash(reason), ref, msg),
	}
}

// logLine renders a pod log line.
func logLine(agent uuid.UUID, at time.Time, ns, pod, container, line string) teleLine {
	src := pod
	if container != "" {
		src += "/" + container
	}
	l := cleanLine(line)
	return teleLine{
		key:   strings.Join([]string{"log", agent.String(), identityTime(at), ns, pod, container, l}, "|"),
		at:    at,
		agent: agent,
		text:  src + " │ " + l,
	}
}

// gapLine renders a log gap: telemetry dropped before it reached the dashboard.
func gapLine(g client.LogGap, at time.Time) teleLine {
	return teleLine{
		key:   fmt.Sprintf("gap|%s|%s|%d|%s", g.AgentID, identityTime(g.SinceTS), g.DroppedCount, g.Reason),
		at:    at,
		agent: g.AgentID,
		kind:  kindGap,
		text:  fmt.Sprintf("⋯ %d dropped (%s) since %s", g.DroppedCount, ui.OrDash(g.Reason), g.SinceTS.UTC().Format("15:04:05")),
	}
}

// historyEvents turns stored events (newest first) into lines.
func historyEvents(evs []client.AgentK8sEvent) []teleLine {
	out := make([]teleLine, 0, len(evs))
	for _, e := range evs {
		out = append(out, eventLine(e.AgentID, e.ObservedAt, e.EventType, e.Reason, e.Message, e.InvolvedObject))
	}
	return out
}

// historyLogs turns stored log lines into lines.
func historyLogs(ls []client.AgentPodLog) []teleLine {
	out := make([]teleLine, 0, len(ls))
	for _, l := range ls {
		out = append(out, logLine(l.AgentID, l.TS, l.Namespace, l.Pod, l.Container, l.Line))
	}
	return out
}

// identityTime renders a time for a line's identity at the precision the broker stores
// (whole microseconds, the rest cut off), so a live frame and the stored row it became have
// the same identity.
func identityTime(t time.Time) string {
	return t.Truncate(time.Microsecond).UTC().Format(time.RFC3339Nano)
}

// cleanLine makes a log line printable on one row: tabs become spaces, other control
// characters are dropped, indentation is kept.
func cleanLine(s string) string {
	s = strings.TrimRight(s, "\r\n")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return ' '
		case r < 0x20 || r == 0x7f:
			return -1
		}
		return r
	}, s)
}

// collapseSpace collapses every run of white space (newlines included) into one space.
func collapseSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
