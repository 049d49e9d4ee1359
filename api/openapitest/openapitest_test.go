package openapitest_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/brokkr/brokkr/api/openapitest"
)

// recorder is a testing.TB that collects Errorf calls instead of failing.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) Error(args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprint(args...))
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

const (
	agentID = "0b5e2f0a-8d55-4c1e-9d6c-4f1f0c7a1b2c"
	stackID = "6f1c9a7e-3b2d-4e5f-8a9b-0c1d2e3f4a5b"
)

// validAgent is an Agent as the broker serialises it: every field present,
// nullable ones as null.
const validAgent = `{
  "id": "` + agentID + `",
  "created_at": "2026-01-01T12:00:00.123456Z",
  "updated_at": "2026-01-01T12:00:00Z",
  "deleted_at": null,
  "name": "edge-1",
  "cluster_name": "prod",
  "last_heartbeat": null,
  "status": "ACTIVE",
  "k8s_reachable": null,
  "k8s_api_latency_ms": null,
  "k8s_reported_at": null
}`

const errorBody = `{"code":"agent_not_found","message":"agent not found"}`

const validDeploymentObject = `{
  "id": "` + agentID + `",
  "created_at": "2026-01-01T12:00:00Z",
  "updated_at": "2026-01-01T12:00:00Z",
  "deleted_at": null,
  "sequence_id": 7,
  "stack_id": "` + stackID + `",
  "yaml_content": "kind: ConfigMap\n",
  "yaml_checksum": "abc",
  "submitted_at": "2026-01-01T12:00:00Z",
  "is_deletion_marker": false
}`

// canned is the answer the test server gives.
type canned struct {
	status      int
	contentType string
	body        string
}

// newServer starts a server that answers every request with the canned
// response currently set.
func newServer(t *testing.T) (*httptest.Server, func(canned)) {
	t.Helper()
	var mu sync.Mutex
	var current canned
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		c := current
		mu.Unlock()
		if c.contentType != "" {
			w.Header().Set("Content-Type", c.contentType)
		}
		w.WriteHeader(c.status)
		_, _ = io.WriteString(w, c.body)
	}))
	t.Cleanup(srv.Close)
	return srv, func(c canned) {
		mu.Lock()
		current = c
		mu.Unlock()
	}
}

func TestTransportChecksResponses(t *testing.T) {
	v := openapitest.New(t)
	srv, set := newServer(t)

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string // of the request
		reqBody     string
		resp        canned
		wantErr     string // substring of the reported error; empty: none
	}{
		{
			name: "valid agent", method: "GET", path: "/api/v1/agents/" + agentID,
			resp: canned{200, "application/json", validAgent},
		},
		{
			name: "json content type with charset", method: "GET", path: "/api/v1/agents/" + agentID,
			resp: canned{200, "application/json; charset=UTF-8", validAgent},
		},
		{
			name: "missing required field", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{200, "application/json", strings.Replace(validAgent, `"deleted_at": null,`, "", 1)},
			wantErr: "deleted_at",
		},
		{
			name: "null where not nullable", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{200, "application/json", strings.Replace(validAgent, `"status": "ACTIVE"`, `"status": null`, 1)},
			wantErr: "status",
		},
		{
			name: "upper-case uuid in response", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{200, "application/json", strings.Replace(validAgent, agentID, strings.ToUpper(agentID), 1)},
			wantErr: "lower-case",
		},
		{
			name: "timestamp not in UTC", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{200, "application/json", strings.Replace(validAgent, "12:00:00Z", "14:00:00+02:00", 1)},
			wantErr: "UTC",
		},
		{
			name: "undocumented status", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{http.StatusTeapot, "application/json", errorBody},
			wantErr: "status 418 is not documented",
		},
		{
			name: "documented error", method: "GET", path: "/api/v1/agents/" + agentID,
			resp: canned{404, "application/json", errorBody},
		},
		{
			name: "error with details", method: "GET", path: "/api/v1/agents/" + agentID,
			resp: canned{403, "application/json", `{"code":"agent_pak_mismatch","message":"x","details":{"agent_id":"a"}}`},
		},
		{
			name: "plain-text auth error", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{401, "text/plain", "unauthorized"},
			wantErr: "text/plain",
		},
		{
			name: "empty auth error", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{401, "", ""},
			wantErr: "401",
		},
		{
			name: "error body missing message", method: "GET", path: "/api/v1/agents/" + agentID,
			resp:    canned{403, "application/json", `{"code":"agent_pak_mismatch"}`},
			wantErr: "message",
		},
		{
			name: "unknown route with JSON error", method: "GET", path: "/api/v1/nope",
			resp: canned{404, "application/json", `{"code":"not_found","message":"not found"}`},
		},
		{
			name: "unknown route with plain text", method: "GET", path: "/api/v1/nope",
			resp:    canned{404, "text/plain", "not found"},
			wantErr: "undocumented route",
		},
		{
			name: "unknown route answered 200", method: "GET", path: "/api/v1/nope",
			resp:    canned{200, "application/json", `{}`},
			wantErr: "route is not documented",
		},
		{
			name: "wrong method with JSON error", method: "PATCH", path: "/api/v1/agents/" + agentID,
			resp: canned{405, "application/json", `{"code":"method_not_allowed","message":"method not allowed"}`},
		},
		{
			name: "non-API route", method: "GET", path: "/healthz",
			resp: canned{200, "text/plain", "OK"},
		},
		{
			name: "metrics", method: "GET", path: "/metrics",
			resp: canned{200, "text/plain; version=0.0.4", "# HELP x\n"},
		},
		{
			name: "search with trailing slash", method: "GET", path: "/api/v1/agents/?name=a&cluster_name=b",
			resp: canned{200, "application/json", validAgent},
		},
		{
			name: "list without trailing slash wants an array", method: "GET", path: "/api/v1/agents",
			resp:    canned{200, "application/json", validAgent},
			wantErr: "array",
		},
		{
			name: "literal path wins over template", method: "GET", path: "/api/v1/webhooks/event-types",
			resp: canned{200, "application/json", `["agent.registered","stack.created"]`},
		},
		{
			name: "no content", method: "DELETE", path: "/api/v1/agents/" + agentID,
			resp: canned{204, "", ""},
		},
		{
			name: "body where none is documented", method: "PATCH", path: "/api/v1/agents/" + agentID + "/health-status",
			contentType: "application/json", reqBody: `{"deployment_objects":[]}`,
			resp:    canned{200, "application/json", `{"ok":true}`},
			wantErr: "none is documented",
		},
		{
			name: "health update answers an empty 200", method: "PATCH", path: "/api/v1/agents/" + agentID + "/health-status",
			contentType: "application/json", reqBody: `{"deployment_objects":[]}`,
			resp: canned{200, "", ""},
		},
		{
			name: "work order retry scheduled", method: "POST", path: "/api/v1/work-orders/" + agentID + "/complete",
			contentType: "application/json", reqBody: `{"success":false}`,
			resp: canned{202, "application/json", `{"status":"retry_scheduled"}`},
		},
		{
			name: "deployment object as YAML", method: "GET", path: "/api/v1/deployment-objects/" + agentID,
			resp: canned{200, "application/yaml", "kind: ConfigMap\nmetadata:\n  name: x\n"},
		},
		{
			name: "deployment object as JSON", method: "GET", path: "/api/v1/deployment-objects/" + agentID,
			resp: canned{200, "application/json", validDeploymentObject},
		},
		{
			name: "websocket live tail is not checked", method: "GET", path: "/api/v1/stacks/" + stackID + "/live",
			resp: canned{401, "", ""},
		},
	}
	client := &http.Client{Transport: v.Transport(t, nil)}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			set(tc.resp)
			rec := &recorder{TB: t}
			client.Transport = v.Transport(rec, nil)
			var body io.Reader
			if tc.reqBody != "" {
				body = strings.NewReader(tc.reqBody)
			}
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, body)
			if err != nil {
				t.Fatal(err)
			}
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.resp.body {
				t.Errorf("transport changed the body: got %q, want %q", got, tc.resp.body)
			}
			errs := rec.errors()
			switch {
			case tc.wantErr == "" && len(errs) > 0:
				t.Errorf("unexpected validation errors: %q", errs)
			case tc.wantErr != "" && len(errs) == 0:
				t.Errorf("no validation error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(strings.Join(errs, "\n"), tc.wantErr):
				t.Errorf("validation errors %q do not mention %q", errs, tc.wantErr)
			}
		})
	}

	seen := v.Seen()
	for key, want := range map[string]int{
		"GET /agents/{id}":                 12,
		"GET /agents/":                     1,
		"GET /agents":                      1,
		"GET /webhooks/event-types":        1,
		"DELETE /agents/{id}":              1,
		"POST /work-orders/{id}/complete":  1,
		"GET /deployment-objects/{id}":     2,
		"PATCH /agents/{id}/health-status": 2,
	} {
		if seen[key] != want {
			t.Errorf("Seen()[%q] = %d, want %d", key, seen[key], want)
		}
	}
	for key := range seen {
		if strings.Contains(key, "/webhooks/{id}") || strings.Contains(key, "healthz") || strings.Contains(key, "live") {
			t.Errorf("Seen() has unexpected key %q", key)
		}
	}
}

// exchange builds a request and response pair for Check.
func exchange(t *testing.T, method, path, contentType, reqBody string, status int, respBody string) (*http.Request, *http.Response) {
	t.Helper()
	req := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, strings.NewReader(reqBody))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp := &http.Response{
		StatusCode: status,
		Header:     http.Header{},
		Body:       io.NopCloser(bytes.NewReader([]byte(respBody))),
	}
	if respBody != "" {
		resp.Header.Set("Content-Type", "application/json")
	}
	return req, resp
}

func TestCheckValidatesRequests(t *testing.T) {
	v := openapitest.New(t)
	const created = `{"agent":` + validAgent + `,"initial_pak":"brokkr_BRabc_def"}`

	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		reqBody     string
		status      int
		respBody    string
		wantErr     string
	}{
		{
			name: "valid create", method: "POST", path: "/api/v1/agents", contentType: "application/json",
			reqBody: `{"name":"a","cluster_name":"b"}`, status: 201, respBody: created,
		},
		{
			name: "body missing required field", method: "POST", path: "/api/v1/agents", contentType: "application/json",
			reqBody: `{"name":"a"}`, status: 201, respBody: created, wantErr: "cluster_name",
		},
		{
			name: "malformed path parameter", method: "GET", path: "/api/v1/agents/not-a-uuid",
			status: 200, respBody: validAgent, wantErr: "request",
		},
		{
			name: "bare string label body", method: "POST", path: "/api/v1/stacks/" + stackID + "/labels",
			contentType: "application/json", reqBody: `"env:prod"`, status: 201,
			respBody: `{"id":"` + agentID + `","stack_id":"` + stackID + `","label":"env:prod"}`,
		},
		{
			name: "label body must be a string", method: "POST", path: "/api/v1/stacks/" + stackID + "/labels",
			contentType: "application/json", reqBody: `{"label":"env:prod"}`, status: 201,
			respBody: `{"id":"` + agentID + `","stack_id":"` + stackID + `","label":"env:prod"}`, wantErr: "request",
		},
		{
			name: "raw YAML deployment object", method: "POST",
			path: "/api/v1/stacks/" + stackID + "/deployment-objects?deletion_marker=false", contentType: "text/yaml",
			reqBody: "kind: ConfigMap\n", status: 201, respBody: validDeploymentObject,
		},
		{
			name: "JSON deployment object", method: "POST",
			path: "/api/v1/stacks/" + stackID + "/deployment-objects", contentType: "application/json",
			reqBody: `{"yaml_content":"kind: ConfigMap\n"}`, status: 201, respBody: validDeploymentObject,
		},
		{
			name: "heartbeat without body", method: "POST", path: "/api/v1/agents/" + agentID + "/heartbeat",
			status: 204,
		},
		{
			name: "undocumented request content type", method: "POST", path: "/api/v1/agents", contentType: "text/plain",
			reqBody: `name=a`, status: 415, respBody: `{"code":"unsupported_media_type","message":"x"}`, wantErr: "request",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{TB: t}
			req, resp := exchange(t, tc.method, tc.path, tc.contentType, tc.reqBody, tc.status, tc.respBody)
			v.Check(rec, req, []byte(tc.reqBody), resp, []byte(tc.respBody))
			errs := rec.errors()
			switch {
			case tc.wantErr == "" && len(errs) > 0:
				t.Errorf("unexpected validation errors: %q", errs)
			case tc.wantErr != "" && len(errs) == 0:
				t.Errorf("no validation error, want one containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(strings.Join(errs, "\n"), tc.wantErr):
				t.Errorf("validation errors %q do not mention %q", errs, tc.wantErr)
			}

			// CheckResponse skips the request: only response problems remain.
			rec = &recorder{TB: t}
			req, resp = exchange(t, tc.method, tc.path, tc.contentType, tc.reqBody, tc.status, tc.respBody)
			v.CheckResponse(rec, req, resp, []byte(tc.respBody))
			if errs := rec.errors(); len(errs) > 0 {
				t.Errorf("CheckResponse reported: %q", errs)
			}
		})
	}
}

func TestCheckLeavesRequestUntouched(t *testing.T) {
	v := openapitest.New(t)
	body := `{"name":"a","cluster_name":"b"}`
	req, resp := exchange(t, "POST", "/api/v1/agents", "application/json", body, 400, `{"code":"invalid_agent","message":"x"}`)
	rec := &recorder{TB: t}
	v.Check(rec, req, []byte(body), resp, []byte(`{"code":"invalid_agent","message":"x"}`))
	if errs := rec.errors(); len(errs) > 0 {
		t.Fatalf("unexpected validation errors: %q", errs)
	}
	got, err := io.ReadAll(req.Body)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != body {
		t.Errorf("request body after Check = %q, want %q", got, body)
	}
}
