package server_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

// applyWindowEnv is a broker whose clock the test sets (clock.Store(unix seconds)).
func applyWindowEnv(t *testing.T, start time.Time) (*env, *atomic.Int64) {
	t.Helper()
	var clock atomic.Int64
	clock.Store(start.Unix())
	e := newEnv(t).replicaWith(func(o *server.Options) {
		o.Clock = func() time.Time { return time.Unix(clock.Load(), 0) }
	})
	return e, &clock
}

// createApplyWindow creates a window as the admin.
func (e *env) createApplyWindow(body map[string]any) client.ApplyWindow {
	e.t.Helper()
	var w client.ApplyWindow
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/apply-windows", pak: e.admin, body: body}).decode(e.t, &w)
	return w
}

func sameTime(got *time.Time, want string) bool {
	if want == "" {
		return got == nil
	}
	w, err := time.Parse(time.RFC3339, want)
	return err == nil && got != nil && got.Equal(w)
}

// checkOpen asserts the computed fields of a window.
func checkOpen(t *testing.T, w client.ApplyWindow, open bool, nextOpen, nextClose string) {
	t.Helper()
	if w.Open != open || !sameTime(w.NextOpenAt, nextOpen) || !sameTime(w.NextCloseAt, nextClose) {
		t.Fatalf("%s: open %v, next open %v, next close %v; want %v, %s, %s", w.Name, w.Open, w.NextOpenAt, w.NextCloseAt,
			open, nextOpen, nextClose)
	}
}

// TestApplyWindowLifecycle: the admin creates, lists, reads and deletes apply windows; the
// answers say whether each window is open at the broker's clock and when it next opens and
// closes; both changes are audited.
func TestApplyWindowLifecycle(t *testing.T) {
	// Tuesday 2025-06-03 06:00 UTC = 08:00 in Berlin.
	e, clock := applyWindowEnv(t, time.Date(2025, 6, 3, 6, 0, 0, 0, time.UTC))
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)

	business := e.createApplyWindow(map[string]any{
		"name": "business-hours", "description": "office hours", "schedule": "0 9 * * 1-5", "duration": "480m",
		"time_zone": "Europe/Berlin", "kind": "allow",
		"selector":  map[string]any{"labels": []string{"env:prod"}, "annotations": map[string]string{"zone": "eu-1"}},
		"stack_ids": []uuid.UUID{st.ID},
	})
	if business.ID == uuid.Nil || business.Name != "business-hours" || business.Description != "office hours" ||
		business.Schedule != "0 9 * * 1-5" || business.Duration != "8h0m0s" || business.TimeZone != "Europe/Berlin" ||
		business.Kind != "allow" || !slices.Equal(business.Selector.Labels, []string{"env:prod"}) ||
		business.Selector.Annotations["zone"] != "eu-1" || !slices.Equal(business.StackIDs, []uuid.UUID{st.ID}) ||
		business.CreatedAt.IsZero() {
		t.Fatalf("created %+v", business)
	}
	// Closed at 08:00 Berlin: opens at 09:00 (07:00 UTC) until 17:00 (15:00 UTC).
	checkOpen(t, business, false, "2025-06-03T07:00:00Z", "2025-06-03T15:00:00Z")

	// Defaults: UTC, every agent, every stack.
	freeze := e.createApplyWindow(map[string]any{"name": "a-freeze", "schedule": "@daily", "duration": "1h", "kind": "deny"})
	if freeze.TimeZone != "UTC" || freeze.StackIDs == nil || len(freeze.StackIDs) != 0 ||
		len(freeze.Selector.Labels) != 0 || len(freeze.Selector.Annotations) != 0 {
		t.Fatalf("defaults: %+v", freeze)
	}
	checkOpen(t, freeze, false, "2025-06-04T00:00:00Z", "2025-06-04T01:00:00Z")
	raw := e.must(http.StatusOK, req{method: "GET", path: v1path("apply-windows", freeze.ID), pak: e.admin})
	if strings.Contains(string(raw.body), `"description"`) {
		t.Fatalf("a window without description answers one: %s", raw.body)
	}

	// At 10:30 Berlin the business window is open; the list is by name.
	clock.Store(time.Date(2025, 6, 3, 8, 30, 0, 0, time.UTC).Unix())
	var list []client.ApplyWindow
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/apply-windows", pak: e.admin}).decode(t, &list)
	if len(list) != 2 || list[0].ID != freeze.ID || list[1].ID != business.ID {
		t.Fatalf("list %+v, want a-freeze then business-hours", list)
	}
	checkOpen(t, list[1], true, "2025-06-04T07:00:00Z", "2025-06-03T15:00:00Z")
	// Friday evening: closed until Monday.
	clock.Store(time.Date(2025, 6, 6, 16, 0, 0, 0, time.UTC).Unix())
	var got client.ApplyWindow
	e.must(http.StatusOK, req{method: "GET", path: v1path("apply-windows", business.ID), pak: e.admin}).decode(t, &got)
	checkOpen(t, got, false, "2025-06-09T07:00:00Z", "2025-06-09T15:00:00Z")
	// A window that never closes has no next opening or closing.
	always := e.createApplyWindow(map[string]any{"name": "always", "schedule": "0 * * * *", "duration": "2h", "kind": "deny"})
	checkOpen(t, always, true, "", "")

	e.must(http.StatusNoContent, req{method: "DELETE", path: v1path("apply-windows", business.ID), pak: e.admin})
	e.expectError(http.StatusNotFound, "apply_window_not_found", req{method: "GET", path: v1path("apply-windows", business.ID), pak: e.admin})
	e.expectError(http.StatusNotFound, "apply_window_not_found", req{method: "DELETE", path: v1path("apply-windows", business.ID), pak: e.admin})
	e.expectError(http.StatusBadRequest, "invalid_parameter", req{method: "GET", path: "/api/v1/apply-windows/nope", pak: e.admin})
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/apply-windows", pak: e.admin}).decode(t, &list)
	if len(list) != 2 || list[0].ID != freeze.ID || list[1].ID != always.ID {
		t.Fatalf("list after delete %+v", list)
	}
	want := []string{"apply_window.created/apply_window/admin", "apply_window.deleted/apply_window/admin"}
	if got := e.readOnlyPAKAudit(business.ID); !slices.Equal(got, want) {
		t.Fatalf("audit %v, want %v", got, want)
	}
}

// TestApplyWindowValidation: every setting is checked, with the field named.
func TestApplyWindowValidation(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	live := e.createStack("live", g.gen.ID, g.pak)
	gone := e.createStack("gone", g.gen.ID, g.pak)
	e.must(http.StatusNoContent, req{method: "DELETE", path: v1path("stacks", gone.ID), pak: g.pak})
	valid := func(change map[string]any) map[string]any {
		b := map[string]any{"name": "w", "schedule": "0 9 * * 1-5", "duration": "4h", "kind": "allow",
			"time_zone": "Europe/Berlin", "stack_ids": []uuid.UUID{live.ID}}
		for k, v := range change {
			if v == nil {
				delete(b, k)
			} else {
				b[k] = v
			}
		}
		return b
	}
	for _, tt := range []struct {
		name   string
		change map[string]any
		field  string
	}{
		{"no name", map[string]any{"name": nil}, "name"},
		{"blank name", map[string]any{"name": "  "}, "name"},
		{"long name", map[string]any{"name": strings.Repeat("n", 256)}, "name"},
		{"no schedule", map[string]any{"schedule": nil}, "schedule"},
		{"six fields", map[string]any{"schedule": "0 0 9 * * *"}, "schedule"},
		{"not cron", map[string]any{"schedule": "weekdays at nine"}, "schedule"},
		{"every", map[string]any{"schedule": "@every 1h"}, "schedule"},
		{"zone prefix", map[string]any{"schedule": "CRON_TZ=UTC 0 9 * * *"}, "schedule"},
		{"never fires", map[string]any{"schedule": "0 0 31 2 *"}, "schedule"},
		{"no duration", map[string]any{"duration": nil}, "duration"},
		{"bad duration", map[string]any{"duration": "four hours"}, "duration"},
		{"zero duration", map[string]any{"duration": "0s"}, "duration"},
		{"negative duration", map[string]any{"duration": "-1h"}, "duration"},
		{"duration beyond 31 days", map[string]any{"duration": "745h"}, "duration"},
		{"fractional duration", map[string]any{"duration": "1.5s"}, "duration"},
		{"unknown zone", map[string]any{"time_zone": "Europe/Atlantis"}, "time_zone"},
		{"no kind", map[string]any{"kind": nil}, "kind"},
		{"bad kind", map[string]any{"kind": "maybe"}, "kind"},
		{"blank label", map[string]any{"selector": map[string]any{"labels": []string{""}}}, "selector.labels"},
		{"label with space", map[string]any{"selector": map[string]any{"labels": []string{"a b"}}}, "selector.labels"},
		{"blank annotation key", map[string]any{"selector": map[string]any{"annotations": map[string]string{"": "v"}}}, "selector.annotations"},
		{"stack twice", map[string]any{"stack_ids": []uuid.UUID{live.ID, live.ID}}, "stack_ids"},
		{"unknown stack", map[string]any{"stack_ids": []uuid.UUID{live.ID, uuid.New()}}, "stack_ids"},
		{"deleted stack", map[string]any{"stack_ids": []uuid.UUID{gone.ID}}, "stack_ids"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := e.withT(t)
			r := e.expectError(http.StatusBadRequest, "invalid_apply_window",
				req{method: "POST", path: "/api/v1/apply-windows", pak: e.admin, body: valid(tt.change)})
			if d := errorDetails(t, r); d["field"] != tt.field {
				t.Fatalf("details %v, want field %q", d, tt.field)
			}
		})
	}
	// Values of the wrong shape are 422 like everywhere else.
	e.expectError(http.StatusUnprocessableEntity, "invalid_request_body", req{method: "POST", path: "/api/v1/apply-windows",
		pak: e.admin, body: valid(map[string]any{"duration": 3600})})
	e.expectError(http.StatusUnprocessableEntity, "invalid_request_body", req{method: "POST", path: "/api/v1/apply-windows",
		pak: e.admin, body: valid(map[string]any{"stack_ids": []string{"not-a-uuid"}})})

	// Nothing was stored; a valid window is, once.
	var list []client.ApplyWindow
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1/apply-windows", pak: e.admin}).decode(t, &list)
	if len(list) != 0 {
		t.Fatalf("invalid windows were stored: %+v", list)
	}
	e.createApplyWindow(valid(nil))
	r := e.expectError(http.StatusConflict, "unique_violation", req{method: "POST", path: "/api/v1/apply-windows",
		pak: e.admin, body: valid(map[string]any{"kind": "deny"})})
	if d := errorDetails(t, r); d["constraint"] != "apply_windows_name_key" {
		t.Fatalf("duplicate name: details %v", d)
	}
}

// TestApplyWindowAccess: only the admin creates and deletes windows; read-only keys read them;
// agents and generators do neither.
func TestApplyWindowAccess(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	a := e.createAgent("a", "c", g.gen.ID)
	ro := e.createReadOnlyPAK("viewer")
	w := e.createApplyWindow(map[string]any{"name": "w", "schedule": "@daily", "duration": "1h", "kind": "deny"})
	body := map[string]any{"name": "other", "schedule": "@daily", "duration": "1h", "kind": "deny"}
	for _, key := range []string{e.srv.ReadOnlyPAK(), ro.PAK} {
		e.must(http.StatusOK, req{method: "GET", path: "/api/v1/apply-windows", pak: key})
		e.must(http.StatusOK, req{method: "GET", path: v1path("apply-windows", w.ID), pak: key})
		e.expectError(http.StatusForbidden, "read_only", req{method: "POST", path: "/api/v1/apply-windows", pak: key, body: body})
		e.expectError(http.StatusForbidden, "read_only", req{method: "DELETE", path: v1path("apply-windows", w.ID), pak: key})
	}
	for _, key := range []string{g.pak, a.pak} {
		e.expectError(http.StatusForbidden, "admin_required", req{method: "GET", path: "/api/v1/apply-windows", pak: key})
		e.expectError(http.StatusForbidden, "admin_required", req{method: "GET", path: v1path("apply-windows", w.ID), pak: key})
		e.expectError(http.StatusForbidden, "admin_required", req{method: "POST", path: "/api/v1/apply-windows", pak: key, body: body})
		e.expectError(http.StatusForbidden, "admin_required", req{method: "DELETE", path: v1path("apply-windows", w.ID), pak: key})
	}
	e.expectError(http.StatusUnauthorized, "unauthorized", req{method: "GET", path: "/api/v1/apply-windows"})
	e.must(http.StatusOK, req{method: "GET", path: v1path("apply-windows", w.ID), pak: e.admin})
}

// TestUrgentDeploymentObjects: ?urgent=true (or "urgent": true in a JSON body) makes an
// urgent object, posted or rendered from a template; it is stored and answered as
// urgent: true, and other objects carry no urgent member at all.
func TestUrgentDeploymentObjects(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	st := e.createStack("web", g.gen.ID, g.pak)
	tpl := e.createTemplate(g.pak, "cm", cmYAML, "{}")
	objects := v1path("stacks", st.ID, "deployment-objects")

	post := func(query string, body any, contentType string) client.DeploymentObject {
		t.Helper()
		r := e.must(http.StatusCreated, req{method: "POST", path: objects + query, pak: g.pak, body: body, contentType: contentType})
		var o client.DeploymentObject
		r.decode(t, &o)
		stored := e.must(http.StatusOK, req{method: "GET", path: v1path("deployment-objects", o.ID), pak: g.pak})
		for _, raw := range [][]byte{r.body, stored.body} {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(raw, &m); err != nil {
				t.Fatal(err)
			}
			if u, ok := m["urgent"]; ok != o.Urgent || (ok && string(u) != "true") {
				t.Fatalf("POST %s: urgent member %q (present %v) in %s", query, u, ok, raw)
			}
		}
		return o
	}
	for _, tt := range []struct {
		name, query string
		body        any
		contentType string
		urgent      bool
	}{
		{"yaml", "", cmYAML, "application/yaml", false},
		{"yaml urgent", "?urgent=true", cmYAML, "application/yaml", true},
		{"yaml not urgent", "?urgent=false", cmYAML, "application/yaml", false},
		{"json", "", map[string]any{"yaml_content": cmYAML}, "", false},
		{"json urgent", "", map[string]any{"yaml_content": cmYAML, "urgent": true}, "", true},
		{"json urgent query", "?urgent=true", map[string]any{"yaml_content": cmYAML}, "", true},
		{"deletion marker urgent", "?urgent=true&deletion_marker=true", "", "application/yaml", true},
	} {
		if o := post(tt.query, tt.body, tt.contentType); o.Urgent != tt.urgent {
			t.Errorf("%s: urgent %v, want %v", tt.name, o.Urgent, tt.urgent)
		}
	}
	e.expectError(http.StatusBadRequest, "invalid_parameter", req{method: "POST", path: objects + "?urgent=yes", pak: g.pak,
		body: cmYAML, contentType: "application/yaml"})

	instantiate := func(query, extra string) client.DeploymentObject {
		t.Helper()
		var o client.DeploymentObject
		e.must(http.StatusCreated, req{method: "POST", path: objects + "/from-template" + query, pak: g.pak,
			body: `{"template_id": "` + tpl.ID.String() + `", "parameters": {}` + extra + `}`, contentType: "application/json"}).
			decode(t, &o)
		return o
	}
	if o := instantiate("", ""); o.Urgent {
		t.Error("from-template: urgent without asking")
	}
	if o := instantiate("?urgent=true", ""); !o.Urgent {
		t.Error("from-template?urgent=true: not urgent")
	}
	if o := instantiate("", `, "urgent": true`); !o.Urgent {
		t.Error(`from-template {"urgent": true}: not urgent`)
	}
	var list []client.DeploymentObject
	e.must(http.StatusOK, req{method: "GET", path: objects, pak: g.pak}).decode(t, &list)
	urgent := 0
	for _, o := range list {
		if o.Urgent {
			urgent++
		}
	}
	if len(list) != 10 || urgent != 6 {
		t.Fatalf("listed %d objects, %d urgent; want 10, 6", len(list), urgent)
	}
}
