package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
)

// requireErrorBody checks the shape every error response shares: JSON content type, a
// non-empty code and message, and details omitted unless there are some.
func requireErrorBody(t testing.TB, r resp) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error content type %q, want application/json", ct)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(r.body, &raw); err != nil {
		t.Fatalf("error body is not a JSON object: %q", r.body)
	}
	var b client.ErrorBody
	r.decode(t, &b)
	if b.Code == "" || b.Message == "" {
		t.Errorf("error body without code or message: %s", r.body)
	}
	if d, ok := raw["details"]; ok && (string(d) == "null" || string(d) == "{}") {
		t.Errorf("empty details must be omitted: %s", r.body)
	}
}

func TestErrorResponses(t *testing.T) {
	e := newEnv(t)
	g := e.createGenerator("g")
	a := e.createAgent("a", "c")
	st := e.createStack("s", g.gen.ID, g.pak)

	for _, tc := range []struct {
		name   string
		req    req
		status int
		code   string
		detail [2]string // key and value expected in details
	}{
		// Routing.
		{name: "unknown route", req: req{method: "GET", path: "/api/v1/nope"}, status: 404, code: "not_found"},
		{name: "unknown nested route", req: req{method: "GET", path: v1path("agents", a.agent.ID, "nope", "deeper"), pak: e.admin}, status: 404, code: "not_found"},
		{name: "unknown api version", req: req{method: "GET", path: "/api/v2/agents", pak: e.admin}, status: 404, code: "not_found"},
		{name: "wrong method", req: req{method: "PATCH", path: v1path("agents"), pak: e.admin}, status: 405, code: "method_not_allowed"},
		{name: "wrong method without a key", req: req{method: "DELETE", path: v1path("generators")}, status: 405, code: "method_not_allowed"},
		{name: "wrong method on an item", req: req{method: "POST", path: v1path("stacks", st.ID), pak: e.admin}, status: 405, code: "method_not_allowed"},

		// Authentication (the forms of the header are covered by the auth tests).
		{name: "no key", req: req{method: "GET", path: v1path("stacks")}, status: 401, code: "unauthorized"},

		// Path and query parameters.
		{name: "bad path uuid", req: req{method: "GET", path: v1path("agents", "not-a-uuid"), pak: e.admin}, status: 400, code: "invalid_parameter", detail: [2]string{"parameter", "id"}},
		{name: "bad path uuid on delete", req: req{method: "DELETE", path: v1path("stacks", "123"), pak: e.admin}, status: 400, code: "invalid_parameter", detail: [2]string{"parameter", "id"}},
		{name: "bad second path uuid", req: req{method: "DELETE", path: v1path("agents", a.agent.ID, "targets", "x"), pak: e.admin}, status: 400, code: "invalid_parameter", detail: [2]string{"parameter", "stack_id"}},
		{name: "bad object uuid", req: req{method: "GET", path: v1path("deployment-objects", strings.Repeat("a", 36)), pak: e.admin}, status: 400, code: "invalid_parameter"},
		{name: "bad query uuid", req: req{method: "GET", path: v1path("stacks") + "?pak_id=xyz", pak: e.admin}, status: 400, code: "invalid_parameter", detail: [2]string{"parameter", "pak_id"}},

		// Bodies.
		{name: "malformed json", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "x"`), contentType: "application/json"}, status: 400, code: "invalid_json"},
		{name: "empty json body", req: req{method: "POST", path: v1path("generators"), pak: e.admin, contentType: "application/json"}, status: 400, code: "invalid_json"},
		{name: "trailing data", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "x"} {}`), contentType: "application/json"}, status: 400, code: "invalid_json"},
		{name: "no content type", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "x"}`)}, status: 415, code: "unsupported_media_type"},
		{name: "text content type", req: req{method: "POST", path: v1path("stacks"), pak: e.admin, body: []byte(`{"name": "x"}`), contentType: "text/plain"}, status: 415, code: "unsupported_media_type"},
		{name: "form content type", req: req{method: "PUT", path: v1path("agents", a.agent.ID), pak: e.admin, body: []byte(`name=x`), contentType: "application/x-www-form-urlencoded"}, status: 415, code: "unsupported_media_type"},
		{name: "wrong type", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: map[string]any{"name": true}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "name"}},
		{name: "array for object", req: req{method: "POST", path: v1path("stacks"), pak: e.admin, body: []any{"x"}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "body"}},
		{name: "missing field", req: req{method: "POST", path: v1path("stacks"), pak: e.admin, body: map[string]any{"name": "x"}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "generator_id"}},
		{name: "nested wrong type", req: req{method: "POST", path: v1path("agents"), pak: e.admin, body: map[string]any{"name": "x", "cluster_name": "c", "generator_ids": []int{1}}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "generator_ids"}},
		{name: "malformed uuid value", req: req{method: "POST", path: v1path("agents", "00000000-0000-0000-0000-000000000000", "targets"), pak: e.admin, body: map[string]any{"agent_id": "00000000-0000-0000-0000-000000000000", "stack_id": "nope"}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "stack_id"}},
		{name: "malformed timestamp value", req: req{method: "PUT", path: v1path("stacks", st.ID), pak: e.admin, body: map[string]any{"id": st.ID, "created_at": "now", "updated_at": st.UpdatedAt, "name": "s", "generator_id": g.gen.ID}}, status: 422, code: "invalid_request_body", detail: [2]string{"field", "created_at"}},
		{name: "oversized json", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "` + strings.Repeat("x", 2<<20) + `"}`), contentType: "application/json"}, status: 413, code: "payload_too_large"},

		// Handler codes.
		{name: "blank agent name", req: req{method: "POST", path: v1path("agents"), pak: e.admin, body: map[string]any{"name": "", "cluster_name": "c"}}, status: 400, code: "invalid_agent"},
		{name: "unknown agent", req: req{method: "GET", path: v1path("agents", uuid.New()), pak: e.admin}, status: 404, code: "agent_not_found"},
		{name: "unknown stack", req: req{method: "GET", path: v1path("stacks", uuid.New()), pak: e.admin}, status: 404, code: "stack_not_found"},
		{name: "duplicate generator", req: req{method: "POST", path: v1path("generators"), pak: e.admin, body: map[string]any{"name": "g"}}, status: 409, code: "unique_violation", detail: [2]string{"constraint", "unique_generator_name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.withT(t)
			got := e.expectError(tc.status, tc.code, tc.req)
			requireErrorBody(t, got)
			if k := tc.detail[0]; k != "" {
				if v := errorDetail(t, got, k); v != tc.detail[1] {
					t.Fatalf("details.%s = %q, want %q; body %s", k, v, tc.detail[1], got.body)
				}
			}
		})
	}

	t.Run("json with parameters is accepted", func(t *testing.T) {
		e := e.withT(t)
		e.must(201, req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "charset"}`), contentType: "application/json; charset=utf-8"})
		e.must(201, req{method: "POST", path: v1path("generators"), pak: e.admin, body: []byte(`{"name": "vendor", "unknown": [1, 2]}`), contentType: "application/vnd.brokkr+json"})
	})

	t.Run("path uuids in other spellings", func(t *testing.T) {
		e := e.withT(t)
		var got client.Agent
		e.must(200, req{method: "GET", path: v1path("agents", strings.ToUpper(a.agent.ID.String())), pak: e.admin}).decode(t, &got)
		if got.ID != a.agent.ID {
			t.Fatalf("upper-case id found %+v", got)
		}
	})

}

func TestConfiguredBodyLimit(t *testing.T) {
	const limit = 4096
	e := newEnv(t, func(c *config.Broker) { c.Broker.MaxBodyBytes = limit })
	g := e.createGenerator("g")
	st := e.createStack("s", g.gen.ID, g.pak)
	path := v1path("stacks", st.ID, "deployment-objects")

	exact := manifestOfSize(limit)
	e.must(201, req{method: "POST", path: path, pak: g.pak, body: []byte(exact), contentType: "application/yaml"})
	got := e.expectError(413, "payload_too_large", req{method: "POST", path: path, pak: g.pak, body: []byte(exact + "#"), contentType: "application/yaml"})
	requireErrorBody(t, got)
	// Without a declared length (chunked), the limit holds while reading.
	hr, err := http.NewRequest("POST", e.url+path, io.MultiReader(strings.NewReader(exact), strings.NewReader("#")))
	if err != nil {
		t.Fatal(err)
	}
	hr.Header.Set("Content-Type", "application/yaml")
	hr.Header.Set("Authorization", "Bearer "+g.pak)
	res, err := e.http.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if hr.ContentLength != 0 || res.StatusCode != 413 {
		t.Fatalf("chunked oversized body: length %d, status %d, body %s", hr.ContentLength, res.StatusCode, body)
	}
	got = resp{status: res.StatusCode, header: res.Header, body: body}
	requireErrorBody(t, got)
	if c := got.code(); c != "payload_too_large" {
		t.Fatalf("chunked oversized body: code %q", c)
	}

	e.expectError(413, "payload_too_large", req{method: "POST", path: v1path("generators"), pak: e.admin,
		body: []byte(`{"name": "` + strings.Repeat("n", limit) + `"}`), contentType: "application/json"})
	a := e.createAgent("a", "c")
	e.expectError(413, "payload_too_large", req{method: "POST", path: v1path("agents", a.agent.ID, "heartbeat"), pak: a.pak,
		body: []byte(`{"k8s_reachable": true, "pad": "` + strings.Repeat("p", limit) + `"}`), contentType: "application/json"})
	if got := e.getAgent(a.agent.ID); got.LastHeartbeat != nil {
		t.Fatalf("an oversized heartbeat was recorded: %+v", got)
	}
	var list []client.DeploymentObject
	e.must(200, req{method: "GET", path: path, pak: g.pak}).decode(t, &list)
	if len(list) != 1 {
		t.Fatalf("oversized bodies were stored: %d objects", len(list))
	}
}
