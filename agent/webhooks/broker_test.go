package webhooks_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"k8s.io/utils/ptr"

	"github.com/brokkr/brokkr/agent/webhooks"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

type hit struct {
	path   string
	header http.Header
	body   []byte
}

// receiver answers /ok with 200 and /fail with 500 "boom".
type receiver struct {
	mu   sync.Mutex
	hits []hit
}

func (rv *receiver) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rv.mu.Lock()
		rv.hits = append(rv.hits, hit{path: r.URL.Path, header: r.Header.Clone(), body: b})
		rv.mu.Unlock()
		if r.URL.Path == "/fail" {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (rv *receiver) byPath() map[string][]hit {
	rv.mu.Lock()
	defer rv.mu.Unlock()
	out := map[string][]hit{}
	for _, h := range rv.hits {
		out[h.path] = append(out[h.path], h)
	}
	return out
}

func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// tally counts WebhookDelivered calls.
type tally struct {
	mu               sync.Mutex
	success, failure int
}

func (c *tally) WebhookDelivered(ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ok {
		c.success++
	} else {
		c.failure++
	}
}

func TestRunOnceAgainstBroker(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-hooks", "cluster-1", true)
	must(b.Admin.Agents().AddLabel(ctx, a.ID, "env:prod"))(t)

	var rv receiver
	srv := rv.start(t)
	okHook := must(b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{
		Name: "in-cluster", URL: srv.URL + "/ok", AuthHeader: ptr.To("Bearer s3cret"),
		EventTypes: []string{"agent.registered"}, TargetLabels: []string{"env:prod"},
	}))(t)
	failHook := must(b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{
		Name: "flaky", URL: srv.URL + "/fail", EventTypes: []string{"agent.*"}, TargetLabels: []string{"env:prod"},
	}))(t)
	otherHook := must(b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{
		Name: "staging", URL: srv.URL + "/ok", EventTypes: []string{"agent.registered"}, TargetLabels: []string{"env:staging"},
	}))(t)

	// Creating an agent emits agent.registered: one delivery per subscription.
	newcomer := b.CreateAgent(t, "newcomer", "cluster-2", false)

	var metrics tally
	d := &webhooks.Deliverer{Metrics: &metrics}
	n, err := d.RunOnce(ctx, a.Client, a.ID)
	if err != nil || n != 2 {
		t.Fatalf("RunOnce = %d, %v; want 2 deliveries (the staging one is not this agent's)", n, err)
	}
	if metrics.success != 1 || metrics.failure != 1 {
		t.Errorf("metrics success=%d failure=%d", metrics.success, metrics.failure)
	}

	hits := rv.byPath()
	if len(hits["/ok"]) != 1 || len(hits["/fail"]) != 1 {
		t.Fatalf("receiver hits %v", hits)
	}
	okDeliveries := must(b.Admin.Webhooks().Deliveries(ctx, okHook.ID, nil))(t)
	if len(okDeliveries) != 1 {
		t.Fatalf("deliveries of the in-cluster hook %+v", okDeliveries)
	}
	got := okDeliveries[0]
	if got.Status != client.DeliverySuccess || got.Attempts != 1 || got.LastError != nil || got.CompletedAt == nil {
		t.Errorf("broker shows the delivery as %+v, want success after one attempt", got)
	}
	h := hits["/ok"][0]
	for name, want := range map[string]string{
		"Content-Type":         "application/json",
		"Authorization":        "Bearer s3cret",
		"X-Brokkr-Event-Type":  "agent.registered",
		"X-Brokkr-Delivery-Id": got.ID.String(),
	} {
		if h.header.Get(name) != want {
			t.Errorf("header %s = %q, want %q", name, h.header.Get(name), want)
		}
	}
	if string(h.body) != got.Payload {
		t.Errorf("body %s differs from the stored payload %s", h.body, got.Payload)
	}
	var envelope struct {
		EventType string         `json:"event_type"`
		Data      map[string]any `json:"data"`
	}
	if err := json.Unmarshal(h.body, &envelope); err != nil {
		t.Fatal(err)
	}
	if envelope.EventType != "agent.registered" || envelope.Data["agent_id"] != newcomer.ID.String() {
		t.Errorf("delivered event %s", h.body)
	}

	failed := must(b.Admin.Webhooks().Deliveries(ctx, failHook.ID, nil))(t)
	if len(failed) != 1 || failed[0].Status != client.DeliveryFailed || failed[0].Attempts != 1 ||
		failed[0].LastError == nil || *failed[0].LastError != "HTTP 500: boom" || failed[0].NextRetryAt == nil {
		t.Errorf("failed delivery %+v", failed)
	}
	if hits["/fail"][0].header.Get("Authorization") != "" {
		t.Errorf("Authorization sent for a hook without an auth header")
	}

	staging := must(b.Admin.Webhooks().Deliveries(ctx, otherHook.ID, nil))(t)
	if len(staging) != 1 || staging[0].Status != client.DeliveryPending {
		t.Errorf("delivery for another label %+v, want it left pending", staging)
	}

	// Nothing is due now: the failure waits for its retry time.
	if n, err := d.RunOnce(ctx, a.Client, a.ID); err != nil || n != 0 {
		t.Errorf("second RunOnce = %d, %v; want 0", n, err)
	}
}

func TestRunOnceReportsErrors(t *testing.T) {
	ctx := context.Background()
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-hooks", "cluster-1", true)
	must(b.Admin.Agents().AddLabel(ctx, a.ID, "env:prod"))(t)
	var rv receiver
	srv := rv.start(t)
	must(b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{
		Name: "in-cluster", URL: srv.URL + "/ok", EventTypes: []string{"agent.registered"}, TargetLabels: []string{"env:prod"},
	}))(t)
	b.CreateAgent(t, "newcomer", "cluster-2", false)

	// The admin may fetch an agent's deliveries but only the agent may report them.
	n, err := (&webhooks.Deliverer{}).RunOnce(ctx, b.Admin, a.ID)
	if n != 1 || !client.HasCode(err, "agent_pak_required") {
		t.Fatalf("RunOnce with the admin key = %d, %v; want 1 attempt and agent_pak_required", n, err)
	}
	if len(rv.byPath()["/ok"]) != 1 {
		t.Errorf("receiver hits %v", rv.byPath())
	}

	// A failure to fetch is returned as such.
	other := b.CreateAgent(t, "other", "cluster-3", true)
	if n, err := (&webhooks.Deliverer{}).RunOnce(ctx, other.Client, a.ID); n != 0 || !client.HasCode(err, "agent_pak_mismatch") {
		t.Errorf("RunOnce for another agent = %d, %v; want agent_pak_mismatch", n, err)
	}
}
