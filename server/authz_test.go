package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/brokkr/brokkr/client"
)

// The authorization table: for every operation the broker serves, the answer each kind of
// caller gets (api.md §2.4 and the "Auth" rules of §5.1–§5.6). Deliberate deviations from
// the reference, asserted as such: every refusal carries the JSON error body (also 401
// `unauthorized` from the middleware and 403 `read_only` for the read-only admin's writes),
// an agent may read a deployment object of any stack associated with it, not only of the
// stacks it targets explicitly, and the read-only admin is refused (403 `read_only`) the one
// read that claims work and reveals secrets, GET /agents/{agent_id}/webhooks/pending.
// A named read-only PAK has the read-only admin key's role: every row expects the same answer
// for both.

// authzCaller is one kind of caller; the value names its subtest.
type authzCaller string

const (
	callerNone        authzCaller = "no-pak"
	callerAdmin       authzCaller = "admin"
	callerReadOnly    authzCaller = "read-only-admin"
	callerReadOnlyPAK authzCaller = "read-only-pak"   // a named read-only PAK
	callerSelf        authzCaller = "agent-itself"    // A1: the agent in the path, or the relevant agent
	callerOtherAgent  authzCaller = "other-agent"     // A2: not registered with G1
	callerOwner       authzCaller = "owner-generator" // G1: owns the stacks, or is the generator in the path
	callerOtherGen    authzCaller = "other-generator" // G2
)

// authzCallers lists every caller, in the order the table runs them.
var authzCallers = []authzCaller{
	callerNone, callerAdmin, callerReadOnly, callerReadOnlyPAK, callerSelf, callerOtherAgent, callerOwner, callerOtherGen,
}

// authzExpect is an expected answer; code, when set, is the expected error code.
type authzExpect struct {
	status int
	code   string
}

func (x authzExpect) String() string {
	if x.code == "" {
		return fmt.Sprint(x.status)
	}
	return fmt.Sprintf("%d %s", x.status, x.code)
}

var (
	authzUnauthorized = authzExpect{http.StatusUnauthorized, "unauthorized"}
	authzReadOnly     = authzExpect{http.StatusForbidden, "read_only"}
)

func authzForbidden(code string) authzExpect { return authzExpect{http.StatusForbidden, code} }

// authzWants maps every caller to its expected answer.
type authzWants map[authzCaller]authzExpect

// with returns a copy of w where caller c expects x; what the read-only admin key expects, a
// named read-only PAK expects too.
func (w authzWants) with(c authzCaller, x authzExpect) authzWants {
	out := make(authzWants, len(w))
	for k, v := range w {
		out[k] = v
	}
	out[c] = x
	if c == callerReadOnly {
		out[callerReadOnlyPAK] = x
	}
	return out
}

// authzAllow expects status for the allowed callers, 403 deny for every other caller with a
// PAK, and 401 without one.
func authzAllow(status int, deny string, allowed ...authzCaller) authzWants {
	w := authzWants{}
	for _, c := range authzCallers {
		w[c] = authzForbidden(deny)
	}
	w[callerNone] = authzUnauthorized
	for _, c := range allowed {
		w[c] = authzExpect{status: status}
	}
	w[callerReadOnlyPAK] = w[callerReadOnly]
	return w
}

// authzWrite is authzAllow for a write operation: the read-only admin is refused with read_only
// whatever the operation's own rule (§2.4).
func authzWrite(status int, deny string, allowed ...authzCaller) authzWants {
	return authzAllow(status, deny, allowed...).with(callerReadOnly, authzReadOnly)
}

// authzFixture is the world a row runs against. G1 owns S1, S2 and S3; A1 is registered
// with G1 and targets S1 explicitly, and shares a label with S2 and an annotation with S3;
// A2 carries the same label and annotation but is registered with no tenant generator, so
// no stack of G1 is associated with it. The system template and G1's template both require
// S1's label and annotation, so either can be instantiated in S1. The webhook subscription
// posts to a local endpoint that answers 200 and is delivered through agents carrying a
// label only A1 has; A1 holds the delivery S1's first object caused.
type authzFixture struct {
	g1, g2 generatorFixture
	a1, a2 agentFixture
	s1     client.Stack // targeted by A1; carries authzStackLabel and authzStackAnnotation
	s2     client.Stack // associated with A1 through authzSharedLabel
	s3     client.Stack // associated with A1 through the shared annotation
	s4     client.Stack // targeted by A1, with a rollout policy and a rollout under way
	obj    client.DeploymentObject
	objS2  client.DeploymentObject
	objS3  client.DeploymentObject
	event  client.AgentEvent // an event of A1 about obj

	order        client.WorkOrder         // pending, targeted at A1
	claimedOrder client.WorkOrder         // claimed by A1
	loggedOrder  client.WorkOrder         // completed: in the work order log
	diag         client.DiagnosticRequest // pending, assigned to A1, about obj

	sysTemplate client.StackTemplate          // a system template, created by the admin
	ownTemplate client.StackTemplate          // a template of G1
	webhook     client.WebhookResponse        // deployment.created in S1, delivered by A1
	delivery    client.PendingWebhookDelivery // of webhook, acquired by A1
	hookURL     string                        // the endpoint of webhook
	readOnly    client.ReadOnlyPAKCreated     // a named read-only PAK
	window      client.ApplyWindow            // an apply window selecting no agent

	// tag is unique per request, for the names of what the request creates.
	tag string
}

const (
	authzSharedLabel           = "tier:edge"
	authzSharedAnnotation      = "zone"
	authzSharedAnnotationValue = "eu-1"
	authzStackLabel            = "app:web"
	authzStackAnnotation       = "owner"
	authzStackAnnotationValue  = "team-a"
	// authzNoAgentLabel is carried by no agent: the apply windows the table creates hold nothing.
	authzNoAgentLabel = "authz:no-agent"

	// authzTemplateYAML is the content of the fixture's templates (no parameters).
	authzTemplateYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-template\ndata:\n  k: v\n"
)

// authzRolloutPolicy is a rollout policy whose one wave selects no agent.
func authzRolloutPolicy() map[string]any {
	return map[string]any{"waves": []any{map[string]any{"name": "none", "selector": map[string]any{"labels": []string{authzNoAgentLabel}}}}}
}

// newAuthzFixture builds a fixture through the API; sfx keeps its names apart from other
// fixtures of the same broker, and hookURL is the endpoint of its webhook subscription.
func newAuthzFixture(e *env, sfx, hookURL string) authzFixture {
	e.t.Helper()
	f := authzFixture{hookURL: hookURL}
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/read-only-paks", pak: e.admin,
		body: map[string]any{"name": "read-only-" + sfx}}).decode(e.t, &f.readOnly)
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/apply-windows", pak: e.admin,
		body: map[string]any{"name": "window-" + sfx, "schedule": "0 0 1 1 *", "duration": "1m", "kind": "deny",
			"selector": map[string]any{"labels": []string{authzNoAgentLabel}}}}).
		decode(e.t, &f.window)
	f.g1 = e.createGenerator("owner-" + sfx)
	f.g2 = e.createGenerator("other-" + sfx)
	f.a1 = e.createAgent("self-"+sfx, "cluster", f.g1.gen.ID)
	f.a2 = e.createAgent("other-"+sfx, "cluster")
	f.s1 = e.createStack("targeted-"+sfx, f.g1.gen.ID, f.g1.pak)
	f.s2 = e.createStack("by-label-"+sfx, f.g1.gen.ID, f.g1.pak)
	f.s3 = e.createStack("by-annotation-"+sfx, f.g1.gen.ID, f.g1.pak)
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/agents/" + f.a1.agent.ID.String() + "/targets", pak: f.g1.pak,
		body: map[string]any{"agent_id": f.a1.agent.ID, "stack_id": f.s1.ID}})
	// The subscription exists before S1's first object, whose creation queues its delivery.
	hookLabel := "hook:" + sfx
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/webhooks", pak: e.admin,
		body: map[string]any{"name": "hook-" + sfx, "url": hookURL, "event_types": []string{"deployment.created"},
			"filters": map[string]any{"stack_id": f.s1.ID}, "target_labels": []string{hookLabel}}}).decode(e.t, &f.webhook)
	f.obj = e.createObject(f.s1.ID, f.g1.pak, cmYAML)
	f.objS2 = e.createObject(f.s2.ID, f.g1.pak, cmYAML)
	f.objS3 = e.createObject(f.s3.ID, f.g1.pak, cmYAML)
	// S4's first object rolls out to A1 (its wave selects no agent, A1 is in the remaining
	// one) and stays under way: A1 never reports on it.
	f.s4 = e.createStack("rolled-"+sfx, f.g1.gen.ID, f.g1.pak)
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/agents/" + f.a1.agent.ID.String() + "/targets", pak: f.g1.pak,
		body: map[string]any{"agent_id": f.a1.agent.ID, "stack_id": f.s4.ID}})
	e.must(http.StatusOK, req{method: "PUT", path: "/api/v1/stacks/" + f.s4.ID.String() + "/rollout-policy", pak: f.g1.pak,
		body: authzRolloutPolicy()})
	e.createObject(f.s4.ID, f.g1.pak, cmYAML)
	for _, a := range []agentFixture{f.a1, f.a2} {
		p := "/api/v1/agents/" + a.agent.ID.String()
		e.must(http.StatusCreated, req{method: "POST", path: p + "/labels", pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "label": authzSharedLabel}})
		e.must(http.StatusCreated, req{method: "POST", path: p + "/annotations", pak: e.admin,
			body: map[string]any{"agent_id": a.agent.ID, "key": authzSharedAnnotation, "value": authzSharedAnnotationValue}})
	}
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1" + f.agentPath() + "/labels", pak: e.admin,
		body: map[string]any{"agent_id": f.a1.agent.ID, "label": hookLabel}})
	// addLabel posts a bare JSON string label to a stack's or a template's labels.
	addLabel := func(path, key, label string) {
		raw, err := json.Marshal(label)
		if err != nil {
			e.t.Fatal(err)
		}
		e.must(http.StatusCreated, req{method: "POST", path: "/api/v1" + path + "/labels", pak: key,
			body: raw, contentType: "application/json"})
	}
	addLabel(f.stackPath(), f.g1.pak, authzStackLabel)
	addLabel("/stacks/"+f.s2.ID.String(), f.g1.pak, authzSharedLabel)
	stackAnnotationReq := func(s client.Stack, key, value string) {
		e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/stacks/" + s.ID.String() + "/annotations", pak: f.g1.pak,
			body: map[string]any{"stack_id": s.ID, "key": key, "value": value}})
	}
	stackAnnotationReq(f.s1, authzStackAnnotation, authzStackAnnotationValue)
	stackAnnotationReq(f.s3, authzSharedAnnotation, authzSharedAnnotationValue)
	newTemplate := func(key, name string) client.StackTemplate {
		var t client.StackTemplate
		e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/templates", pak: key,
			body: map[string]any{"name": name, "template_content": authzTemplateYAML, "parameters_schema": "{}"}}).
			decode(e.t, &t)
		p := "/templates/" + t.ID.String()
		addLabel(p, key, authzStackLabel)
		e.must(http.StatusCreated, req{method: "POST", path: "/api/v1" + p + "/annotations", pak: key,
			body: map[string]any{"key": authzStackAnnotation, "value": authzStackAnnotationValue}})
		return t
	}
	f.sysTemplate = newTemplate(e.admin, "system-"+sfx)
	f.ownTemplate = newTemplate(f.g1.pak, "owned-"+sfx)
	var pending []client.PendingWebhookDelivery
	e.must(http.StatusOK, req{method: "GET", path: "/api/v1" + f.agentPath() + "/webhooks/pending", pak: f.a1.pak}).
		decode(e.t, &pending)
	if len(pending) != 1 || pending[0].SubscriptionID != f.webhook.ID {
		e.t.Fatalf("A1 acquired %+v, want the one delivery of subscription %s", pending, f.webhook.ID)
	}
	f.delivery = pending[0]
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/agents/" + f.a1.agent.ID.String() + "/events", pak: f.a1.pak,
		body: map[string]any{"agent_id": f.a1.agent.ID, "deployment_object_id": f.obj.ID, "event_type": "DEPLOY", "status": "SUCCESS"}}).
		decode(e.t, &f.event)
	newOrder := func() client.WorkOrder {
		var w client.WorkOrder
		e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/work-orders", pak: e.admin,
			body: map[string]any{"work_type": "build", "yaml_content": "kind: Build", "targeting": map[string]any{"agent_ids": []any{f.a1.agent.ID}}}}).
			decode(e.t, &w)
		return w
	}
	f.order, f.claimedOrder, f.loggedOrder = newOrder(), newOrder(), newOrder()
	e.must(http.StatusOK, req{method: "POST", path: "/api/v1/work-orders/" + f.claimedOrder.ID.String() + "/claim", pak: f.a1.pak,
		body: map[string]any{"agent_id": f.a1.agent.ID}})
	e.must(http.StatusOK, req{method: "POST", path: "/api/v1/work-orders/" + f.loggedOrder.ID.String() + "/complete", pak: e.admin,
		body: map[string]any{"success": true}})
	e.must(http.StatusCreated, req{method: "POST", path: "/api/v1/deployment-objects/" + f.obj.ID.String() + "/diagnostics", pak: e.admin,
		body: map[string]any{"agent_id": f.a1.agent.ID}}).decode(e.t, &f.diag)
	return f
}

// key returns the PAK caller c presents ("" for none).
func (f authzFixture) key(e *env, c authzCaller) string {
	switch c {
	case callerAdmin:
		return e.admin
	case callerReadOnly:
		return e.srv.ReadOnlyPAK()
	case callerReadOnlyPAK:
		return f.readOnly.PAK
	case callerSelf:
		return f.a1.pak
	case callerOtherAgent:
		return f.a2.pak
	case callerOwner:
		return f.g1.pak
	case callerOtherGen:
		return f.g2.pak
	}
	return ""
}

func (f authzFixture) agentPath() string { return "/agents/" + f.a1.agent.ID.String() }

func (f authzFixture) genPath() string { return "/generators/" + f.g1.gen.ID.String() }

func (f authzFixture) stackPath() string { return "/stacks/" + f.s1.ID.String() }

func (f authzFixture) rolledPath() string { return "/stacks/" + f.s4.ID.String() }

func (f authzFixture) sysTemplatePath() string {
	return "/templates/" + f.sysTemplate.ID.String()
}

func (f authzFixture) ownTemplatePath() string {
	return "/templates/" + f.ownTemplate.ID.String()
}

func (f authzFixture) webhookPath() string { return "/webhooks/" + f.webhook.ID.String() }

// authzRow is one operation of the table.
type authzRow struct {
	op      string // operationId in the API document
	variant string // distinguishes rows of the same operation
	method  string
	route   string // path template relative to /api/v1, as in the API document
	// fresh runs every caller against its own new fixture, for operations that change
	// what the next caller would see (deletes, rotations, registrations, targets).
	fresh bool
	path  func(f authzFixture) string // relative to /api/v1
	body  func(f authzFixture) any    // nil: no body
	want  authzWants
}

func (r authzRow) name() string {
	if r.variant != "" {
		return r.op + "/" + r.variant
	}
	return r.op
}

func (r authzRow) key() string { return r.method + " " + r.route }

func authzConstPath(p string) func(authzFixture) string {
	return func(authzFixture) string { return p }
}

// authzView returns a view of e that reports to t, so that failures (OpenAPI validation
// included) land in the subtest that caused them.
func (e *env) authzView(t *testing.T) *env {
	c := *e
	c.t = t
	c.http = &http.Client{Transport: e.v.Transport(t, http.DefaultTransport)}
	return &c
}

// TestAuthorizationTable runs every row against one broker. Rows do not share fixtures:
// each builds its own (named after the row), and a fresh row builds one per caller.
func TestAuthorizationTable(t *testing.T) {
	e := newEnv(t)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(hook.Close)
	for i, row := range authzTable() {
		t.Run(row.name(), func(t *testing.T) {
			re := e.authzView(t)
			var shared authzFixture
			if !row.fresh {
				shared = newAuthzFixture(re, fmt.Sprint(i), hook.URL)
			}
			for _, c := range authzCallers {
				want, ok := row.want[c]
				if !ok {
					t.Fatalf("the row has no expectation for caller %s", c)
				}
				t.Run(string(c), func(t *testing.T) {
					ce := e.authzView(t)
					f := shared
					if row.fresh {
						f = newAuthzFixture(ce, fmt.Sprintf("%d-%s", i, c), hook.URL)
					}
					f.tag = fmt.Sprintf("%d-%s", i, c)
					r := req{method: row.method, path: "/api/v1" + row.path(f), pak: f.key(ce, c)}
					if row.body != nil {
						raw, err := json.Marshal(row.body(f))
						if err != nil {
							t.Fatal(err)
						}
						r.body, r.contentType = raw, "application/json"
					}
					before := e.v.Seen()[row.key()]
					got := ce.do(r)
					if after := e.v.Seen()[row.key()]; after != before+1 {
						t.Errorf("%s %s was not routed to %s in the API document", r.method, r.path, row.key())
					}
					if got.status != want.status || (want.code != "" && got.code() != want.code) {
						t.Errorf("%s %s as %s: got %d %q, want %s; body %s",
							r.method, r.path, c, got.status, got.code(), want, got.body)
					}
				})
			}
		})
	}
}

// TestAuthorizationCoversEveryRoute fails when the broker serves an operation the table
// has no row for, or the table has a row for an operation the broker does not serve.
func TestAuthorizationCoversEveryRoute(t *testing.T) {
	e := newEnv(t)
	res := e.must(http.StatusOK, req{method: "GET", path: "/docs/openapi.json"})
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	res.decode(t, &doc)

	served := map[string]string{} // "METHOD /route" → operationId
	for route, item := range doc.Paths {
		for method, raw := range item {
			switch method {
			case "get", "put", "post", "delete", "patch", "head", "options", "trace":
			default:
				continue // path-level parameters, summary, …
			}
			var op struct {
				OperationID string `json:"operationId"`
			}
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, route, err)
			}
			served[strings.ToUpper(method)+" "+route] = op.OperationID
		}
	}
	if len(served) == 0 {
		t.Fatal("the served API document lists no operation")
	}

	covered := map[string]bool{}
	for _, row := range authzTable() {
		k := row.key()
		covered[k] = true
		opID, ok := served[k]
		switch {
		case !ok:
			t.Errorf("row %s: %s is not served", row.name(), k)
		case opID != row.op:
			t.Errorf("row %s: %s is operation %q in the API document", row.name(), k, opID)
		}
		for _, c := range authzCallers {
			if _, ok := row.want[c]; !ok {
				t.Errorf("row %s: no expectation for caller %s", row.name(), c)
			}
		}
	}
	var missing []string
	for k := range served {
		if !covered[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	for _, k := range missing {
		t.Errorf("%s (%s) is served but has no row in the authorization table", k, served[k])
	}
}
