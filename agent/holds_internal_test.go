package agent

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestNoteHoldsLogsChanges: the objects the broker holds back are logged when they change,
// once each, and their end once.
func TestNoteHoldsLogsChanges(t *testing.T) {
	var buf bytes.Buffer
	r := &Reconciler{Log: slog.New(slog.NewTextHandler(&buf, nil))}
	hold := `s1; object=o1; reason=window; window="freeze"; until=2026-12-07T12:00:00Z`
	r.noteHolds(nil) // a broker without holds: nothing to say
	r.noteHolds([]string{hold})
	r.noteHolds([]string{hold}) // unchanged: said already
	r.noteHolds(nil)
	r.noteHolds(nil)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "held back by the broker") || !strings.Contains(lines[0], `window=\"freeze\"`) ||
		!strings.Contains(lines[1], "no deployment object held back") {
		t.Fatalf("log:\n%s", buf.String())
	}
}
