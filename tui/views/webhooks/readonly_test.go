package webhooks

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// TestReadOnlyKeyAgainstBroker: with a named read-only PAK the view shows the subscriptions
// and their deliveries, and each action that writes (test, disable, delete) explains in the
// status line that it needs an admin key, instead of showing a raw 403; nothing changes.
func TestReadOnlyKeyAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	ok := newReceiver(t, http.StatusNoContent)
	hook, err := b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "edge-relay", URL: ok.URL,
		EventTypes: []string{"stack.created"}, TargetLabels: []string{"edge"}})
	if err != nil {
		t.Fatal(err)
	}
	b.CreateStack(t, "payments")
	key, err := b.Admin.ReadOnlyPAKs().Create(ctx, "dashboards")
	if err != nil {
		t.Fatal(err)
	}
	ro, err := client.New(b.URL, client.WithPAK(key.PAK))
	if err != nil {
		t.Fatal(err)
	}

	env := viewtest.Env(now, time.Millisecond)
	env.Client = ro
	env.Now = time.Now
	v := New(env)
	m := v.(*Model)
	v, out := drive(t, v, v.Init())
	if m.err != nil || len(m.hooks) != 1 || len(out.Statuses) != 1 || out.Statuses[0].Err != nil {
		t.Fatalf("read-only load: %d subscriptions, err %v, statuses %+v", len(m.hooks), m.err, out.Statuses)
	}
	selectByName(t, m, "edge-relay")
	v, cmd := v.Update(viewtest.Key("enter"))
	v, _ = drive(t, v, cmd)
	if len(m.deliveries) != 1 {
		t.Fatalf("read-only detail: deliveries %+v", m.deliveries)
	}
	v, _ = v.Update(viewtest.Key("esc"))

	act := func(key string, confirm bool) ui.FlashMsg {
		t.Helper()
		selectByName(t, m, "edge-relay")
		var cmd = func() (ui.View, viewtest.Outcome) { v2, c := v.Update(viewtest.Key(key)); return drive(t, v2, c) }
		nv, out := cmd()
		v = nv
		if confirm {
			v, out = drive(t, v, out.LastConfirm(t).On)
		}
		if len(out.Statuses) == 0 || out.Statuses[len(out.Statuses)-1].Err != nil {
			t.Fatalf("%s: a refusal is not an unreachable broker: %+v", key, out.Statuses)
		}
		return out.LastFlash()
	}
	for _, a := range []struct {
		key     string
		confirm bool
	}{{"t", false}, {"e", true}, {"d", true}} {
		f := act(a.key, a.confirm)
		if !f.Error || !strings.Contains(f.Text, ui.ReadOnlyText) || strings.Contains(f.Text, "403") {
			t.Errorf("%s as the read-only key flashed %+v, want the explanation %q", a.key, f, ui.ReadOnlyText)
		}
	}
	if got, err := b.Admin.Webhooks().Get(ctx, hook.ID); err != nil || !got.Enabled {
		t.Fatalf("the subscription changed: %+v, %v", got, err)
	}
	if len(ok.received()) != 0 {
		t.Fatal("a test delivery was sent for the read-only key")
	}
}
