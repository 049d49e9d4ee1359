package webhooks

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
)

// receiver is a webhook endpoint that answers with a fixed status and keeps the bodies.
type receiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newReceiver(t *testing.T, status int) *receiver {
	r := &receiver{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// selectByName moves the list cursor onto the named subscription.
func selectByName(t *testing.T, v *Model, name string) {
	t.Helper()
	v.Update(viewtest.Key("g"))
	for range len(v.hooks) + 1 {
		if h, ok := v.Selected(); ok && h.Name == name {
			return
		}
		v.Update(viewtest.Key("j"))
	}
	t.Fatalf("no row %q", name)
}

func TestAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	ok, failing := newReceiver(t, http.StatusNoContent), newReceiver(t, http.StatusInternalServerError)
	// Delivered by agents labelled edge: its deliveries stay pending, as no agent claims them.
	relay, err := b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "edge-relay", URL: ok.URL,
		EventTypes: []string{"stack.created"}, TargetLabels: []string{"edge"}})
	if err != nil {
		t.Fatal(err)
	}
	sink, err := b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "broken-sink", URL: failing.URL,
		EventTypes: []string{"workorder.*"}, TargetLabels: []string{"nowhere"}})
	if err != nil {
		t.Fatal(err)
	}
	b.CreateStack(t, "payments")

	env := viewtest.Env(now, time.Millisecond)
	env.Client = b.Admin
	env.Now = time.Now
	v := New(env)
	m := v.(*Model)
	v, out := drive(t, v, v.Init())
	if len(out.Statuses) != 1 || out.Statuses[0].Err != nil {
		t.Fatalf("statuses after the first load: %+v", out.Statuses)
	}
	if m.err != nil || len(m.hooks) != 2 {
		t.Fatalf("loaded %d subscriptions, err %v", len(m.hooks), m.err)
	}
	list := viewtest.Render(t, v, 120, 30)
	for _, want := range []string{"edge-relay", "broken-sink", "stack.created", "workorder.*", "agent"} {
		if !strings.Contains(list, want) {
			t.Fatalf("list lacks %q:\n%s", want, list)
		}
	}

	// The detail shows the pending delivery of the stack.created event.
	selectByName(t, m, "edge-relay")
	v, cmd := v.Update(viewtest.Key("enter"))
	v, _ = drive(t, v, cmd)
	if len(m.deliveries) != 1 || m.deliveries[0].Status != client.DeliveryPending || m.deliveries[0].EventType != "stack.created" {
		t.Fatalf("deliveries %+v", m.deliveries)
	}
	if detail := viewtest.Render(t, v, 80, 24); !strings.Contains(detail, "pending  stack.created") || !strings.Contains(detail, "agents labelled edge") {
		t.Fatalf("detail:\n%s", detail)
	}

	// A test delivery reaches the endpoint and its outcome is flashed.
	v, cmd = v.Update(viewtest.Key("t"))
	v, out = drive(t, v, cmd)
	if len(out.Flashes) != 2 || out.Flashes[1].Error || !strings.Contains(out.Flashes[1].Text, "HTTP 204") {
		t.Fatalf("test flashes %+v", out.Flashes)
	}
	if got := ok.received(); len(got) != 1 || !strings.Contains(got[0], `"webhook.test"`) {
		t.Fatalf("endpoint received %q", got)
	}
	v, _ = v.Update(viewtest.Key("esc"))

	// A failing endpoint is an error flash, and the broker stays "reachable".
	selectByName(t, m, "broken-sink")
	v, cmd = v.Update(viewtest.Key("t"))
	v, out = drive(t, v, cmd)
	if len(out.Flashes) != 2 || !out.Flashes[1].Error || !strings.Contains(out.Flashes[1].Text, "HTTP 500") {
		t.Fatalf("failed test flashes %+v", out.Flashes)
	}
	if len(out.Statuses) != 1 || out.Statuses[0].Err != nil {
		t.Fatalf("a rejected test is not an unreachable broker: %+v", out.Statuses)
	}

	// Disable after the confirmation.
	selectByName(t, m, "edge-relay")
	v, cmd = v.Update(viewtest.Key("e"))
	v, out = drive(t, v, cmd)
	if len(out.Confirms) != 1 {
		t.Fatalf("confirms %+v", out.Confirms)
	}
	if got, _ := b.Admin.Webhooks().Get(ctx, relay.ID); !got.Enabled {
		t.Fatal("disabled before the confirmation")
	}
	v, out = drive(t, v, out.Confirms[0].On)
	if len(out.Flashes) != 1 || out.Flashes[0].Text != "disabled webhook edge-relay" {
		t.Fatalf("disable flashes %+v", out.Flashes)
	}
	if got, err := b.Admin.Webhooks().Get(ctx, relay.ID); err != nil || got.Enabled {
		t.Fatalf("broker shows %+v, %v; want disabled", got, err)
	}
	if h, _ := m.Selected(); h.ID != relay.ID || h.Enabled {
		t.Fatalf("view shows %+v after the reload", h)
	}
	if !strings.Contains(viewtest.Render(t, v, 120, 30), "no ") {
		t.Fatal("the list does not show the disabled subscription")
	}

	// Delete after the confirmation.
	selectByName(t, m, "broken-sink")
	v, cmd = v.Update(viewtest.Key("d"))
	v, out = drive(t, v, cmd)
	if len(out.Confirms) != 1 {
		t.Fatalf("confirms %+v", out.Confirms)
	}
	v, out = drive(t, v, out.Confirms[0].On)
	if len(out.Flashes) != 1 || out.Flashes[0].Error {
		t.Fatalf("delete flashes %+v", out.Flashes)
	}
	var ae *client.Error
	if _, err := b.Admin.Webhooks().Get(ctx, sink.ID); !errors.As(err, &ae) || ae.StatusCode != http.StatusNotFound {
		t.Fatalf("deleted subscription: %v", err)
	}
	if len(m.hooks) != 1 || strings.Contains(viewtest.Render(t, v, 80, 24), "broken-sink") {
		t.Fatal("the deleted subscription is still listed")
	}
}

func TestUnreachableBroker(t *testing.T) {
	c, err := client.New("http://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	env := viewtest.Env(now, time.Millisecond)
	env.Client = c
	v := New(env)
	m := v.(*Model)
	m.Update(LoadedMsg{Webhooks: fixture()})
	v, out := drive(t, v, v.Init())
	if len(out.Statuses) != 1 || out.Statuses[0].Err == nil {
		t.Fatalf("statuses %+v", out.Statuses)
	}
	if got := viewtest.Render(t, v, 80, 24); !strings.Contains(got, "error: list webhooks:") || !strings.Contains(got, "ops-alerts") {
		t.Fatalf("render:\n%s", got)
	}
}
