package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokkr/brokkr/internal/config"
)

// BenchmarkWebhookDelivery measures how many deliveries per second one broker's worker sends
// to a local receiver: claim, decrypt, POST, record. Queueing the deliveries is not timed.
func BenchmarkWebhookDelivery(b *testing.B) {
	e := newEnv(b, withWebhookKey, func(c *config.Broker) { c.Broker.WebhookDeliveryBatchSize = 1000 })
	var received atomic.Int64
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		received.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	b.Cleanup(rc.Close)
	sub := e.createWebhook(map[string]any{"name": "bench", "url": rc.URL, "auth_header": "Bearer bench",
		"event_types": []string{"agent.registered"}})
	e.createAgent("bench", "c") // one real delivery whose payload the others copy
	e.tick()
	if received.Load() != 1 {
		b.Fatalf("receiver got %d requests, want 1", received.Load())
	}
	if _, err := e.db.Exec(`INSERT INTO webhook_deliveries (subscription_id, event_type, event_id, payload)
		SELECT subscription_id, event_type, gen_random_uuid(), payload
		FROM webhook_deliveries, generate_series(1, $2) WHERE subscription_id = $1`, sub.ID, b.N); err != nil {
		b.Fatal(err)
	}
	received.Store(0)
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for received.Load() < int64(b.N) {
		e.srv.RunWorkerOnce(ctx, "webhook-delivery")
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'success'`); n != b.N+1 {
		b.Fatalf("%d successful deliveries, want %d", n, b.N+1)
	}
}
