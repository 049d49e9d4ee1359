package client_test

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/api"
	"github.com/brokkr/brokkr/client"
)

// receiver records the webhook requests it is sent.
type receiver struct {
	mu   sync.Mutex
	reqs []received
}

type received struct {
	header http.Header
	body   []byte
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	b, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	r.reqs = append(r.reqs, received{header: req.Header.Clone(), body: b})
	r.mu.Unlock()
	w.WriteHeader(http.StatusOK)
}

func (r *receiver) last() (received, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) == 0 {
		return received{}, false
	}
	return r.reqs[len(r.reqs)-1], true
}

const webYAML = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\n  namespace: default\ndata:\n  k: v\n"

// TestEveryOperation drives every operation of the API through the typed client, as the
// admin, a generator and an agent would, and checks that each one was exercised.
func TestEveryOperation(t *testing.T) {
	b := newBroker(t)
	c := ctx(t)
	admin := b.client(b.admin)

	hook := &receiver{}
	hookSrv := httptest.NewServer(hook)
	t.Cleanup(hookSrv.Close)

	// --- Identity and PAK holders.
	who := must(admin.Auth().Verify(c))(t)
	if !who.Admin || who.ReadOnly || who.Agent != nil || who.Generator != nil {
		t.Fatalf("admin identity %+v", who)
	}
	holders := must(admin.PAKs().List(c))(t)
	if !slices.ContainsFunc(holders, func(p client.PakSummary) bool { return p.Name == "admin-generator" }) {
		t.Fatalf("PAK holders %+v lack admin-generator", holders)
	}

	// --- Generators.
	gen := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "ci", Description: ptr("pipelines")}))(t)
	if gen.PAK == "" || gen.Generator.Name != "ci" || gen.Generator.Description == nil || *gen.Generator.Description != "pipelines" {
		t.Fatalf("created generator %+v", gen)
	}
	g := gen.Generator
	rotated := must(admin.Generators().RotatePAK(c, g.ID))(t)
	if rotated.PAK == gen.PAK || rotated.Generator.ID != g.ID {
		t.Fatalf("rotated generator %+v", rotated)
	}
	if _, err := b.client(gen.PAK).Auth().Verify(c); !client.IsUnauthorized(err) {
		t.Fatalf("old generator key: %v", err)
	}
	gc := b.client(rotated.PAK)
	if id := must(gc.Auth().Verify(c))(t); id.Generator == nil || *id.Generator != g.ID || id.Admin {
		t.Fatalf("generator identity %+v", id)
	}
	g = must(gc.Generators().Get(c, g.ID))(t)
	g.Description = ptr("build pipelines")
	if up := must(gc.Generators().Update(c, g))(t); up.Description == nil || *up.Description != "build pipelines" || up.Name != "ci" {
		t.Fatalf("updated generator %+v", up)
	}
	if gens := must(admin.Generators().List(c))(t); !slices.ContainsFunc(gens, func(x client.Generator) bool { return x.ID == g.ID }) {
		t.Fatalf("generators %+v lack %s", gens, g.ID)
	}
	spare := must(admin.Generators().Create(c, client.CreateGeneratorRequest{Name: "spare"}))(t)
	ok(t, admin.Generators().Delete(c, spare.Generator.ID))
	if _, err := admin.Generators().Get(c, spare.Generator.ID); !client.IsNotFound(err) || !client.HasCode(err, "generator_not_found") {
		t.Fatalf("deleted generator: %v", err)
	}

	// --- Webhook subscriptions: one the broker delivers, one for agents labelled env:prod.
	types := must(admin.Webhooks().EventTypes(c))(t)
	if len(types) != 18 || types[0] != "agent.registered" || !slices.Contains(types, "workorder.failed") || !slices.Contains(types, "rollout.halted") {
		t.Fatalf("event types %v", types)
	}
	brokerHook := must(admin.Webhooks().Create(c, client.CreateWebhookRequest{
		Name: "stacks", URL: hookSrv.URL, AuthHeader: ptr("Bearer s3cret"), EventTypes: []string{"stack.created"}}))(t)
	if !brokerHook.HasURL || !brokerHook.HasAuthHeader || !brokerHook.Enabled || brokerHook.TargetLabels != nil ||
		brokerHook.MaxRetries != 5 || brokerHook.TimeoutSeconds != 30 {
		t.Fatalf("created webhook %+v", brokerHook)
	}
	agentHook := must(admin.Webhooks().Create(c, client.CreateWebhookRequest{
		Name: "deployments", URL: hookSrv.URL + "/deploy", EventTypes: []string{"deployment.*"}, TargetLabels: []string{"env:prod"}}))(t)
	if !slices.Equal(agentHook.TargetLabels, []string{"env:prod"}) || agentHook.HasAuthHeader {
		t.Fatalf("agent webhook %+v", agentHook)
	}
	up := must(admin.Webhooks().Update(c, brokerHook.ID, client.UpdateWebhookRequest{Name: ptr("stack-events"), MaxRetries: ptr(int32(2))}))(t)
	if up.Name != "stack-events" || up.MaxRetries != 2 || !up.Enabled {
		t.Fatalf("updated webhook %+v", up)
	}
	if got := must(admin.Webhooks().Get(c, brokerHook.ID))(t); got.Name != "stack-events" {
		t.Fatalf("webhook %+v", got)
	}
	if hooks := must(admin.Webhooks().List(c))(t); len(hooks) != 2 {
		t.Fatalf("webhooks %+v", hooks)
	}
	tested := must(admin.Webhooks().Test(c, brokerHook.ID))(t)
	if !tested.Success || tested.StatusCode != 200 {
		t.Fatalf("test delivery %+v", tested)
	}
	if r, ok := hook.last(); !ok || r.header.Get("Authorization") != "Bearer s3cret" || !strings.Contains(string(r.body), `"webhook.test"`) {
		t.Fatalf("test delivery received %+v", r)
	}

	// --- Agents.
	created := must(admin.Agents().Create(c, client.CreateAgentRequest{Name: "edge-1", ClusterName: "eu-1"}))(t)
	if created.InitialPAK == "" || created.Agent.Status != "INACTIVE" || created.Agent.Name != "edge-1" {
		t.Fatalf("created agent %+v", created)
	}
	agent := b.client(created.InitialPAK)
	a := must(agent.Agents().Search(c, "edge-1", "eu-1"))(t)
	if a.ID != created.Agent.ID {
		t.Fatalf("search found %s, want %s", a.ID, created.Agent.ID)
	}
	a = must(agent.Agents().Update(c, a.ID, client.UpdateAgentRequest{Status: ptr("ACTIVE")}))(t)
	if a.Status != "ACTIVE" || a.Name != "edge-1" {
		t.Fatalf("updated agent %+v", a)
	}
	if got := must(agent.Agents().Get(c, a.ID))(t); got.Status != "ACTIVE" {
		t.Fatalf("agent %+v", got)
	}
	if all := must(admin.Agents().List(c))(t); len(all) != 1 || all[0].ID != a.ID {
		t.Fatalf("agents %+v", all)
	}
	reg := must(agent.Generators().Register(c, g.ID, nil))(t) // the agent registers itself
	if reg.AgentID != a.ID || reg.GeneratorID != g.ID {
		t.Fatalf("registration %+v", reg)
	}
	if regs := must(agent.Agents().Registrations(c, a.ID))(t); len(regs) != 2 { // the system generator and ci
		t.Fatalf("registrations %+v", regs)
	}
	if regs := must(gc.Generators().RegisteredAgents(c, g.ID))(t); len(regs) != 1 || regs[0].AgentID != a.ID {
		t.Fatalf("registered agents %+v", regs)
	}
	if mine := must(gc.Agents().List(c))(t); len(mine) != 1 || mine[0].ID != a.ID {
		t.Fatalf("generator's agents %+v", mine)
	}

	other := must(admin.Agents().Create(c, client.CreateAgentRequest{Name: "edge-2", ClusterName: "eu-1"}))(t).Agent
	must(admin.Generators().Register(c, g.ID, &other.ID))(t)
	if _, err := admin.Generators().Register(c, g.ID, &other.ID); !client.IsConflict(err) || !client.HasCode(err, "already_registered") {
		t.Fatalf("second registration: %v", err)
	}
	ok(t, admin.Generators().Deregister(c, g.ID, &other.ID))
	if regs := must(admin.Generators().RegisteredAgents(c, g.ID))(t); len(regs) != 1 {
		t.Fatalf("registered agents after deregistration %+v", regs)
	}
	ok(t, admin.Agents().Delete(c, other.ID))
	if _, err := admin.Agents().Get(c, other.ID); !client.HasCode(err, "agent_not_found") {
		t.Fatalf("deleted agent: %v", err)
	}

	if l := must(admin.Agents().AddLabel(c, a.ID, "env:prod"))(t); l.Label != "env:prod" || l.AgentID != a.ID {
		t.Fatalf("agent label %+v", l)
	}
	must(admin.Agents().AddLabel(c, a.ID, "temporary"))(t)
	ok(t, admin.Agents().RemoveLabel(c, a.ID, "temporary"))
	if err := admin.Agents().RemoveLabel(c, a.ID, "temporary"); !client.HasCode(err, "agent_label_not_found") {
		t.Fatalf("removing a missing label: %v", err)
	}
	if ls := must(agent.Agents().Labels(c, a.ID))(t); len(ls) != 1 || ls[0].Label != "env:prod" {
		t.Fatalf("agent labels %+v", ls)
	}
	if an := must(admin.Agents().AddAnnotation(c, a.ID, "region", "eu"))(t); an.Key != "region" || an.Value != "eu" {
		t.Fatalf("agent annotation %+v", an)
	}
	must(admin.Agents().AddAnnotation(c, a.ID, "tmp", "x"))(t)
	ok(t, admin.Agents().RemoveAnnotation(c, a.ID, "tmp"))
	if as := must(agent.Agents().Annotations(c, a.ID))(t); len(as) != 1 || as[0].Key != "region" {
		t.Fatalf("agent annotations %+v", as)
	}

	// --- Stacks, owned by the generator.
	st := must(gc.Stacks().Create(c, client.CreateStackRequest{Name: "web", GeneratorID: g.ID}))(t)
	if st.GeneratorID != g.ID || st.Description != nil {
		t.Fatalf("stack %+v", st)
	}
	st.Description = ptr("front end")
	if got := must(gc.Stacks().Update(c, st))(t); got.Description == nil || *got.Description != "front end" {
		t.Fatalf("updated stack %+v", got)
	}
	if got := must(gc.Stacks().Get(c, st.ID))(t); got.Name != "web" {
		t.Fatalf("stack %+v", got)
	}
	if mine := must(gc.Stacks().List(c, nil))(t); len(mine) != 1 || mine[0].ID != st.ID {
		t.Fatalf("generator's stacks %+v", mine)
	}
	if of := must(admin.Stacks().List(c, &g.ID))(t); len(of) != 1 {
		t.Fatalf("stacks of %s: %+v", g.ID, of)
	}
	if l := must(gc.Stacks().AddLabel(c, st.ID, "env:prod"))(t); l.Label != "env:prod" || l.StackID != st.ID {
		t.Fatalf("stack label %+v", l)
	}
	must(gc.Stacks().AddLabel(c, st.ID, "temporary"))(t)
	ok(t, gc.Stacks().RemoveLabel(c, st.ID, "temporary"))
	if _, err := gc.Stacks().AddLabel(c, st.ID, "has space"); !client.IsBadRequest(err) || !client.HasCode(err, "invalid_label") {
		t.Fatalf("invalid label: %v", err)
	}
	must(gc.Stacks().AddAnnotation(c, st.ID, "tier", "web"))(t)
	must(gc.Stacks().AddAnnotation(c, st.ID, "tmp", "x"))(t)
	ok(t, gc.Stacks().RemoveAnnotation(c, st.ID, "tmp"))
	if _, err := gc.Stacks().AddAnnotation(c, st.ID, "tier", "again"); !client.IsConflict(err) {
		t.Fatalf("duplicate annotation: %v", err)
	} else if e, _ := client.AsError(err); e.Details["constraint"] != "unique_stack_annotation" {
		t.Fatalf("duplicate annotation details %+v", e.Details)
	}
	if ls := must(gc.Stacks().Labels(c, st.ID))(t); len(ls) != 1 {
		t.Fatalf("stack labels %+v", ls)
	}
	if as := must(gc.Stacks().Annotations(c, st.ID))(t); len(as) != 1 || as[0].Value != "web" {
		t.Fatalf("stack annotations %+v", as)
	}
	if tg := must(gc.Agents().AddTarget(c, a.ID, st.ID))(t); tg.AgentID != a.ID || tg.StackID != st.ID {
		t.Fatalf("target %+v", tg)
	}
	if tgs := must(agent.Agents().Targets(c, a.ID))(t); len(tgs) != 1 {
		t.Fatalf("targets %+v", tgs)
	}
	if ss := must(agent.Agents().Stacks(c, a.ID))(t); len(ss) != 1 || ss[0].ID != st.ID {
		t.Fatalf("associated stacks %+v", ss)
	}

	// --- Deployment objects, sent as raw YAML.
	obj := must(gc.Stacks().CreateDeploymentObject(c, st.ID, webYAML, false))(t)
	sum := sha256.Sum256([]byte(webYAML))
	if obj.YAMLContent != webYAML || obj.YAMLChecksum != hex.EncodeToString(sum[:]) || obj.IsDeletionMarker || obj.SequenceID <= 0 {
		t.Fatalf("deployment object %+v", obj)
	}
	if _, err := gc.Stacks().CreateDeploymentObject(c, st.ID, "a: [unclosed", false); !client.HasCode(err, "invalid_deployment_object") {
		t.Fatalf("invalid YAML: %v", err)
	}
	if objs := must(gc.Stacks().DeploymentObjects(c, st.ID))(t); len(objs) != 1 || objs[0].ID != obj.ID {
		t.Fatalf("deployment objects %+v", objs)
	}
	if got := must(agent.DeploymentObjects().Get(c, obj.ID))(t); got.YAMLChecksum != obj.YAMLChecksum {
		t.Fatalf("deployment object %+v", got)
	}
	if y := must(agent.DeploymentObjects().GetYAML(c, obj.ID))(t); y != webYAML {
		t.Fatalf("deployment object YAML %q", y)
	}
	if ts := must(agent.Agents().TargetState(c, a.ID, false))(t); len(ts) != 1 || ts[0].ID != obj.ID {
		t.Fatalf("target state %+v", ts)
	}
	ev := must(agent.Agents().CreateEvent(c, a.ID, client.NewAgentEvent{DeploymentObjectID: obj.ID,
		EventType: "DEPLOY", Status: "SUCCESS", Message: ptr("applied")}))(t)
	if ev.AgentID != a.ID || ev.Status != "SUCCESS" || ev.Message == nil || *ev.Message != "applied" {
		t.Fatalf("agent event %+v", ev)
	}
	if ts := must(agent.Agents().TargetState(c, a.ID, false))(t); len(ts) != 0 {
		t.Fatalf("incremental target state after the event %+v", ts)
	}
	if ts := must(agent.Agents().TargetState(c, a.ID, true))(t); len(ts) != 1 {
		t.Fatalf("full target state %+v", ts)
	}
	if evs := must(agent.Agents().Events(c, a.ID))(t); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("agent events %+v", evs)
	}
	if evs := must(admin.AgentEvents().List(c, &g.ID))(t); len(evs) != 1 || evs[0].ID != ev.ID {
		t.Fatalf("events of the generator's agents %+v", evs)
	}
	if evs := must(admin.AgentEvents().List(c, ptr(uuid.New())))(t); len(evs) != 0 {
		t.Fatalf("events of an unknown generator %+v", evs)
	}
	if got := must(admin.AgentEvents().Get(c, ev.ID))(t); got.DeploymentObjectID != obj.ID {
		t.Fatalf("agent event %+v", got)
	}

	// --- Health reports.
	ok(t, agent.DeploymentHealth().Report(c, a.ID, []client.DeploymentObjectHealthUpdate{{ID: obj.ID, Status: client.HealthDegraded,
		Summary: &client.HealthSummary{PodsReady: 1, PodsTotal: 2, Conditions: []string{"ReplicaFailure"}}, CheckedAt: time.Now()}}))
	if h := must(admin.DeploymentHealth().Object(c, obj.ID))(t); h.OverallStatus != client.HealthDegraded || len(h.HealthRecords) != 1 {
		t.Fatalf("object health %+v", h)
	}
	if h := must(admin.Stacks().Health(c, st.ID))(t); h.OverallStatus != client.HealthDegraded ||
		len(h.DeploymentObjects) != 1 || h.DeploymentObjects[0].DegradedAgents != 1 {
		t.Fatalf("stack health %+v", h)
	}

	// --- Diagnostics.
	dr := must(admin.Diagnostics().Create(c, obj.ID, client.CreateDiagnosticRequest{AgentID: a.ID, RequestedBy: ptr("oncall")}))(t)
	if dr.Status != client.DiagnosticPending {
		t.Fatalf("diagnostic request %+v", dr)
	}
	if p := must(agent.Diagnostics().Pending(c, a.ID))(t); len(p) != 1 || p[0].ID != dr.ID {
		t.Fatalf("pending diagnostics %+v", p)
	}
	if cl := must(agent.Diagnostics().Claim(c, dr.ID))(t); cl.Status != client.DiagnosticClaimed {
		t.Fatalf("claimed diagnostic %+v", cl)
	}
	if _, err := agent.Diagnostics().Claim(c, dr.ID); !client.HasCode(err, "diagnostic_already_claimed") {
		t.Fatalf("second claim: %v", err)
	}
	res := must(agent.Diagnostics().SubmitResult(c, dr.ID, client.SubmitDiagnosticResult{PodStatuses: "[]", Events: "[]", CollectedAt: time.Now()}))(t)
	if got := must(admin.Diagnostics().Get(c, dr.ID))(t); got.Request.Status != client.DiagnosticCompleted || got.Result == nil || got.Result.ID != res.ID {
		t.Fatalf("diagnostic %+v", got)
	}

	// --- The agent channel and the live channels.
	fleet := must(admin.Live().Fleet(c))(t)
	t.Cleanup(func() { _ = fleet.Close() })
	eventually(t, "fleet subscriber", func() bool { return strings.Contains(scrape(t, b.url), "brokkr_fleet_live_subscribers 1") })
	ok(t, agent.Agents().Heartbeat(c, a.ID, &client.HeartbeatRequest{K8sReachable: ptr(true), K8sAPILatencyMs: ptr(int32(12))}))
	for {
		m := must(fleet.Next(c))(t)
		var rec client.FleetAgentRecord
		ok(t, m.Decode(&rec))
		if m.Type != client.WSFleetUpdate || rec.AgentID != a.ID {
			t.Fatalf("fleet frame %s %s", m.Type, m.Body)
		}
		if rec.LastHeartbeat != nil {
			if rec.K8sReachable == nil || !*rec.K8sReachable || rec.K8sAPILatencyMs == nil || *rec.K8sAPILatencyMs != 12 {
				t.Fatalf("fleet record after heartbeat %+v", rec)
			}
			break
		}
	}
	ok(t, agent.Agents().Heartbeat(c, a.ID, nil))
	if err := admin.Agents().Heartbeat(c, a.ID, nil); !client.IsForbidden(err) || !client.HasCode(err, "agent_pak_mismatch") {
		t.Fatalf("heartbeat by the admin: %v", err)
	}

	tail := must(gc.Live().Stack(c, st.ID))(t)
	t.Cleanup(func() { _ = tail.Close() })
	ch := must(agent.AgentChannel(c))(t)
	t.Cleanup(func() { _ = ch.Close() })
	eventually(t, "agent connection and stack subscriber", func() bool {
		w := must(admin.Admin().WSConnections(c))(t)
		return w.ConnectedAgents == 1 && len(w.Connections) == 1 && w.Connections[0].AgentID == a.ID && w.LiveSubscribers == 1
	})
	now := time.Now().UTC()
	k8s := must(client.NewWSMessage(client.WSK8sEvent, client.K8sEvent{AgentID: a.ID, StackID: st.ID, ObservedAt: now,
		Reason: "BackOff", Message: "restarting", EventType: "Warning",
		InvolvedObject: client.K8sObjectRef{APIVersion: "v1", Kind: "Pod", Namespace: ptr("default"), Name: "web-0"}}))(t)
	ok(t, ch.Send(c, k8s))
	line := must(client.NewWSMessage(client.WSPodLogLine, client.PodLogLine{AgentID: a.ID, StackID: st.ID,
		Namespace: "default", Pod: "web-0", Container: "app", TS: now, Line: "listening on :8080"}))(t)
	ok(t, ch.Send(c, line))
	if m := must(tail.Next(c))(t); m.Type != client.WSK8sEvent {
		t.Fatalf("first live frame %s %s", m.Type, m.Body)
	} else {
		var got client.K8sEvent
		ok(t, m.Decode(&got))
		if got.Reason != "BackOff" || got.InvolvedObject.Name != "web-0" {
			t.Fatalf("live k8s event %+v", got)
		}
	}
	if m := must(tail.Next(c))(t); m.Type != client.WSPodLogLine || !strings.Contains(string(m.Body), "listening on :8080") {
		t.Fatalf("second live frame %s %s", m.Type, m.Body)
	}
	eventually(t, "stored telemetry", func() bool {
		evs := must(gc.Stacks().Events(c, st.ID, &client.TelemetryOptions{Since: now.Add(-time.Minute), Limit: 10}))(t)
		logs := must(gc.Stacks().Logs(c, st.ID, nil))(t)
		return len(evs.Events) == 1 && evs.Events[0].Reason == "BackOff" && len(logs.Lines) == 1 &&
			logs.Lines[0].Line == "listening on :8080" && strings.Contains(logs.Retention.LongTermSinkHint, "Datadog")
	})

	// --- Work orders: the explicitly targeted agent is told over its channel.
	wo := must(admin.WorkOrders().Create(c, client.CreateWorkOrderRequest{WorkType: "build", YAMLContent: "image: web",
		Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{a.ID}}}))(t)
	if m := must(ch.Next(c))(t); m.Type != client.WSWorkOrder {
		t.Fatalf("agent frame %s %s", m.Type, m.Body)
	} else {
		var pushed client.WorkOrder
		ok(t, m.Decode(&pushed))
		if pushed.ID != wo.ID {
			t.Fatalf("pushed work order %+v", pushed)
		}
	}
	if all := must(admin.WorkOrders().List(c, &client.WorkOrderListOptions{Status: client.WorkOrderPending}))(t); len(all) != 1 {
		t.Fatalf("work orders %+v", all)
	}
	if p := must(agent.WorkOrders().Pending(c, a.ID, "build"))(t); len(p) != 1 || p[0].ID != wo.ID {
		t.Fatalf("pending work orders %+v", p)
	}
	if cl := must(agent.WorkOrders().Claim(c, wo.ID, a.ID))(t); cl.Status != client.WorkOrderClaimed || cl.ClaimedBy == nil || *cl.ClaimedBy != a.ID {
		t.Fatalf("claimed work order %+v", cl)
	}
	logEntry := must(agent.WorkOrders().Complete(c, wo.ID, client.CompleteWorkOrderRequest{Success: true, Message: ptr("built")}))(t)
	if logEntry == nil || !logEntry.Success || logEntry.ID != wo.ID {
		t.Fatalf("work order log entry %+v", logEntry)
	}
	if got := must(admin.WorkOrders().Get(c, wo.ID))(t); got.Status != client.WorkOrderCompleted {
		t.Fatalf("finished work order %+v", got)
	}
	if l := must(admin.WorkOrders().Log(c, &client.WorkOrderLogOptions{AgentID: &a.ID, Success: ptr(true)}))(t); len(l) != 1 {
		t.Fatalf("work order log %+v", l)
	}
	if l := must(admin.WorkOrders().LogEntry(c, wo.ID))(t); l.ResultMessage == nil || *l.ResultMessage != "built" {
		t.Fatalf("work order log entry %+v", l)
	}
	doomed := must(admin.WorkOrders().Create(c, client.CreateWorkOrderRequest{WorkType: "custom", YAMLContent: "x: 1",
		Targeting: &client.WorkOrderTargeting{Labels: []string{"env:prod"}}}))(t)
	ok(t, admin.WorkOrders().Delete(c, doomed.ID))
	if _, err := admin.WorkOrders().Get(c, doomed.ID); !client.HasCode(err, "work_order_not_found") {
		t.Fatalf("deleted work order: %v", err)
	}

	// --- Webhook deliveries: the broker's are queued, the agent takes its own.
	if ds := must(admin.Webhooks().Deliveries(c, brokerHook.ID, nil))(t); len(ds) != 1 || ds[0].EventType != "stack.created" || ds[0].Status != client.DeliveryPending {
		t.Fatalf("broker deliveries %+v", ds)
	}
	pending := must(agent.Webhooks().Pending(c, a.ID))(t)
	slices.SortFunc(pending, func(x, y client.PendingWebhookDelivery) int { return strings.Compare(x.EventType, y.EventType) })
	if len(pending) != 2 || pending[0].EventType != "deployment.applied" || pending[1].EventType != "deployment.created" ||
		pending[1].URL != hookSrv.URL+"/deploy" || pending[1].AuthHeader != nil {
		t.Fatalf("agent deliveries %+v", pending)
	}
	if again := must(agent.Webhooks().Pending(c, a.ID))(t); len(again) != 0 {
		t.Fatalf("claimed deliveries handed out again %+v", again)
	}
	var envelope struct {
		EventType string         `json:"event_type"`
		Data      map[string]any `json:"data"`
	}
	ok(t, json.Unmarshal([]byte(pending[1].Payload), &envelope))
	if envelope.EventType != "deployment.created" || envelope.Data["deployment_object_id"] != obj.ID.String() {
		t.Fatalf("delivery payload %s", pending[1].Payload)
	}
	if _, err := admin.Webhooks().ReportResult(c, pending[1].ID, client.DeliveryResultRequest{Success: true}); !client.HasCode(err, "agent_pak_required") {
		t.Fatalf("report by the admin: %v", err)
	}
	done := must(agent.Webhooks().ReportResult(c, pending[1].ID, client.DeliveryResultRequest{Success: true, StatusCode: ptr(int32(200)), DurationMs: ptr(int64(5))}))(t)
	if done.Status != client.DeliverySuccess || done.DeliveryID != pending[1].ID || done.Attempts != nil {
		t.Fatalf("delivery result %+v", done)
	}
	failed := must(agent.Webhooks().ReportResult(c, pending[0].ID, client.DeliveryResultRequest{StatusCode: ptr(int32(503)), Error: ptr("unavailable")}))(t)
	if failed.Status != client.DeliveryFailed || failed.Attempts == nil || *failed.Attempts != 1 || failed.NextRetryAt == nil {
		t.Fatalf("failed delivery result %+v", failed)
	}
	if ds := must(admin.Webhooks().Deliveries(c, agentHook.ID, &client.DeliveryListOptions{Status: client.DeliverySuccess, Limit: 5}))(t); len(ds) != 1 || ds[0].Attempts != 1 || ds[0].ID != pending[1].ID {
		t.Fatalf("successful agent deliveries %+v", ds)
	}
	if ds := must(admin.Webhooks().Deliveries(c, agentHook.ID, &client.DeliveryListOptions{Limit: 1, Offset: 1}))(t); len(ds) != 1 {
		t.Fatalf("second page of agent deliveries %+v", ds)
	}
	if ds := must(admin.Webhooks().Deliveries(c, agentHook.ID, &client.DeliveryListOptions{Status: client.DeliveryFailed}))(t); len(ds) != 1 ||
		ds[0].LastError == nil || *ds[0].LastError != "HTTP 503: unavailable" {
		t.Fatalf("failed agent deliveries %+v", ds)
	}

	// --- Templates: a system template instantiated into the generator's stack.
	const schema = `{"type":"object","required":["name"],"properties":{"name":{"type":"string"}}}`
	tpl := must(admin.Templates().Create(c, client.CreateTemplateRequest{Name: "configmap",
		TemplateContent: "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n", ParametersSchema: schema}))(t)
	if tpl.Version != 1 || tpl.GeneratorID != nil {
		t.Fatalf("template %+v", tpl)
	}
	if ts := must(gc.Templates().List(c))(t); len(ts) != 1 || ts[0].ID != tpl.ID {
		t.Fatalf("templates visible to the generator %+v", ts)
	}
	if got := must(gc.Templates().Get(c, tpl.ID))(t); got.Checksum != tpl.Checksum {
		t.Fatalf("template %+v", got)
	}
	if l := must(admin.Templates().AddLabel(c, tpl.ID, "env:prod"))(t); l.TemplateID != tpl.ID {
		t.Fatalf("template label %+v", l)
	}
	must(admin.Templates().AddLabel(c, tpl.ID, "temporary"))(t)
	ok(t, admin.Templates().RemoveLabel(c, tpl.ID, "temporary"))
	must(admin.Templates().AddAnnotation(c, tpl.ID, "tier", "web"))(t)
	must(admin.Templates().AddAnnotation(c, tpl.ID, "tmp", "x"))(t)
	ok(t, admin.Templates().RemoveAnnotation(c, tpl.ID, "tmp"))
	if ls := must(gc.Templates().Labels(c, tpl.ID))(t); len(ls) != 1 || ls[0].Label != "env:prod" {
		t.Fatalf("template labels %+v", ls)
	}
	if as := must(gc.Templates().Annotations(c, tpl.ID))(t); len(as) != 1 || as[0].Key != "tier" {
		t.Fatalf("template annotations %+v", as)
	}
	rendered := must(gc.Stacks().Instantiate(c, st.ID, tpl.ID, map[string]any{"name": "demo"}))(t)
	if !strings.Contains(rendered.YAMLContent, "name: demo") || rendered.StackID != st.ID {
		t.Fatalf("instantiated object %+v", rendered)
	}
	_, err := gc.Stacks().Instantiate(c, st.ID, tpl.ID, nil)
	if e, ok := client.AsError(err); !ok || e.StatusCode != 400 || e.Code != "invalid_parameters" || e.Details["validation_errors"] == nil {
		t.Fatalf("instantiation without parameters: %v", err)
	}
	v2 := must(admin.Templates().Update(c, tpl.ID, client.UpdateTemplateRequest{
		TemplateContent: "kind: ConfigMap\nmetadata:\n  name: {{ name }}-v2\n", ParametersSchema: schema}))(t)
	if v2.Version != 2 || v2.ID == tpl.ID || v2.Name != "configmap" {
		t.Fatalf("template version 2 %+v", v2)
	}
	ok(t, admin.Templates().Delete(c, v2.ID))
	if _, err := admin.Templates().Get(c, v2.ID); !client.HasCode(err, "template_not_found") {
		t.Fatalf("deleted template: %v", err)
	}

	// --- Fleet and administration.
	fs := must(admin.Agents().FleetStatus(c, a.ID))(t)
	if fs.Record.AgentID != a.ID || !fs.Record.WSConnected || len(fs.RecentEvents) != 1 || fs.Record.HealthDegraded != 1 {
		t.Fatalf("fleet status %+v", fs)
	}
	if recs := must(admin.Fleet().List(c, nil))(t); len(recs) != 1 || recs[0].AgentID != a.ID {
		t.Fatalf("fleet %+v", recs)
	}
	if recs := must(admin.Fleet().List(c, &spare.Generator.ID))(t); len(recs) != 0 {
		t.Fatalf("fleet of a generator without agents %+v", recs)
	}
	reload := must(admin.Admin().ReloadConfig(c))(t)
	if !reload.Success || len(reload.Changes) != 1 || reload.Changes[0].Key != "broker.webhook_delivery_batch_size" {
		t.Fatalf("config reload %+v", reload)
	}
	b.srv.FlushAudit(c)
	logs := must(admin.Admin().AuditLogs(c, &client.AuditLogOptions{Action: "agent.*", ResourceID: &a.ID, Limit: 50}))(t)
	if logs.Total < 2 || logs.Count != len(logs.Logs) || logs.Limit != 50 {
		t.Fatalf("audit logs %+v", logs)
	}
	for _, l := range logs.Logs {
		if !strings.HasPrefix(l.Action, "agent.") || l.ResourceID == nil || *l.ResourceID != a.ID {
			t.Fatalf("audit entry %+v does not match the filter", l)
		}
	}
	if page := must(admin.Admin().AuditLogs(c, &client.AuditLogOptions{ActorType: "admin", From: time.Now().Add(-time.Hour),
		To: time.Now().Add(time.Minute), Limit: 1, Offset: 1}))(t); page.Count != 1 || page.Offset != 1 || page.Total < 2 {
		t.Fatalf("audit page %+v", page)
	}

	// --- Rotation and removal.
	rot := must(agent.Agents().RotatePAK(c, a.ID))(t)
	if rot.PAK == created.InitialPAK || rot.Agent.ID != a.ID {
		t.Fatalf("rotated agent key %+v", rot)
	}
	if _, err := agent.Auth().Verify(c); !client.IsUnauthorized(err) {
		t.Fatalf("old agent key: %v", err)
	}
	agent = b.client(rot.PAK)
	if id := must(agent.Auth().Verify(c))(t); id.Agent == nil || *id.Agent != a.ID {
		t.Fatalf("agent identity %+v", id)
	}
	flowRollouts(t, c, admin, gc, agent, a, st) // see flow_rollouts_test.go
	ok(t, gc.Agents().RemoveTarget(c, a.ID, st.ID))
	if tgs := must(agent.Agents().Targets(c, a.ID))(t); len(tgs) != 0 {
		t.Fatalf("targets after removal %+v", tgs)
	}
	ok(t, admin.Webhooks().Delete(c, agentHook.ID))
	if _, err := admin.Webhooks().Get(c, agentHook.ID); !client.HasCode(err, "webhook_not_found") {
		t.Fatalf("deleted webhook: %v", err)
	}
	// --- Drift and dependencies (see drift_test.go).
	if set := must(agent.Agents().StackSettings(c, a.ID))(t); len(set) != 1 || set[0].StackID != st.ID ||
		set[0].DriftPolicy != client.DriftPolicyReport || len(set[0].DependsOn) != 0 {
		t.Fatalf("stack settings %+v", set)
	}
	if d := must(gc.Stacks().Drift(c, st.ID))(t); len(d) != 0 {
		t.Fatalf("drift %+v", d)
	}
	if d := must(gc.Stacks().Dependencies(c, st.ID))(t); len(d.DependsOn) != 0 || len(d.Waiting) != 0 {
		t.Fatalf("dependencies %+v", d)
	}
	ok(t, gc.Stacks().Delete(c, st.ID))
	if _, err := gc.Stacks().Get(c, st.ID); !client.HasCode(err, "stack_not_found") {
		t.Fatalf("deleted stack: %v", err)
	}
	// --- Read-only PAKs (see readonlypaks_test.go).
	roKey := must(admin.ReadOnlyPAKs().Create(c, "flow-dashboards"))(t)
	if keys := must(b.client(roKey.PAK).ReadOnlyPAKs().List(c))(t); len(keys) != 1 || keys[0].ID != roKey.ID {
		t.Fatalf("read-only keys %+v", keys)
	}
	ok(t, admin.ReadOnlyPAKs().Revoke(c, roKey.ID))
	adminRot := must(admin.Admin().RotatePAK(c))(t)
	if adminRot.PAK == "" || adminRot.PAK == b.admin || adminRot.PAKHash == "" {
		t.Fatalf("rotated admin key %+v", adminRot)
	}
	if _, err := admin.Auth().Verify(c); !client.IsUnauthorized(err) {
		t.Fatalf("old admin key: %v", err)
	}
	if id := must(b.client(adminRot.PAK).Auth().Verify(c))(t); !id.Admin {
		t.Fatalf("new admin key identity %+v", id)
	}

	// Every documented operation went through the typed client.
	seen := b.v.Seen()
	var missing []string
	for _, op := range api.Operations() {
		if seen[op.Method+" "+op.Path] == 0 {
			missing = append(missing, op.Method+" "+op.Path)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("operations never exercised (%d of %d): %v", len(missing), len(api.Operations()), missing)
	}
}

// scrape returns the broker's metrics text.
func scrape(t *testing.T, base string) string {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
