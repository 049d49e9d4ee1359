package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/api"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server"
)

func get(t *testing.T, url string) (int, string, http.Header) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if code, body, _ := get(t, e.url+"/healthz"); code != 200 || body != "OK" {
		t.Fatalf("healthz: %d %q", code, body)
	}
	if code, body, _ := get(t, e.url+"/readyz"); code != 200 || body != "Ready" {
		t.Fatalf("readyz: %d %q", code, body)
	}
	// A broker whose database is gone is alive but not ready.
	e2 := newEnv(t)
	if err := e2.db.Close(); err != nil {
		t.Fatal(err)
	}
	if code, body, _ := get(t, e2.url+"/readyz"); code != 503 || body != "database unavailable" {
		t.Fatalf("readyz without database: %d %q", code, body)
	}
	if code, _, _ := get(t, e2.url+"/healthz"); code != 200 {
		t.Fatalf("healthz without database: %d", code)
	}
}

func TestMetrics(t *testing.T) {
	e := newEnv(t)
	a := e.createAgent("a1", "c1")
	e.must(200, req{method: "PUT", path: "/api/v1/agents/" + a.agent.ID.String(), pak: e.admin, body: map[string]any{"status": "ACTIVE"}})
	e.createAgent("a2", "c1")
	g := e.createGenerator("ci")
	s := e.createStack("web", g.gen.ID, g.pak)
	e.createObject(s.ID, g.pak, cmYAML)
	e.must(200, req{method: "GET", path: "/api/v1/agents/" + a.agent.ID.String(), pak: e.admin})
	e.expectError(404, "agent_not_found", req{method: "GET", path: "/api/v1/agents/00000000-0000-0000-0000-0000000000aa", pak: e.admin})

	code, body, h := get(t, e.url+"/metrics")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Fatalf("metrics: %d %s", code, h.Get("Content-Type"))
	}
	for _, want := range []string{
		`brokkr_http_requests_total{endpoint="/api/v1/agents/:id",method="GET",status="200"} 1`,
		`brokkr_http_requests_total{endpoint="/api/v1/agents/:id",method="GET",status="404"} 1`,
		`brokkr_http_requests_total{endpoint="/api/v1/agents",method="POST",status="201"} 2`,
		`brokkr_http_request_duration_seconds_count{endpoint="/api/v1/agents/:id",method="GET"} 2`,
		"brokkr_active_agents 1\n",
		"brokkr_stacks_total 1\n",
		"brokkr_deployment_objects_total 1\n",
		"brokkr_default_admin_pak_hash_in_use 0\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	if strings.Contains(body, `endpoint="/metrics"`) {
		t.Error("metrics count their own scrapes")
	}
}

func TestOpenAPIDocumentListsExactlyTheServedOperations(t *testing.T) {
	e := newEnv(t)
	code, body, _ := get(t, e.url+"/docs/openapi.json")
	if code != 200 {
		t.Fatalf("openapi: %d", code)
	}
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil {
		t.Fatal(err)
	}
	served := 0
	for path, ops := range doc.Paths {
		for method := range ops {
			served++
			// Every documented operation answers with something other than 404/405 for the admin.
			p := strings.NewReplacer("{id}", "00000000-0000-0000-0000-000000000001",
				"{stack_id}", "00000000-0000-0000-0000-000000000002", "{agent_id}", "00000000-0000-0000-0000-000000000003",
				"{label}", "x", "{key}", "x").Replace(path)
			r := e.do(req{method: strings.ToUpper(method), path: "/api/v1" + p, pak: e.admin, body: map[string]any{}})
			if r.status == 405 || (r.status == 404 && r.code() == "not_found") {
				t.Errorf("%s %s is documented but not served (%d %s)", method, path, r.status, r.body)
			}
		}
	}
	// Every operation of the v1 API is served, so the served document is the whole one: the
	// reference's 95, the additive POST /admin/rotate-pak, the three read-only PAK operations,
	// the three drift and dependency operations, the two hold operations, the six rollout
	// operations and the four apply window operations.
	if served != len(api.Operations()) || served != 114 {
		t.Fatalf("document lists %d operations, want all %d", served, len(api.Operations()))
	}
}

func TestUnknownRouteAndWrongMethod(t *testing.T) {
	e := newEnv(t)
	e.expectError(404, "not_found", req{method: "GET", path: "/api/v1/nope"})
	e.expectError(405, "method_not_allowed", req{method: "PATCH", path: "/api/v1/agents", pak: e.admin})
}

func TestCORS(t *testing.T) {
	e := newEnv(t)
	pre, _ := http.NewRequest("OPTIONS", e.url+"/api/v1/agents", nil)
	pre.Header.Set("Origin", "http://localhost:3001")
	pre.Header.Set("Access-Control-Request-Method", "POST")
	res, err := http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 || res.Header.Get("Access-Control-Allow-Origin") != "http://localhost:3001" ||
		!strings.Contains(res.Header.Get("Access-Control-Allow-Methods"), "POST") || res.Header.Get("Access-Control-Max-Age") != "3600" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	pre.Header.Set("Origin", "http://evil.example")
	res, err = http.DefaultClient.Do(pre)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("disallowed origin got %v", res.Header)
	}
}

// TestGracefulShutdown starts a request, begins shutting down while its body is still being
// sent, and checks the request completes while new connections are refused.
func TestGracefulShutdown(t *testing.T) {
	e := newEnv(t)
	srv, err := server.New(server.Options{Config: e.cfg, DB: e.db})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "http://" + ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()

	pr, pw := io.Pipe()
	r, _ := http.NewRequest("POST", addr+"/api/v1/generators", pr)
	r.Header.Set("Authorization", e.admin)
	r.Header.Set("Content-Type", "application/json")
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			done <- result{err: err}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		done <- result{status: res.StatusCode, body: b}
	}()
	if _, err := pw.Write([]byte(`{"name":`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the request is in flight
	cancel()
	// New connections are refused once shutdown began.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", ln.Addr().String(), 200*time.Millisecond)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("listener still accepting after shutdown began")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := pw.Write([]byte(`"late"}`)); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil || res.status != 201 {
		t.Fatalf("in-flight request: %d %s %v", res.status, res.body, res.err)
	}
	var g client.GeneratorPAKResponse
	if err := json.Unmarshal(res.body, &g); err != nil || g.Generator.Name != "late" {
		t.Fatalf("in-flight request body: %s", res.body)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
	}
}
