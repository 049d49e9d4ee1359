package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/audit"
)

// BenchmarkAuditWrites measures audit entries stored per second through the batching writer
// (enqueue from the request path, batched inserts of up to 100 rows).
func BenchmarkAuditWrites(b *testing.B) {
	// The producer waits for the writer every 50,000 entries, so the queue never overflows:
	// this measures the writer's sustained throughput, not the drop path (which
	// TestAuditQueueFullIsLoud covers).
	e := newEnv(b, func(c *config.Broker) { c.Broker.AuditBufferSize = 100000 })
	ctx := context.Background()
	id := uuid.New()
	entry := audit.Entry{ActorType: "system", Action: "bench.write", ResourceType: "system", ResourceID: &id,
		Details: map[string]any{"n": 1, "name": "bench"}}
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		e.srv.AuditForTest(entry)
		if n++; n%50000 == 0 {
			e.srv.FlushAudit(ctx)
		}
	}
	e.srv.FlushAudit(ctx)
	elapsed := time.Since(start)
	var stored int
	if err := e.db.Get(&stored, `SELECT count(*) FROM audit_logs WHERE action = 'bench.write'`); err != nil {
		b.Fatal(err)
	}
	if stored < b.N {
		b.Fatalf("%d of %d entries stored", stored, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
}
