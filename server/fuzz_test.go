package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"
)

// fuzzTarget is one write route of the API with its path parameters filled in.
type fuzzTarget struct {
	method, path string
}

var routeParam = regexp.MustCompile(`:[a-zA-Z_]+`)

// fuzzTargets lists every POST, PUT and PATCH route under /api/v1 of a broker seeded with one
// object of each kind, with the ids of those objects in the path (a label parameter gets
// label). The list is sorted, so an index names the same route in every run.
func fuzzTargets(f *testing.F, e *env, label string) []fuzzTarget {
	f.Helper()
	gen := e.createGenerator("fuzz-gen")
	agent := e.createAgent("fuzz-agent", "fuzz")
	stack := e.createStack("fuzz-stack", gen.gen.ID, e.admin)
	obj := e.createObject(stack.ID, e.admin, cmYAML)
	var tmpl, hook, wo struct {
		ID uuid.UUID `json:"id"`
	}
	e.must(201, req{method: "POST", path: "/api/v1/templates", pak: e.admin,
		body: map[string]any{"name": "fuzz-tmpl", "template_content": "a: {{ x }}", "parameters_schema": `{"type":"object"}`}}).decode(e.t, &tmpl)
	e.must(201, req{method: "POST", path: "/api/v1/webhooks", pak: e.admin,
		body: map[string]any{"name": "fuzz-hook", "url": "http://127.0.0.1:1/", "event_types": []string{"stack.created"}}}).decode(e.t, &hook)
	e.must(201, req{method: "POST", path: "/api/v1/work-orders", pak: e.admin,
		body: map[string]any{"work_type": "custom", "yaml_content": cmYAML, "targeting": map[string]any{"agent_ids": []uuid.UUID{agent.agent.ID}}}}).decode(e.t, &wo)
	ids := map[string]string{
		"agents": agent.agent.ID.String(), "generators": gen.gen.ID.String(), "stacks": stack.ID.String(),
		"templates": tmpl.ID.String(), "webhooks": hook.ID.String(), "work-orders": wo.ID.String(),
		"deployment-objects": obj.ID.String(),
	}
	var out []fuzzTarget
	for _, r := range e.srv.Handler().(*echo.Echo).Routes() {
		if !strings.HasPrefix(r.Path, "/api/v1/") || !slices.Contains([]string{"POST", "PUT", "PATCH"}, r.Method) ||
			r.Path == "/api/v1/admin/config/reload" { // takes no body; 503 without a configuration file
			continue
		}
		segs := strings.Split(r.Path, "/")
		for i, s := range segs {
			if !strings.HasPrefix(s, ":") {
				continue
			}
			switch {
			case strings.Contains(s, "label") || strings.Contains(s, "key"):
				segs[i] = url.PathEscape(label)
			case i > 0 && ids[segs[i-1]] != "":
				segs[i] = ids[segs[i-1]]
			default:
				segs[i] = uuid.NewString()
			}
		}
		out = append(out, fuzzTarget{method: r.Method, path: routeParam.ReplaceAllString(strings.Join(segs, "/"), "x")})
	}
	slices.SortFunc(out, func(a, b fuzzTarget) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	if len(out) < 20 {
		f.Fatalf("only %d write routes found", len(out))
	}
	return out
}

// FuzzRequestBodies sends arbitrary bodies to every write route of a real broker (on a real
// database), as the admin: whatever the body, the answer is a success or a client error with
// a JSON body carrying an error code, never a server error.
func FuzzRequestBodies(f *testing.F) {
	e := newEnv(f)
	targets := fuzzTargets(f, e, "team")
	for _, body := range []string{
		`{}`, `[]`, `null`, `""`, `{"name":"x"}`, `{"name":"a\u0000b","cluster_name":"c"}`,
		`{"yaml_content":"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: \u0000}\n"}`,
		`{"labels":["a b"]}`, `{"key":"k","value":"` + strings.Repeat("v", 100) + `"}`,
		`{"name":"x","generator_id":"not-a-uuid"}`, `{"agent_id":"00000000-0000-0000-0000-000000000000"}`,
		`{"work_type":"custom","yaml_content":"a: 1","max_retries":-1}`, `{"success":true,"message":"\ud800"}`,
		`{"template_content":"{{ x }}","parameters_schema":"{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"string\"}}}"}`,
		`{"parameters":{"x":"\u0000"}}`, `{"status":"ACTIVE"}`, `{"url":"http://127.0.0.1:1/\u0000","event_types":["*"]}`,
		`{"a":` + strings.Repeat(`[`, 5000), `1e999999`, "\"\xff\xfe\"", `{"name":"` + strings.Repeat("n", 300) + `"}`,
	} {
		for i := range targets {
			f.Add(uint16(i), []byte(body))
		}
	}
	f.Fuzz(func(t *testing.T, route uint16, body []byte) {
		target := targets[int(route)%len(targets)]
		r := httptest.NewRequest(target.method, target.path, bytes.NewReader(body))
		r.Header.Set("Authorization", "Bearer "+e.admin)
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		e.srv.Handler().ServeHTTP(w, r)
		checkAnswer(t, target.method+" "+target.path, body, w)
	})
}

// FuzzNames sends arbitrary labels, annotation keys and values, and names through the routes
// that store them (path and body), with the same rule: never a server error.
func FuzzNames(f *testing.F) {
	e := newEnv(f)
	agent := e.createAgent("fuzz-names", "fuzz")
	gen := e.createGenerator("fuzz-names-gen")
	stack := e.createStack("fuzz-names-stack", gen.gen.ID, e.admin)
	for _, s := range []string{"", " ", "a", "a b", "\x00", "a\x00b", strings.Repeat("x", 65), "ü", "\xff", "../x", "%00", "'; DROP TABLE agents; --", "a/b", "\t"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		a, s := agent.agent.ID.String(), stack.ID.String()
		for _, c := range []struct {
			method, path string
			body         any
		}{
			{"POST", "/api/v1/agents/" + a + "/labels", map[string]string{"label": key}},
			{"DELETE", "/api/v1/agents/" + a + "/labels/" + url.PathEscape(key), nil},
			{"POST", "/api/v1/agents/" + a + "/annotations", map[string]string{"key": key, "value": value}},
			{"DELETE", "/api/v1/agents/" + a + "/annotations/" + url.PathEscape(key), nil},
			{"POST", "/api/v1/stacks/" + s + "/labels", key},
			{"DELETE", "/api/v1/stacks/" + s + "/labels/" + url.PathEscape(key), nil},
			{"POST", "/api/v1/stacks/" + s + "/annotations", map[string]string{"key": key, "value": value}},
			{"POST", "/api/v1/generators", map[string]string{"name": key, "description": value}},
			{"GET", "/api/v1/agents/?name=" + url.QueryEscape(key) + "&cluster_name=" + url.QueryEscape(value), nil},
		} {
			var rdr *bytes.Reader
			if c.body != nil {
				b, _ := json.Marshal(c.body)
				rdr = bytes.NewReader(b)
			} else {
				rdr = bytes.NewReader(nil)
			}
			r := httptest.NewRequest(c.method, "/", rdr)
			r.URL.RawPath, r.URL.Path = "", ""
			u, err := url.Parse(c.path)
			if err != nil {
				continue
			}
			r.URL = u
			r.RequestURI = c.path
			r.Header.Set("Authorization", "Bearer "+e.admin)
			r.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			e.srv.Handler().ServeHTTP(w, r)
			checkAnswer(t, c.method+" "+c.path, []byte(key+" / "+value), w)
		}
	})
}

// checkAnswer fails the test unless the answer is a success, or a client error with a JSON
// error code.
func checkAnswer(t *testing.T, what string, input []byte, w *httptest.ResponseRecorder) {
	t.Helper()
	switch {
	case w.Code >= 500:
		t.Fatalf("%s with %q: %d %s", what, input, w.Code, w.Body.String())
	case w.Code >= 400:
		var b struct {
			Code string `json:"code"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || b.Code == "" {
			t.Fatalf("%s with %q: %d without a JSON error code: %s", what, input, w.Code, w.Body.String())
		}
	case w.Code < 200 || w.Code >= 300:
		t.Fatalf("%s with %q: unexpected status %d", what, input, w.Code)
	}
	if w.Code == http.StatusCreated && w.Body.Len() == 0 {
		t.Fatalf("%s with %q: 201 without a body", what, input)
	}
}
