package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/brokkr/brokkr/db"
)

// TestAuditQueueFullIsLoud: an entry that does not fit the queue is counted and logged.
func TestAuditQueueFullIsLoud(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{log: slog.New(slog.NewTextHandler(&logs, nil))}
	w := &auditWriter{s: s, queue: make(chan db.AuditRecord, 1),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{Name: "dropped"})}
	w.enqueue(db.AuditRecord{Action: "a.one", ResourceType: "system"})
	w.enqueue(db.AuditRecord{Action: "a.two", ResourceType: "system"})
	if got := testutil.ToFloat64(w.dropped); got != 1 {
		t.Fatalf("dropped counter = %v, want 1", got)
	}
	if len(w.queue) != 1 || (<-w.queue).Action != "a.one" {
		t.Fatal("the queued entry was not kept")
	}
	if !strings.Contains(logs.String(), "audit queue full") || !strings.Contains(logs.String(), "a.two") {
		t.Fatalf("no log line for the dropped entry: %q", logs.String())
	}
}
