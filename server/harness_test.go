package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/api/openapitest"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server"
	"github.com/brokkr/brokkr/server/servertest"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// env is one broker on its own database, reached over HTTP through a client whose every
// exchange is validated against the project's OpenAPI document.
type env struct {
	t     testing.TB
	cfg   config.Broker
	srv   *server.Server
	db    *db.DB
	url   string
	admin string
	http  *http.Client
	v     *openapitest.Validator
}

type envOption func(*config.Broker)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	b := servertest.New(t, servertest.Options{Configure: func(cfg *config.Broker) {
		for _, o := range opts {
			o(cfg)
		}
	}})
	v := openapitest.New(t)
	return &env{t: t, cfg: b.Config, srv: b.Server, db: b.Store, url: b.URL, admin: b.AdminPAK, v: v,
		http: &http.Client{Transport: v.Transport(t, http.DefaultTransport)}}
}

// openFreshDB opens a new migrated database that no broker has bootstrapped.
func openFreshDB(t testing.TB) *db.DB {
	t.Helper()
	store, err := db.Open(context.Background(), dbtest.URL(t), db.Options{MaxConnections: 5})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// replica starts a second broker on the same database and configuration, as another
// replica behind a load balancer would be; it shares the validated HTTP client.
func (e *env) replica() *env {
	e.t.Helper()
	return e.replicaWith(nil)
}

// replicaWith is replica with server options adjusted by change (which may be nil).
func (e *env) replicaWith(change func(*server.Options)) *env {
	e.t.Helper()
	o := server.Options{Config: e.cfg, DB: e.db}
	if change != nil {
		change(&o)
	}
	srv, err := server.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(srv.Close)
	if _, err := srv.Bootstrap(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	e.t.Cleanup(ts.Close)
	r := *e
	r.srv, r.url = srv, ts.URL
	return &r
}

// start runs a server's background work for the rest of the test.
func start(t testing.TB, srv *server.Server) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	srv.Start(ctx)
	t.Cleanup(func() {
		cancel()
		srv.Wait()
	})
}

// resp is a received response.
type resp struct {
	status int
	header http.Header
	body   []byte
}

// decode unmarshals the body into v, failing the test on error.
func (r resp) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// code returns the error code of a JSON error body ("" when there is none).
func (r resp) code() string {
	var b client.ErrorBody
	_ = json.Unmarshal(r.body, &b)
	return b.Code
}

// req describes one request.
type req struct {
	method, path, pak string
	body              any               // JSON-encoded unless []byte or string
	contentType       string            // default application/json when body is set
	headers           map[string]string // extra headers
}

func (e *env) do(r req) resp {
	e.t.Helper()
	var rdr io.Reader
	ct := r.contentType
	switch b := r.body.(type) {
	case nil:
	case []byte:
		rdr = bytes.NewReader(b)
	case string:
		rdr = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rdr = bytes.NewReader(raw)
		if ct == "" {
			ct = "application/json"
		}
	}
	hr, err := http.NewRequest(r.method, e.url+r.path, rdr)
	if err != nil {
		e.t.Fatal(err)
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	if r.pak != "" {
		hr.Header.Set("Authorization", "Bearer "+r.pak)
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	res, err := e.http.Do(hr)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp{status: res.StatusCode, header: res.Header, body: body}
}

// must performs a request and fails the test unless it answers with want.
func (e *env) must(want int, r req) resp {
	e.t.Helper()
	got := e.do(r)
	if got.status != want {
		e.t.Fatalf("%s %s: status %d, want %d; body %s", r.method, r.path, got.status, want, got.body)
	}
	return got
}

// expectError checks a JSON error response.
func (e *env) expectError(wantStatus int, wantCode string, r req) resp {
	e.t.Helper()
	got := e.must(wantStatus, r)
	if c := got.code(); c != wantCode {
		e.t.Fatalf("%s %s: code %q, want %q; body %s", r.method, r.path, c, wantCode, got.body)
	}
	return got
}

// Seeding helpers go through the API, like a client would.

type agentFixture struct {
	agent client.Agent
	pak   string
}

func (e *env) createAgent(name, cluster string, generators ...uuid.UUID) agentFixture {
	e.t.Helper()
	body := map[string]any{"name": name, "cluster_name": cluster}
	if len(generators) > 0 {
		body["generator_ids"] = generators
	}
	var out client.CreateAgentResponse
	e.must(201, req{method: "POST", path: "/api/v1/agents", pak: e.admin, body: body}).decode(e.t, &out)
	return agentFixture{agent: out.Agent, pak: out.InitialPAK}
}

type generatorFixture struct {
	gen client.Generator
	pak string
}

func (e *env) createGenerator(name string) generatorFixture {
	e.t.Helper()
	var out client.GeneratorPAKResponse
	e.must(201, req{method: "POST", path: "/api/v1/generators", pak: e.admin, body: map[string]any{"name": name}}).decode(e.t, &out)
	return generatorFixture{gen: out.Generator, pak: out.PAK}
}

func (e *env) createStack(name string, gen uuid.UUID, key string) client.Stack {
	e.t.Helper()
	var out client.Stack
	e.must(201, req{method: "POST", path: "/api/v1/stacks", pak: key,
		body: map[string]any{"name": name, "generator_id": gen}}).decode(e.t, &out)
	return out
}

func (e *env) createObject(stack uuid.UUID, key, yaml string) client.DeploymentObject {
	e.t.Helper()
	var out client.DeploymentObject
	e.must(201, req{method: "POST", path: "/api/v1/stacks/" + stack.String() + "/deployment-objects", pak: key,
		body: map[string]any{"yaml_content": yaml}}).decode(e.t, &out)
	return out
}

func (e *env) register(agent, gen uuid.UUID) {
	e.t.Helper()
	e.must(201, req{method: "POST", path: "/api/v1/generators/" + gen.String() + "/register", pak: e.admin,
		body: map[string]any{"agent_id": agent}})
}

const cmYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: demo\ndata:\n  k: v\n"
