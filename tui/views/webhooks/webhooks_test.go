package webhooks

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

var now = time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)

var (
	idOps   = uuid.MustParse("0b6c9a52-6f0e-4c57-9a1e-2f1d3c4b5a01")
	idAudit = uuid.MustParse("1c7d0b63-7a1f-4d68-8b2f-3a2e4d5c6b02")
	idEdge  = uuid.MustParse("2d8e1c74-8b2a-4e79-9c3a-4b3f5e6d7c03")
	stackID = uuid.MustParse("9f0a1b2c-3d4e-4f50-8a6b-7c8d9e0f1a2b")
)

func fixture() []client.WebhookResponse {
	admin := "admin"
	return []client.WebhookResponse{
		{ID: idOps, Name: "ops-alerts", HasURL: true, HasAuthHeader: true,
			EventTypes: []string{"deployment.failed", "workorder.failed"}, Enabled: true, MaxRetries: 5,
			TimeoutSeconds: 30, CreatedAt: now.Add(-3 * time.Hour), UpdatedAt: now.Add(-10 * time.Minute), CreatedBy: &admin},
		{ID: idAudit, Name: "audit-sink", HasURL: true, EventTypes: []string{"*"}, Enabled: false,
			TargetLabels: []string{}, MaxRetries: 3, TimeoutSeconds: 10, CreatedAt: now.Add(-50 * time.Hour),
			UpdatedAt: now.Add(-50 * time.Hour), CreatedBy: &admin},
		{ID: idEdge, Name: "edge-relay", HasURL: true, EventTypes: []string{"stack.created", "stack.deleted"},
			Filters: &client.WebhookFilters{StackID: viewtest.Ptr(stackID)}, Enabled: true,
			TargetLabels: []string{"region=eu", "edge"}, MaxRetries: 5, TimeoutSeconds: 30,
			CreatedAt: now.Add(-90 * time.Second), UpdatedAt: now.Add(-90 * time.Second)},
	}
}

func deliveries() []client.WebhookDelivery {
	return []client.WebhookDelivery{
		{ID: uuid.New(), SubscriptionID: idOps, EventType: "deployment.failed", Status: "pending",
			CreatedAt: now.Add(-20 * time.Second)},
		{ID: uuid.New(), SubscriptionID: idOps, EventType: "workorder.failed", Status: "failed", Attempts: 2,
			LastError: viewtest.Ptr("HTTP 503: upstream unavailable\nretry later"), CreatedAt: now.Add(-7 * time.Minute)},
		{ID: uuid.New(), SubscriptionID: idOps, EventType: "deployment.failed", Status: "dead", Attempts: 5,
			LastError: viewtest.Ptr("HTTP 404"), CreatedAt: now.Add(-2 * time.Hour)},
		{ID: uuid.New(), SubscriptionID: idOps, EventType: "deployment.failed", Status: "success", Attempts: 1,
			CreatedAt: now.Add(-26 * time.Hour)},
	}
}

// drive runs cmd as the program would; the view's timer is not fed back (the polling
// stops).
func drive(t *testing.T, v ui.View, cmd tea.Cmd) (ui.View, viewtest.Outcome) {
	return viewtest.Drive(t, v, cmd, viewtest.Except(TickMsg{}))
}

func loaded(t *testing.T) *Model {
	t.Helper()
	v := New(viewtest.Env(now, time.Second)).(*Model)
	v.Update(LoadedMsg{Webhooks: fixture()})
	return v
}

func opened(t *testing.T) *Model {
	t.Helper()
	v := loaded(t)
	_, cmd := v.Update(viewtest.Key("enter"))
	if cmd == nil || !v.DetailOpen() {
		t.Fatal("enter did not open the detail with a load")
	}
	v.Update(DeliveriesMsg{WebhookID: idOps, Deliveries: deliveries()})
	return v
}

var sizes = []struct{ w, h int }{{80, 24}, {120, 30}}

func TestListGolden(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			golden.RequireEqual(t, viewtest.Render(t, loaded(t), sz.w, sz.h))
		})
	}
}

func TestDetailGolden(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			golden.RequireEqual(t, viewtest.Render(t, opened(t), sz.w, sz.h))
		})
	}
}

func TestFilteredListGolden(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("/"))
	if !v.Capturing() {
		t.Fatal("typing a filter must capture keys")
	}
	viewtest.Type(v, "stack")
	v.Update(viewtest.Key("enter"))
	if v.Capturing() {
		t.Fatal("enter must end the filter input")
	}
	golden.RequireEqual(t, viewtest.Render(t, v, 80, 24))
	h, ok := v.Selected()
	if !ok || h.ID != idEdge {
		t.Fatalf("selected %v %v, want edge-relay", h.Name, ok)
	}
	v.Update(viewtest.Key("esc"))
	if v.list.Filter != "" || len(v.visible()) != 3 {
		t.Fatalf("esc must clear the filter: %q, %d rows", v.list.Filter, len(v.visible()))
	}
}

func TestLoadingAndEmpty(t *testing.T) {
	v := New(viewtest.Env(now, time.Second)).(*Model)
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "loading webhooks…") {
		t.Fatalf("before the first answer:\n%s", out)
	}
	v.Update(LoadedMsg{Webhooks: []client.WebhookResponse{}})
	golden.RequireEqual(t, viewtest.Render(t, v, 80, 24))
	// Keys on an empty list do nothing and do not panic.
	for _, k := range []string{"enter", "t", "e", "d", "j", "k"} {
		if _, cmd := v.Update(viewtest.Key(k)); cmd != nil {
			t.Fatalf("%s on an empty list returned a command", k)
		}
	}
}

func TestErrorKeepsData(t *testing.T) {
	v := loaded(t)
	v.Update(LoadedMsg{Err: errors.New("list webhooks: dial tcp 127.0.0.1:1: connection refused")})
	out := viewtest.Render(t, v, 80, 24)
	if !strings.Contains(out, "error: list webhooks: dial tcp") || !strings.Contains(out, "ops-alerts") {
		t.Fatalf("error must show above the last data:\n%s", out)
	}
	v.Update(LoadedMsg{Webhooks: fixture()[:1]})
	if out := viewtest.Render(t, v, 80, 24); strings.Contains(out, "error:") || strings.Contains(out, "edge-relay") {
		t.Fatalf("a good answer must clear the error and replace the rows:\n%s", out)
	}
}

func TestIgnoresDeliveriesOfClosedSubscriptions(t *testing.T) {
	v := loaded(t)
	// Deliveries for a subscription that is not open are dropped.
	v.Update(viewtest.Key("enter"))
	v.Update(DeliveriesMsg{WebhookID: idAudit, Deliveries: deliveries()})
	if v.delLoaded {
		t.Fatal("deliveries of another subscription were taken")
	}
}

func TestCursorFollowsSelectionAcrossReloads(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("j"))
	v.Update(viewtest.Key("j"))
	if h, _ := v.Selected(); h.ID != idEdge {
		t.Fatalf("selected %s, want edge-relay", h.Name)
	}
	// A new subscription arrives first (newest first): the cursor stays on edge-relay.
	rows := append([]client.WebhookResponse{{ID: uuid.New(), Name: "new-one", EventTypes: []string{"*"}, CreatedAt: now}}, fixture()...)
	v.Update(LoadedMsg{Webhooks: rows})
	if h, _ := v.Selected(); h.ID != idEdge || v.list.Cursor != 3 {
		t.Fatalf("selected %s at %d after reload, want edge-relay at 3", h.Name, v.list.Cursor)
	}
}

func TestActionsAskFirst(t *testing.T) {
	v := loaded(t)
	cases := []struct {
		key, prompt string
		down        int
	}{
		{"e", `Disable webhook "ops-alerts"?`, 0},
		{"e", `Enable webhook "audit-sink"?`, 1},
		{"d", `Delete webhook "audit-sink" and its deliveries?`, 0},
	}
	for _, c := range cases {
		for range c.down {
			v.Update(viewtest.Key("j"))
		}
		_, cmd := v.Update(viewtest.Key(c.key))
		_, out := drive(t, v, cmd)
		if len(out.Confirms) != 1 || out.Confirms[0].Prompt != c.prompt {
			t.Fatalf("%s: confirms %+v, want %q", c.key, out.Confirms, c.prompt)
		}
		if len(out.Statuses) != 0 {
			t.Fatalf("%s reached the broker before the confirmation", c.key)
		}
	}
}

func TestTestFlashesFirst(t *testing.T) {
	v := loaded(t)
	_, cmd := v.Update(viewtest.Key("t"))
	msgs, ok := cmd().(tea.BatchMsg)
	if !ok || len(msgs) != 2 {
		t.Fatalf("t: want a batch of flash and request, got %T", cmd())
	}
	if f, ok := msgs[0]().(ui.FlashMsg); !ok || !strings.Contains(f.Text, "sending a test delivery to ops-alerts") {
		t.Fatalf("first flash %+v", f)
	}
	// Without a client the request fails cleanly, reported as a failed test.
	res := msgs[1]().(ActionMsg)
	if res.Err == nil || res.Action != ActionTest || res.WebhookID != idOps {
		t.Fatalf("result %+v", res)
	}
	_, cmd = v.Update(res)
	if f := cmd().(ui.FlashMsg); !f.Error || !strings.HasPrefix(f.Text, "test ops-alerts: ") {
		t.Fatalf("failure flash %+v", f)
	}
}

func TestActionOutcomes(t *testing.T) {
	v := opened(t)
	_, cmd := v.Update(ActionMsg{WebhookID: idOps, Name: "ops-alerts", Action: ActionDisable, Text: "disabled webhook ops-alerts"})
	msgs := cmd().(tea.BatchMsg)
	if f := msgs[0]().(ui.FlashMsg); f.Error || f.Text != "disabled webhook ops-alerts" {
		t.Fatalf("flash %+v", f)
	}
	if len(msgs) != 3 {
		t.Fatalf("a change to the open subscription must reload the list and its deliveries, got %d commands", len(msgs))
	}
	// Deleting the open subscription goes back to the list.
	v.Update(ActionMsg{WebhookID: idOps, Name: "ops-alerts", Action: ActionDelete, Text: "deleted webhook ops-alerts"})
	if v.DetailOpen() {
		t.Fatal("the deleted subscription's detail is still open")
	}
}

func TestDetailScroll(t *testing.T) {
	v := opened(t)
	top := viewtest.Render(t, v, 80, 10)
	if !strings.Contains(top, "ID") || strings.Contains(top, "Recent deliveries") {
		t.Fatalf("top of the detail:\n%s", top)
	}
	for range 30 {
		v.Update(viewtest.Key("j"))
	}
	bottom := viewtest.Render(t, v, 80, 10)
	if !strings.Contains(bottom, "success") || strings.Contains(bottom, "│ID") {
		t.Fatalf("bottom of the detail:\n%s", bottom)
	}
	golden.RequireEqual(t, bottom)
	// Scrolling stops at the end: one step up shows a different top line at once.
	v.Update(viewtest.Key("k"))
	if viewtest.Render(t, v, 80, 10) == bottom {
		t.Fatal("scrolling past the end kept going")
	}
	v.Update(viewtest.Key("esc"))
	if v.DetailOpen() {
		t.Fatal("esc must close the detail")
	}
	if h, _ := v.Selected(); h.ID != idOps {
		t.Fatalf("back on the list the cursor is on %s", h.Name)
	}
}

func TestDetailDeliveriesError(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("enter"))
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "Recent deliveries") || !strings.Contains(out, "loading…") {
		t.Fatalf("detail before the deliveries arrive:\n%s", out)
	}
	v.Update(DeliveriesMsg{WebhookID: idOps, Err: errors.New("list deliveries: boom")})
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "error: list deliveries: boom") {
		t.Fatalf("detail after a failed load:\n%s", out)
	}
	// The subscription disappears while open.
	v.Update(LoadedMsg{Webhooks: fixture()[1:]})
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "This webhook no longer exists.") {
		t.Fatalf("detail of a vanished subscription:\n%s", out)
	}
}

func TestTinySizes(t *testing.T) {
	for _, v := range []*Model{New(viewtest.Env(now, time.Second)).(*Model), loaded(t), opened(t)} {
		v.Update(LoadedMsg{Err: errors.New("boom")})
		for w := 1; w <= 12; w++ {
			for h := 1; h <= 6; h++ {
				viewtest.Render(t, v, w, h)
			}
		}
		if v.Render(0, 0) != "" || v.Render(-1, 5) != "" {
			t.Fatal("a zero size must render nothing")
		}
	}
}

func TestMode(t *testing.T) {
	if Mode(nil) != ModeBroker || Mode([]string{}) != ModeAny || Mode([]string{"edge"}) != ModeAgent {
		t.Fatal("delivery modes")
	}
}

func TestKeys(t *testing.T) {
	v := loaded(t)
	has := func(want string) bool {
		for _, k := range v.Keys() {
			if k.Help().Key == want {
				return true
			}
		}
		return false
	}
	if !has("enter") || !has("/") || !has("t") || has("esc") {
		t.Fatal("list keys")
	}
	v.Update(viewtest.Key("enter"))
	if !has("esc") || has("/") {
		t.Fatal("detail keys")
	}
	for _, k := range v.Keys() {
		for _, name := range k.Keys() {
			switch name {
			case "q", "?", "tab", "shift+tab", "c", "1", "2", "3", "4", "5", "6", "7":
				t.Fatalf("key %q is the root's", name)
			}
		}
	}
}
