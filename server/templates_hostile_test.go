package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/api/openapitest"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/pak"
	"github.com/brokkr/brokkr/server"
)

// Hostile templates: each of these requests used to kill the broker, hold a CPU for
// minutes, or store far more than a request may carry.

// deepTemplate is `{{ ` followed by 150,000 `[`: about 150 KB, well under the body limit,
// and enough for the template parser to recurse past Go's stack limit, which kills the
// process (recover() cannot catch it).
var deepTemplate = "{{ " + strings.Repeat("[", 150_000)

// The broker that receives the deep template runs in a child process (this test binary run
// again): on a broker without the nesting check the request kills that process, and the test
// reports it instead of dying with it.
const (
	deepChildDBEnv    = "BROKKR_DEEP_TEMPLATE_CHILD_DB"
	deepChildAdminEnv = "BROKKR_DEEP_TEMPLATE_CHILD_ADMIN_HASH"
	deepChildListen   = "deep-template broker listening on "
)

func TestDeepTemplateLeavesTheBrokerUp(t *testing.T) {
	if os.Getenv(deepChildDBEnv) != "" {
		t.Skip("run by the parent test")
	}
	adminKey, adminHash, err := pak.Generate(pak.DefaultSettings())
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestDeepTemplateChildBroker$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), deepChildDBEnv+"="+dbtest.URL(t), deepChildAdminEnv+"="+adminHash)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var (
		output strings.Builder
		outMu  sync.Mutex
	)
	urls := make(chan string, 1)
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(stdout)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			outMu.Lock()
			if output.Len() < 64<<10 {
				output.WriteString(line + "\n")
			}
			outMu.Unlock()
			if u, ok := strings.CutPrefix(line, deepChildListen); ok {
				urls <- u
			}
		}
	}()
	childOutput := func() string {
		outMu.Lock()
		defer outMu.Unlock()
		return output.String()
	}
	exited := make(chan error, 1)
	go func() {
		<-copied
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = stdin.Close()
		select {
		case err := <-exited:
			_ = err // the test has its verdict; the child's exit status is reported elsewhere
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			err := <-exited
			_ = err
		}
	})

	var url string
	select {
	case url = <-urls:
	case err := <-exited:
		t.Fatalf("the child broker exited before listening: %v\n%s", err, childOutput())
	case <-time.After(2 * time.Minute):
		t.Fatalf("the child broker did not start\n%s", childOutput())
	}
	v := openapitest.New(t)
	e := &env{t: t, url: url, admin: adminKey, v: v,
		http: &http.Client{Timeout: time.Minute, Transport: v.Transport(t, http.DefaultTransport)}}
	g := e.createGenerator("tenant")
	ok := e.createTemplate(g.pak, "ok", "x: {{ x }}", `{"type": "object"}`)

	// Create and update refuse the template quickly, before parsing it.
	for _, r := range []req{
		{method: "POST", path: v1path("templates"), pak: g.pak,
			body: client.CreateTemplateRequest{Name: "deep", TemplateContent: deepTemplate, ParametersSchema: "{}"}},
		{method: "PUT", path: v1path("templates", ok.ID), pak: g.pak,
			body: client.UpdateTemplateRequest{TemplateContent: deepTemplate, ParametersSchema: "{}"}},
	} {
		start := time.Now()
		res, err := tryDo(e, r)
		if err != nil {
			t.Fatalf("%s %s: %v (the broker died?)\n%s", r.method, r.path, err, childOutput())
		}
		if res.status != http.StatusUnprocessableEntity || res.code() != "template_too_deep" {
			t.Fatalf("%s %s: %d %s, want 422 template_too_deep", r.method, r.path, res.status, res.body)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s %s took %v", r.method, r.path, d)
		}
		var body client.ErrorBody
		res.decode(t, &body)
		if !strings.Contains(body.Message, "nested more than 64 levels deep at line 1 column") || body.Details["max_nesting"] != float64(64) {
			t.Errorf("error body %+v", body)
		}
	}

	// The broker is still up and serving.
	e.must(http.StatusOK, req{method: "GET", path: "/healthz"})
	e.createTemplate(g.pak, "after", "y: {{ y }}", `{"type": "object"}`)
}

// TestDeepTemplateChildBroker is the broker of TestDeepTemplateLeavesTheBrokerUp, in a
// process of its own: it serves until its standard input closes.
func TestDeepTemplateChildBroker(t *testing.T) {
	dbURL := os.Getenv(deepChildDBEnv)
	if dbURL == "" {
		t.Skip("run by TestDeepTemplateLeavesTheBrokerUp")
	}
	ctx := context.Background()
	store, err := db.Open(ctx, dbURL, db.Options{MaxConnections: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	cfg := config.DefaultBroker()
	cfg.Broker.PAKHash = os.Getenv(deepChildAdminEnv)
	cfg.Broker.AdminKeyFile = ""
	srv, err := server.New(server.Options{Config: cfg, DB: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if _, err := srv.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	fmt.Println(deepChildListen + ts.URL)
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// tryDo is env.do that returns transport errors instead of failing the test.
func tryDo(e *env, r req) (res resp, err error) {
	raw, err := json.Marshal(r.body)
	if err != nil {
		return resp{}, err
	}
	hr, err := http.NewRequest(r.method, e.url+r.path, strings.NewReader(string(raw)))
	if err != nil {
		return resp{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Authorization", "Bearer "+r.pak)
	hres, err := e.http.Do(hr)
	if err != nil {
		return resp{}, err
	}
	defer hres.Body.Close()
	body, err := io.ReadAll(hres.Body)
	return resp{status: hres.StatusCode, header: hres.Header, body: body}, err
}

// hostileFixture is a tenant with a stack to instantiate templates into.
type hostileFixture struct {
	e     *env
	gen   generatorFixture
	stack client.Stack
}

func newHostileFixture(t *testing.T, opts ...envOption) hostileFixture {
	e := newEnv(t, opts...)
	g := e.createGenerator("tenant")
	return hostileFixture{e: e, gen: g, stack: e.createStack("s", g.gen.ID, g.pak)}
}

// instantiate instantiates a new template of content with params.
func (f hostileFixture) instantiate(name, content, params string) resp {
	tp := f.e.createTemplate(f.gen.pak, name, content, `{"type": "object"}`)
	return f.e.instantiate(f.gen.pak, f.stack.ID, tp.ID, params)
}

// slowParams make a template slow without making it large: counting the words of big takes
// about a millisecond.
var slowParams = `{"big": "` + strings.Repeat("x", 1<<20) + `"}`

const slowTemplate = "{% for i in range(end=100000) %}{{ big | wordcount }}{% endfor %}"

func TestTemplateRenderDeadline(t *testing.T) {
	f := newHostileFixture(t, func(c *config.Broker) { c.Broker.TemplateRenderTimeoutMillis = 300 })
	start := time.Now()
	r := f.instantiate("slow", slowTemplate, slowParams)
	if r.status != http.StatusUnprocessableEntity || r.code() != "template_render_timeout" {
		t.Fatalf("status %d %s, want 422 template_render_timeout", r.status, r.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %v", d)
	}
	var body client.ErrorBody
	r.decode(t, &body)
	if body.Details["timeout_ms"] != float64(300) || !strings.HasPrefix(body.Message, "render: stopped after 300ms") {
		t.Errorf("error body %+v", body)
	}
	// Nothing was stored.
	var objs []client.DeploymentObject
	f.e.must(200, req{method: "GET", path: v1path("stacks", f.stack.ID, "deployment-objects"), pak: f.gen.pak}).decode(t, &objs)
	if len(objs) != 0 {
		t.Errorf("%d deployment objects stored", len(objs))
	}
}

func TestTemplateRenderSlots(t *testing.T) {
	f := newHostileFixture(t, func(c *config.Broker) {
		c.Broker.TemplateMaxConcurrentRenders = 1
		c.Broker.TemplateRenderTimeoutMillis = 3000
	})
	slow := f.e.createTemplate(f.gen.pak, "slow", slowTemplate, `{"type": "object"}`)
	fast := f.e.createTemplate(f.gen.pak, "fast", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: fast-{{ x }}}", `{"type": "object"}`)

	// One slow rendering holds the only slot; it ends at its deadline.
	done := make(chan resp, 1)
	go func() { done <- f.e.withT(t).instantiate(f.gen.pak, f.stack.ID, slow.ID, slowParams) }()
	var (
		refused   resp
		refusedAt time.Time // the slow rendering took the slot shortly before
	)
	for refused.status == 0 {
		select {
		case r := <-done:
			t.Fatalf("the slow rendering ended (%d %s) before any other request was refused", r.status, r.body)
		default:
		}
		r := f.e.instantiate(f.gen.pak, f.stack.ID, fast.ID, `{"x": 1}`)
		switch r.status {
		case http.StatusCreated:
			time.Sleep(5 * time.Millisecond) // the slow rendering has not started yet
		case http.StatusTooManyRequests:
			refused, refusedAt = r, time.Now()
		default:
			t.Fatalf("fast rendering: %d %s", r.status, r.body)
		}
	}
	var body client.ErrorBody
	refused.decode(t, &body)
	if body.Code != "too_many_renders" || refused.header.Get("Retry-After") != "3" || body.Details["retry_after_seconds"] != float64(3) {
		t.Errorf("refusal: %s, Retry-After %q", refused.body, refused.header.Get("Retry-After"))
	}
	// A template check takes a slot too (the slow rendering holds it for 3 s).
	r := f.e.do(req{method: "POST", path: v1path("templates"), pak: f.gen.pak,
		body: client.CreateTemplateRequest{Name: "other", TemplateContent: "{{ y }}", ParametersSchema: "{}"}})
	if time.Since(refusedAt) < time.Second && (r.status != http.StatusTooManyRequests || r.code() != "too_many_renders") {
		t.Errorf("create while busy: %d %s", r.status, r.body)
	}
	if r := <-done; r.status != http.StatusUnprocessableEntity || r.code() != "template_render_timeout" {
		t.Fatalf("slow rendering: %d %s", r.status, r.body)
	}
	// The slot is free again.
	f.e.must(http.StatusCreated, req{method: "POST", path: v1path("stacks", f.stack.ID, "deployment-objects", "from-template"),
		pak: f.gen.pak, body: map[string]any{"template_id": fast.ID, "parameters": map[string]any{"x": 2}}})
}

func TestTemplateOutputLimit(t *testing.T) {
	const three = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: three}\ndata: {k: {% for i in range(end=3) %}{{ big }}{% endfor %}}" // 3 MiB
	f := newHostileFixture(t)
	r := f.instantiate("three", three, slowParams)
	if r.status != http.StatusBadRequest || r.code() != "template_render_failed" ||
		!strings.Contains(string(r.body), "output exceeds 2097152 bytes") {
		t.Fatalf("3 MiB output under the default 2 MiB body limit: %d %.300s", r.status, r.body)
	}
	// The bound follows broker.max_body_bytes.
	f = newHostileFixture(t, func(c *config.Broker) { c.Broker.MaxBodyBytes = 4 << 20 })
	r = f.instantiate("three", three, slowParams)
	if r.status != http.StatusCreated {
		t.Fatalf("3 MiB output under a 4 MiB body limit: %d %.300s", r.status, r.body)
	}
}

func TestTemplateHostileRenderings(t *testing.T) {
	f := newHostileFixture(t)
	shared := "[" + strings.TrimSuffix(strings.Repeat("r, ", 2000), ", ") + "]"
	for name, src := range map[string]string{
		// Half an hour of CPU: a sort of 100,000 items, 100,000 times.
		"sort in a loop": "{% for i in range(end=100000) %}{{ range(end=100000) | sort | length }}{% endfor %}",
		// Gigabytes: 2,000 references to one list, each converted whole.
		"shared references": "{% set r = range(end=100000) %}{{ " + shared + " | length }}",
		// Minutes in one comparison, out of reach of any deadline check.
		"comparison": "{% set r = range(end=100000) %}{{ " + shared + " == " + shared + " }}",
	} {
		t.Run(name, func(t *testing.T) {
			start := time.Now()
			r := f.instantiate(strings.ReplaceAll(name, " ", "-"), src, "{}")
			if r.status != http.StatusBadRequest || r.code() != "template_render_failed" || !strings.Contains(string(r.body), "budget") {
				t.Fatalf("%d %.300s, want 400 template_render_failed (budget)", r.status, r.body)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("answered after %v", d)
			}
		})
	}
	// A recursive loop (which recursed for ever) is refused at creation.
	f.e.expectError(http.StatusBadRequest, "invalid_template_syntax", req{method: "POST", path: v1path("templates"), pak: f.gen.pak,
		body: client.CreateTemplateRequest{Name: "rec", TemplateContent: "{% for x in [1] recursive %}{{ loop([1]) }}{% endfor %}", ParametersSchema: "{}"}})
}
