package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
)

// blockingReceiver holds every request until release is closed, then answers 200.
func blockingReceiver(t *testing.T) (*receiver, chan struct{}) {
	rc := newReceiver(t)
	release := make(chan struct{})
	rc.setRespond(func(r *http.Request, _ int) (int, string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		return 200, ""
	})
	return rc, release
}

// waitRequests waits until the receiver has n requests.
func waitRequests(t *testing.T, rc *receiver, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d requests", n), func() bool { return len(rc.requests("")) >= n })
}

func eventIDs(t *testing.T, rs []received) map[uuid.UUID]int {
	t.Helper()
	out := map[uuid.UUID]int{}
	for _, r := range rs {
		var ev struct {
			ID uuid.UUID `json:"id"`
		}
		if err := json.Unmarshal([]byte(r.body), &ev); err != nil {
			t.Fatalf("request body %q: %v", r.body, err)
		}
		out[ev.ID]++
	}
	return out
}

// TestWebhookDeliveryAcrossBrokerStop stops a broker in the middle of sending: it hands its
// deliveries back, and another replica delivers them.
func TestWebhookDeliveryAcrossBrokerStop(t *testing.T) {
	e := newEnv(t, withWebhookKey)
	rc, release := blockingReceiver(t)
	sub := e.createWebhook(map[string]any{"name": "stop", "url": rc.URL, "event_types": []string{"agent.registered"}})
	for i := range 5 {
		e.createAgent(fmt.Sprint("stop-", i), "c")
	}
	ctx, stop := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		e.srv.RunWorkerOnce(ctx, "webhook-delivery")
	}()
	waitRequests(t, rc, 5)
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'acquired'`); n != 5 {
		t.Fatalf("%d deliveries acquired while sending, want 5", n)
	}
	stop()
	<-ran
	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'pending' AND attempts = 0`); n != 5 {
		t.Fatalf("%d deliveries handed back untouched, want 5: %+v", n, e.listDeliveries(sub.ID, ""))
	}
	close(release)
	b := e.replica()
	b.tick()
	for _, d := range e.listDeliveries(sub.ID, "") {
		if d.Status != "success" || d.Attempts != 1 {
			t.Fatalf("after the other replica's run: %+v", d)
		}
	}
	if ids := eventIDs(t, rc.requests("")); len(ids) != 5 {
		t.Fatalf("%d distinct events received, want 5", len(ids))
	}
}

// TestWebhookDeliveryAcrossBrokerCrash kills a broker's database access after it sent but
// before it recorded the outcome: its claims stay, run out, and another replica delivers again.
func TestWebhookDeliveryAcrossBrokerCrash(t *testing.T) {
	e := newEnv(t, withWebhookKey, func(c *config.Broker) { c.Broker.WebhookClaimTTLSeconds = 1 })
	rc, release := blockingReceiver(t)
	sub := e.createWebhook(map[string]any{"name": "crash", "url": rc.URL, "event_types": []string{"agent.registered"}, "timeout_seconds": 1})
	for i := range 5 {
		e.createAgent(fmt.Sprint("crash-", i), "c")
	}

	ctx := context.Background()
	poolA, err := db.Open(ctx, e.db.URL(), db.Options{MaxConnections: 4})
	if err != nil {
		t.Fatal(err)
	}
	a, err := server.New(server.Options{Config: e.cfg, DB: poolA})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Close)
	if _, err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		a.RunWorkerOnce(ctx, "webhook-delivery")
	}()
	waitRequests(t, rc, 5)
	_ = poolA.Close() // the crash: A can no longer record anything
	close(release)
	<-ran

	if n := e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'acquired'`); n != 5 {
		t.Fatalf("%d deliveries still claimed by the crashed broker, want 5", n)
	}
	e.tick() // the claims have not run out yet
	if n := len(rc.requests("")); n != 5 {
		t.Fatalf("claimed deliveries sent again before their claim ran out (%d requests)", n)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.whCount(`SELECT count(*) FROM webhook_deliveries WHERE status = 'success'`) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("deliveries of the crashed broker were not redelivered: %+v", e.listDeliveries(sub.ID, ""))
		}
		time.Sleep(200 * time.Millisecond)
		e.tick()
	}
	ids := eventIDs(t, rc.requests(""))
	if len(ids) != 5 {
		t.Fatalf("%d distinct events received, want 5", len(ids))
	}
	for id, n := range ids {
		if n != 2 {
			t.Fatalf("event %s received %d times, want 2 (once by each broker)", id, n)
		}
	}
}
