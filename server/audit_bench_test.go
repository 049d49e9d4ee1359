package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
)

// BenchmarkAuditWrites measures audit entries stored per second through the batching writer
// (enqueue from the request path, batched inserts of up to 100 rows).
func BenchmarkAuditWrites(b *testing.B) {
	// A queue large enough for the whole run: this measures the writer's throughput, not the
	// drop path (which TestAuditQueueFullIsLoud covers).
	e := newEnv(b, func(c *config.Broker) { c.Broker.AuditBufferSize = 1 << 21 })
	ctx := context.Background()
	id := uuid.New()
	entry := server.AuditEntry{ActorType: "system", Action: "bench.write", ResourceType: "system", ResourceID: &id,
		Details: map[string]any{"n": 1, "name": "bench"}}
	b.ReportAllocs()
	start := time.Now()
	for b.Loop() {
		e.srv.AuditForTest(entry)
	}
	e.srv.FlushAudit(ctx)
	elapsed := time.Since(start)
	var n int
	if err := e.db.Get(&n, `SELECT count(*) FROM audit_logs WHERE action = 'bench.write'`); err != nil {
		b.Fatal(err)
	}
	if n < b.N {
		b.Fatalf("%d of %d entries stored", n, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "entries/s")
}
