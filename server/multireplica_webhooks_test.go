package server_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/internal/config"
)

// TestWebhookDeliveryAcrossReplicas runs the delivery worker of three replicas concurrently,
// several runs at a time on each, over 200 deliveries: the receiver must see every delivery
// exactly once.
func TestWebhookDeliveryAcrossReplicas(t *testing.T) {
	e := newEnv(t, withWebhookKey, func(c *config.Broker) { c.Broker.WebhookDeliveryBatchSize = 7 })
	replicas := []*env{e, e.replica(), e.replica()}
	rc := newReceiver(t)
	const subs, agents = 4, 50
	for i := range subs {
		e.createWebhook(map[string]any{"name": fmt.Sprint("sub", i), "url": fmt.Sprintf("%s/sub%d", rc.URL, i),
			"event_types": []string{"agent.registered"}})
	}
	for i := range agents {
		replicas[i%len(replicas)].createAgent(fmt.Sprint("agent-", i), "c")
	}
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'pending'`); n != subs*agents {
		t.Fatalf("%d pending deliveries, want %d", n, subs*agents)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, r := range replicas {
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil && len(rc.requests("")) < subs*agents {
					r.srv.RunWorkerOnce(ctx, "webhook-delivery")
				}
			}()
		}
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("only %d of %d deliveries arrived in time", len(rc.requests("")), subs*agents)
	}
	// Let any straggling duplicate surface before counting.
	for _, r := range replicas {
		r.srv.RunWorkerOnce(context.Background(), "webhook-delivery")
	}

	seen := map[string]int{}
	for _, got := range rc.requests("") {
		for id := range eventIDs(t, []received{got}) {
			seen[got.path+" "+id.String()]++
		}
	}
	if len(seen) != subs*agents {
		t.Fatalf("%d distinct (subscription, event) pairs received, want %d", len(seen), subs*agents)
	}
	for key, n := range seen {
		if n != 1 {
			t.Fatalf("%s received %d times", key, n)
		}
	}
	var stats []struct {
		Status   string `db:"status"`
		Attempts int    `db:"attempts"`
		N        int    `db:"n"`
	}
	if err := e.db.Select(&stats, `SELECT status, attempts, count(*) AS n FROM webhook_deliveries GROUP BY 1, 2`); err != nil {
		t.Fatal(err)
	}
	if len(stats) != 1 || stats[0].Status != "success" || stats[0].Attempts != 1 || stats[0].N != subs*agents {
		t.Fatalf("delivery states %+v", stats)
	}
}
