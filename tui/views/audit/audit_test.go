package audit

import (
	"encoding/json"
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
	hookID  = uuid.MustParse("0b6c9a52-6f0e-4c57-9a1e-2f1d3c4b5a01")
	agentID = uuid.MustParse("5e1f2a3b-4c5d-4e6f-8a7b-9c0d1e2f3a4b")
	entryID = uuid.MustParse("7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d")
)

func entry(id uuid.UUID, ago time.Duration, actorType string, actorID *uuid.UUID, actorName *string, action, resType string, resID *uuid.UUID, details string) client.AuditLogEntry {
	e := client.AuditLogEntry{ActorName: actorName}
	e.ID, e.Timestamp, e.CreatedAt = id, now.Add(-ago), now.Add(-ago)
	e.ActorType, e.ActorID, e.Action, e.ResourceType, e.ResourceID = actorType, actorID, action, resType, resID
	if details != "" {
		e.Details = json.RawMessage(details)
	}
	return e
}

func fixture() client.AuditLogList {
	admin, system := viewtest.Ptr("admin"), viewtest.Ptr("system")
	logs := []client.AuditLogEntry{
		entry(entryID, 12*time.Second, "admin", nil, admin, "webhook.updated", "webhook_subscription", &hookID,
			`{"name": "ops-alerts", "enabled": false}`),
		entry(uuid.MustParse("8b9c0d1e-2f3a-4b4c-9d5e-6f7a8b9c0d1e"), 4*time.Minute, "agent", &agentID, viewtest.Ptr("edge-1"),
			"workorder.completed", "work_order", viewtest.Ptr(uuid.MustParse("3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")),
			`{"work_type": "build", "succeeded": true, "message": "image pushed to registry.example.com/app:1.4.2 after 3 retries"}`),
		entry(uuid.MustParse("9c0d1e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f"), 3*time.Hour, "system", nil, system,
			"webhook.delivery_failed", "webhook_subscription", &hookID, `{"error":"HTTP 404","attempts":5}`),
		entry(uuid.MustParse("ad1e2f3a-4b5c-4d6e-9f7a-8b9c0d1e2f3a"), 50*time.Hour, "generator", viewtest.Ptr(uuid.MustParse("be2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b")), nil,
			"stack.created", "stack", viewtest.Ptr(uuid.MustParse("cf3a4b5c-6d7e-4f8a-9b0c-1d2e3f4a5b6c")), ""),
	}
	return client.AuditLogList{Logs: logs, Total: 123, Count: len(logs), Limit: PageSize}
}

// drive runs cmd as the program would; the view's timer is not fed back (the polling
// stops).
func drive(t *testing.T, v ui.View, cmd tea.Cmd) (ui.View, viewtest.Outcome) {
	return viewtest.Drive(t, v, cmd, viewtest.Except(TickMsg{}))
}

func loaded(t *testing.T) *Model {
	t.Helper()
	v := New(viewtest.Env(now, time.Second)).(*Model)
	v.Update(LoadedMsg{Query: v.Query(), List: fixture()})
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
			v := loaded(t)
			v.Update(viewtest.Key("j"))
			v.Update(viewtest.Key("enter"))
			if !v.DetailOpen() {
				t.Fatal("enter did not open the detail")
			}
			golden.RequireEqual(t, viewtest.Render(t, v, sz.w, sz.h))
		})
	}
}

func TestFormGolden(t *testing.T) {
	for _, sz := range sizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			v := loaded(t)
			v.Update(viewtest.Key("f"))
			viewtest.Type(v, "webhook.*")
			v.Update(viewtest.Key("tab"))
			viewtest.Type(v, "admin")
			golden.RequireEqual(t, viewtest.Render(t, v, sz.w, sz.h))
		})
	}
}

func TestFormAppliesServerFilters(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("f"))
	if !v.FormOpen() || !v.Capturing() {
		t.Fatal("f must open the form and capture keys")
	}
	viewtest.Type(v, "webhook.*") // "f", "n", "b" and "q" are text here, not commands
	v.Update(viewtest.Key("tab"))
	v.Update(viewtest.Key("tab"))
	v.Update(viewtest.Key("tab"))
	viewtest.Type(v, "webhook_subscription")
	v.Update(viewtest.Key("tab"))
	viewtest.Type(v, hookID.String())
	v.Update(viewtest.Key("shift+tab"))
	v.Update(viewtest.Key("shift+tab"))
	v.Update(viewtest.Key("shift+tab"))
	viewtest.Type(v, "admin")
	_, cmd := v.Update(viewtest.Key("enter"))
	if v.FormOpen() || v.Capturing() || cmd == nil {
		t.Fatal("enter must close the form and load")
	}
	want := Query{Action: "webhook.*", ActorType: "admin", ResourceType: "webhook_subscription", ResourceID: hookID.String()}
	if v.Query() != want {
		t.Fatalf("query %+v, want %+v", v.Query(), want)
	}
	// Until the answer arrives the old rows stay, marked as loading.
	if out := viewtest.Render(t, v, 120, 30); !strings.Contains(out, "loading…") ||
		!strings.Contains(out, "server filters: action=webhook.* actor_type=admin resource_type=webhook_subscription resource_id=0b6c9a52…") {
		t.Fatalf("while loading:\n%s", out)
	}
	// An answer to the old query is stale.
	v.Update(LoadedMsg{Query: Query{}, List: client.AuditLogList{}})
	if len(v.entries) != 4 {
		t.Fatal("an answer to the previous query was taken")
	}
	page := fixture()
	page.Logs, page.Total = page.Logs[:1], 1
	v.Update(LoadedMsg{Query: want, List: page})
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "entries 1–1 of 1 · page 1/1") || strings.Contains(out, "loading…") {
		t.Fatalf("after the answer:\n%s", out)
	}
	opts, err := v.Query().Options(now, PageSize)
	if err != nil || opts.Action != "webhook.*" || opts.ResourceID == nil || *opts.ResourceID != hookID || opts.ActorType != "admin" {
		t.Fatalf("options %+v, %v", opts, err)
	}
}

func TestFormCancelAndValidation(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("f"))
	viewtest.Type(v, "agent.created")
	if _, cmd := v.Update(viewtest.Key("esc")); cmd != nil || v.FormOpen() || v.Query() != (Query{}) {
		t.Fatalf("esc must cancel without change: %+v", v.Query())
	}
	v.Update(viewtest.Key("f"))
	if v.form.fields[fAction].input.Value() != "" {
		t.Fatal("a cancelled edit came back")
	}
	v.Update(viewtest.Key("tab"))
	v.Update(viewtest.Key("tab"))
	viewtest.Type(v, "not-a-uuid")
	if _, cmd := v.Update(viewtest.Key("enter")); cmd != nil || !v.FormOpen() {
		t.Fatal("an invalid id must keep the form open")
	}
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, `actor id "not-a-uuid" is not a UUID`) {
		t.Fatalf("form error:\n%s", out)
	}
	v.Update(viewtest.Key("ctrl+x"))
	v.Update(viewtest.Key("up"))
	v.Update(viewtest.Key("up"))
	v.Update(viewtest.Key("up"))
	viewtest.Type(v, "7d")
	v.Update(viewtest.Key("enter"))
	if v.FormOpen() || v.Query() != (Query{Since: "7d"}) {
		t.Fatalf("query %+v", v.Query())
	}
	opts, _ := v.Query().Options(now, 10)
	if !opts.From.Equal(now.Add(-7 * 24 * time.Hour)) {
		t.Fatalf("since 7d gives from %v", opts.From)
	}
}

func TestParseSince(t *testing.T) {
	for in, want := range map[string]time.Duration{"30m": 30 * time.Minute, "2h30m": 150 * time.Minute, "7d": 168 * time.Hour} {
		if got, err := ParseSince(in); err != nil || got != want {
			t.Errorf("%s: %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "0s", "-1h", "xd", "week"} {
		if _, err := ParseSince(in); err == nil {
			t.Errorf("%q: no error", in)
		}
	}
}

func TestPaging(t *testing.T) {
	v := loaded(t) // 123 entries: 3 pages of 50
	_, cmd := v.Update(viewtest.Key("b"))
	if f := cmd().(ui.FlashMsg); f.Text != "already on the first page" || v.Query().Offset != 0 {
		t.Fatalf("b on the first page: %+v, offset %d", f, v.Query().Offset)
	}
	for want := 50; want <= 100; want += 50 {
		if _, cmd := v.Update(viewtest.Key("n")); cmd == nil || v.Query().Offset != want {
			t.Fatalf("n: offset %d, want %d", v.Query().Offset, want)
		}
		v.Update(LoadedMsg{Query: v.Query(), List: fixture()})
	}
	if out := viewtest.Render(t, v, 80, 24); !strings.Contains(out, "entries 101–104 of 123 · page 3/3") {
		t.Fatalf("third page:\n%s", out)
	}
	_, cmd = v.Update(viewtest.Key("n"))
	if f := cmd().(ui.FlashMsg); f.Text != "already on the last page" || v.Query().Offset != 100 {
		t.Fatalf("n on the last page: %+v", f)
	}
	v.Update(viewtest.Key("b"))
	if v.Query().Offset != 50 {
		t.Fatalf("b: offset %d", v.Query().Offset)
	}
	// Applying filters starts again at the first page.
	v.Update(viewtest.Key("f"))
	viewtest.Type(v, "stack.*")
	v.Update(viewtest.Key("enter"))
	if v.Query().Offset != 0 {
		t.Fatalf("offset %d after new filters", v.Query().Offset)
	}
}

func TestTextFilter(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("/"))
	if !v.Capturing() {
		t.Fatal("typing the filter must capture keys")
	}
	viewtest.Type(v, "edge-1")
	v.Update(viewtest.Key("enter"))
	golden.RequireEqual(t, viewtest.Render(t, v, 80, 24))
	if e, ok := v.Selected(); !ok || e.Action != "workorder.completed" {
		t.Fatalf("selected %+v", e)
	}
	// The filter also searches the details.
	v.Update(viewtest.Key("esc"))
	v.Update(viewtest.Key("/"))
	viewtest.Type(v, "404")
	v.Update(viewtest.Key("enter"))
	if e, _ := v.Selected(); len(v.visible()) != 1 || e.Action != "webhook.delivery_failed" {
		t.Fatalf("details search: %d rows, %s", len(v.visible()), e.Action)
	}
}

func TestDetailScroll(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("j"))
	v.Update(viewtest.Key("enter"))
	top := viewtest.Render(t, v, 60, 8)
	if !strings.Contains(top, "(1-6 of") || strings.Contains(top, `"work_type"`) {
		t.Fatalf("top:\n%s", top)
	}
	v.Update(viewtest.Key("G"))
	bottom := viewtest.Render(t, v, 60, 8)
	if !strings.Contains(bottom, `"work_type": "build"`) || !strings.Contains(bottom, "}") {
		t.Fatalf("bottom:\n%s", bottom)
	}
	for range 5 {
		v.Update(viewtest.Key("j"))
	}
	if viewtest.Render(t, v, 60, 8) != bottom {
		t.Fatal("scrolled past the end")
	}
	v.Update(viewtest.Key("g"))
	if viewtest.Render(t, v, 60, 8) != top {
		t.Fatal("g must go back to the top")
	}
	// Polling while the detail is open does not disturb it.
	v.Update(LoadedMsg{Query: v.Query(), List: client.AuditLogList{}})
	if !v.DetailOpen() || viewtest.Render(t, v, 60, 8) != top {
		t.Fatal("a reload changed the open detail")
	}
	v.Update(viewtest.Key("esc"))
	if v.DetailOpen() {
		t.Fatal("esc must close the detail")
	}
}

func TestDetailWithoutDetails(t *testing.T) {
	v := loaded(t)
	v.Update(viewtest.Key("G"))
	v.Update(viewtest.Key("enter"))
	out := viewtest.Render(t, v, 80, 24)
	if !strings.Contains(out, "(none)") || !strings.Contains(out, "generator · be2f3a4b-5c6d-4e7f-8a9b-0c1d2e3f4a5b") {
		t.Fatalf("detail:\n%s", out)
	}
}

func TestErrors(t *testing.T) {
	v := loaded(t)
	v.Update(LoadedMsg{Query: v.Query(), Err: errors.New("list audit logs: connection refused")})
	out := viewtest.Render(t, v, 80, 24)
	if !strings.Contains(out, "error: list audit logs: connection refused") || !strings.Contains(out, "webhook.updated") {
		t.Fatalf("error with the last data:\n%s", out)
	}
	empty := New(viewtest.Env(now, time.Second)).(*Model)
	if !strings.Contains(viewtest.Render(t, empty, 80, 24), "loading audit log…") {
		t.Fatal("no loading line")
	}
	empty.Update(LoadedMsg{Query: empty.Query(), List: client.AuditLogList{}})
	if out := viewtest.Render(t, empty, 80, 24); !strings.Contains(out, "No audit entries.") {
		t.Fatalf("empty:\n%s", out)
	}
	for _, k := range []string{"enter", "j", "n", "b"} {
		empty.Update(viewtest.Key(k))
	}
	if empty.DetailOpen() {
		t.Fatal("enter on an empty list opened a detail")
	}
}

func TestTinySizes(t *testing.T) {
	form := loaded(t)
	form.Update(viewtest.Key("f"))
	detail := loaded(t)
	detail.Update(viewtest.Key("enter"))
	for _, v := range []*Model{New(viewtest.Env(now, time.Second)).(*Model), loaded(t), form, detail} {
		for w := 1; w <= 12; w++ {
			for h := 1; h <= 12; h++ {
				viewtest.Render(t, v, w, h)
			}
		}
		if v.Render(0, 3) != "" {
			t.Fatal("zero width must render nothing")
		}
	}
}

func TestKeys(t *testing.T) {
	v := loaded(t)
	if got := viewtest.HelpKeys(v); got != "enter / f n b r" {
		t.Fatalf("list keys %q", got)
	}
	v.Update(viewtest.Key("f"))
	if got := viewtest.HelpKeys(v); got != "tab/↓ shift+tab/↑ enter ctrl+x esc" {
		t.Fatalf("form keys %q", got)
	}
	v.Update(viewtest.Key("esc"))
	v.Update(viewtest.Key("enter"))
	if got := viewtest.HelpKeys(v); got != "↑↓/jk pgdn esc" {
		t.Fatalf("detail keys %q", got)
	}
}
