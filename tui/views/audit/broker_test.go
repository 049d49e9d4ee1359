package audit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/brokkr/brokkr/tui/internal/viewtest"
	"github.com/brokkr/brokkr/tui/ui"
)

// applyFilters opens the form, clears it, types values into the given fields and applies.
func applyFilters(t *testing.T, v ui.View, values map[int]string) (ui.View, viewtest.Outcome) {
	t.Helper()
	v, _ = v.Update(viewtest.Key("f"))
	v, _ = v.Update(viewtest.Key("ctrl+x"))
	for i := range fSince + 1 {
		if s, ok := values[i]; ok {
			v = viewtest.Type(v, s)
		}
		v, _ = v.Update(viewtest.Key("tab"))
	}
	v, cmd := v.Update(viewtest.Key("enter"))
	if v.(*Model).FormOpen() {
		t.Fatalf("form still open: %s", v.(*Model).form.err)
	}
	return drive(t, v, cmd)
}

func actions(m *Model) []string {
	out := make([]string, len(m.entries))
	for i, e := range m.entries {
		out[i] = e.Action
	}
	return out
}

func TestAgainstBroker(t *testing.T) {
	b := servertest.Start(t)
	ctx := context.Background()
	wh := b.Admin.Webhooks()
	ops, err := wh.Create(ctx, client.CreateWebhookRequest{Name: "ops-alerts", URL: "http://127.0.0.1:9/hook", EventTypes: []string{"*"}})
	if err != nil {
		t.Fatal(err)
	}
	tmp, err := wh.Create(ctx, client.CreateWebhookRequest{Name: "tmp-hook", URL: "http://127.0.0.1:9/tmp", EventTypes: []string{"stack.*"}})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	if _, err := wh.Update(ctx, ops.ID, client.UpdateWebhookRequest{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if err := wh.Delete(ctx, tmp.ID); err != nil {
		t.Fatal(err)
	}
	b.CreateAgent(t, "edge-1", "cluster-1", false)
	b.Server.FlushAudit(ctx)

	env := viewtest.Env(now, time.Millisecond)
	env.Client = b.Admin
	env.Now = time.Now
	v := New(env)
	m := v.(*Model)
	v, out := drive(t, v, v.Init())
	if len(out.Statuses) != 1 || out.Statuses[0].Err != nil || m.err != nil {
		t.Fatalf("first load: statuses %+v, err %v", out.Statuses, m.err)
	}
	all := strings.Join(actions(m), " ")
	for _, want := range []string{"webhook.created", "webhook.updated", "webhook.deleted", "agent.created"} {
		if !strings.Contains(all, want) {
			t.Fatalf("audit log lacks %s: %s", want, all)
		}
	}
	if list := viewtest.Render(t, v, 120, 30); !strings.Contains(list, "webhook.deleted") || !strings.Contains(list, "admin") {
		t.Fatalf("list:\n%s", list)
	}

	// Server-side filter by action prefix.
	v, out = applyFilters(t, v, map[int]string{fAction: "webhook.*"})
	if len(out.Statuses) != 1 || m.err != nil {
		t.Fatalf("filtered load: %+v %v", out.Statuses, m.err)
	}
	if got := actions(m); len(got) != 4 || m.total != 4 {
		t.Fatalf("webhook.* gives %v (total %d), want 2 created, 1 updated, 1 deleted", got, m.total)
	}
	for _, e := range m.entries {
		if !strings.HasPrefix(e.Action, "webhook.") || e.ResourceType != "webhook_subscription" || e.ActorType != "admin" {
			t.Fatalf("entry %+v does not match the filter", e)
		}
	}

	// Exact action on one resource; the detail shows its details.
	v, _ = applyFilters(t, v, map[int]string{fAction: "webhook.updated", fResourceID: ops.ID.String(), fSince: "1h"})
	if len(m.entries) != 1 || *m.entries[0].ResourceID != ops.ID {
		t.Fatalf("entries %+v", m.entries)
	}
	v, _ = v.Update(viewtest.Key("enter"))
	detail := viewtest.Render(t, v, 80, 24)
	for _, want := range []string{`"enabled": false`, `"name": "ops-alerts"`, ops.ID.String(), "webhook.updated"} {
		if !strings.Contains(detail, want) {
			t.Fatalf("detail lacks %s:\n%s", want, detail)
		}
	}
	v, _ = v.Update(viewtest.Key("esc"))

	// Paging through the webhook entries two at a time.
	m.pageSize = 2
	v, _ = applyFilters(t, v, map[int]string{fAction: "webhook.*"})
	first := actions(m)
	firstIDs := map[string]bool{m.entries[0].ID.String(): true, m.entries[1].ID.String(): true}
	if len(first) != 2 || m.total != 4 {
		t.Fatalf("first page %v of %d", first, m.total)
	}
	v, cmd := v.Update(viewtest.Key("n"))
	v, _ = drive(t, v, cmd)
	second := actions(m)
	if m.Query().Offset != 2 || len(second) != 2 || firstIDs[m.entries[0].ID.String()] || firstIDs[m.entries[1].ID.String()] {
		t.Fatalf("second page %v", second)
	}
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "entries 3–4 of 4 · page 2/2") {
		t.Fatalf("second page:\n%s", out)
	}
	// The oldest entry of the second page is the first webhook's creation.
	if second[1] != "webhook.created" {
		t.Fatalf("oldest webhook entry %s", second[1])
	}
	v, cmd = v.Update(viewtest.Key("n"))
	if _, out = drive(t, v, cmd); len(out.Flashes) != 1 || out.Flashes[0].Text != "already on the last page" {
		t.Fatalf("n on the last page: %+v", out.Flashes)
	}
	v, cmd = v.Update(viewtest.Key("b"))
	v, _ = drive(t, v, cmd)
	if m.Query().Offset != 0 || strings.Join(actions(m), " ") != strings.Join(first, " ") {
		t.Fatalf("back on the first page: %v", actions(m))
	}

	// A filter nothing matches.
	v, _ = applyFilters(t, v, map[int]string{fActorType: "system"})
	if len(m.entries) != 0 || !strings.Contains(viewtest.Render(t, v, 80, 24), "No audit entries.") {
		t.Fatalf("system entries %v", actions(m))
	}
}
