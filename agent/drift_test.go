package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/servertest"
)

// eventsOf returns the agent's events of this type about the deployment object, oldest
// first.
func (f *fixture) eventsOf(objectID uuid.UUID, eventType string) []client.AgentEvent {
	f.t.Helper()
	var out []client.AgentEvent
	for _, ev := range f.broker.Events(f.t, f.agent.ID) {
		if ev.DeploymentObjectID == objectID && ev.EventType == eventType {
			out = append(out, ev)
		}
	}
	slices.Reverse(out)
	return out
}

func (f *fixture) checkDrift() agent.DriftResult {
	f.t.Helper()
	res, err := f.rec.CheckDrift(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

// patch changes an object as another field manager would (kubectl edit, a controller).
func (f *fixture) patch(resource, name, manager, body string) {
	f.t.Helper()
	pt := types.StrategicMergePatchType
	req := f.env.Kube.CoreV1().RESTClient().Patch(pt).AbsPath("/api/v1/namespaces", f.ns, resource, name)
	if resource == "deployments" {
		req = f.env.Kube.AppsV1().RESTClient().Patch(pt).AbsPath("/apis/apps/v1/namespaces", f.ns, resource, name)
	}
	if err := req.Param("fieldManager", manager).Body([]byte(body)).Do(context.Background()).Error(); err != nil {
		f.t.Fatalf("patch %s/%s: %v", resource, name, err)
	}
}

func driftReport(t *testing.T, ev client.AgentEvent) []client.DriftedObject {
	t.Helper()
	var r client.DriftReport
	if ev.Message == nil || json.Unmarshal([]byte(*ev.Message), &r) != nil || r.Objects == nil {
		t.Fatalf("event message is not a drift report: %v", ev.Message)
	}
	return r.Objects
}

// driftStack is a ConfigMap and a Deployment that sets its replicas.
func (f *fixture) driftStack() string {
	return fmt.Sprintf(`apiVersion: v1
kind: ConfigMap
metadata: {name: conf, namespace: %[1]s}
data: {a: "1", b: "2"}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`, f.ns)
}

// TestDriftIsReportedOnlyForTheStacksOwnFields: defaulted fields, a label and a data key
// added by others and replicas set through /scale by another manager (as an autoscaler
// does) are no drift; an edited data key and an edited image are, reported once with their
// paths, and CLEARED once both match again.
func TestDriftIsReportedOnlyForTheStacksOwnFields(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stack := f.broker.CreateStack(t, "drift", f.agent.ID)
	obj := f.broker.Post(t, stack.ID, f.driftStack(), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("apply %+v", res)
	}
	if res := f.checkDrift(); res.Checked != 1 || res.Drifted != 0 {
		t.Fatalf("right after the apply: %+v", res)
	}

	f.patch("configmaps", "conf", "someone", `{"metadata":{"labels":{"team":"x"}},"data":{"c":"3"}}`)
	f.patch("deployments", "web", "someone", `{"metadata":{"labels":{"team":"x"}},"spec":{"template":{"metadata":{"annotations":{"x":"y"}}}}}`)
	scale := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: f.ns}, Spec: autoscalingv1.ScaleSpec{Replicas: 5}}
	if _, err := f.env.Kube.AppsV1().Deployments(f.ns).UpdateScale(ctx, "web", scale, metav1.UpdateOptions{FieldManager: "hpa-like"}); err != nil {
		t.Fatal(err)
	}
	if res := f.checkDrift(); res.Checked != 1 || res.Drifted != 0 {
		t.Fatalf("after others' changes: %+v", res)
	}
	if evs := f.eventsOf(obj.ID, client.EventTypeDrift); len(evs) != 0 {
		t.Fatalf("drift events without drift: %+v", evs)
	}

	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"a":"changed"}}`)
	f.patch("deployments", "web", "kubectl-edit", `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:9"}]}}}}`)
	if res := f.checkDrift(); res.Drifted != 1 {
		t.Fatalf("after edits: %+v", res)
	}
	f.checkDrift() // the same drift is not reported again
	evs := f.eventsOf(obj.ID, client.EventTypeDrift)
	if len(evs) != 1 || evs[0].Status != client.DriftDrifted {
		t.Fatalf("drift events: %+v", evs)
	}
	want := []client.DriftedObject{
		{APIVersion: "apps/v1", Kind: "Deployment", Namespace: f.ns, Name: "web", Paths: []string{"spec.template.spec.containers[web].image"}},
		{APIVersion: "v1", Kind: "ConfigMap", Namespace: f.ns, Name: "conf", Paths: []string{"data.a"}},
	}
	if got := driftReport(t, evs[0]); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("drift report\n got %+v\nwant %+v", got, want)
	}
	if dep, err := f.env.Kube.AppsV1().Deployments(f.ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || dep.Spec.Template.Spec.Containers[0].Image != "nginx:9" {
		t.Fatalf("policy report changed the Deployment: %v", err)
	}

	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"a":"1"}}`)
	f.patch("deployments", "web", "kubectl-edit", `{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}`)
	f.checkDrift()
	f.checkDrift()
	evs = f.eventsOf(obj.ID, client.EventTypeDrift)
	if len(evs) != 2 || evs[1].Status != client.DriftCleared || len(driftReport(t, evs[1])) != 0 {
		t.Fatalf("drift events after the repair: %+v", evs)
	}
	if last := f.lastEvent(obj.ID); last.EventType != client.EventTypeDrift {
		t.Fatalf("newest event %+v", last)
	}
}

// TestDriftPolicyCorrect: with brokkr.io/drift-policy correct, an edited data key is applied
// again at once and reported CORRECTED; the next check finds it matching (CLEARED). With
// ignore, nothing is checked.
func TestDriftPolicyCorrect(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stack := f.broker.CreateStack(t, "drift", f.agent.ID)
	if _, err := f.broker.Admin.Stacks().AddAnnotation(ctx, stack.ID, client.AnnotationDriftPolicy, client.DriftPolicyCorrect); err != nil {
		t.Fatal(err)
	}
	obj := f.broker.Post(t, stack.ID, f.driftStack(), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("apply %+v", res)
	}
	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"a":"changed"}}`)
	if res := f.checkDrift(); res.Drifted != 1 || res.Corrected != 1 {
		t.Fatalf("check %+v", res)
	}
	if cm, _ := f.configMap("conf"); cm == nil || cm.Data["a"] != "1" {
		t.Fatalf("not corrected: %+v", cm)
	}
	if res := f.checkDrift(); res.Drifted != 0 {
		t.Fatalf("after the correction %+v", res)
	}
	evs := f.eventsOf(obj.ID, client.EventTypeDrift)
	if len(evs) != 2 || evs[0].Status != client.DriftCorrected || evs[1].Status != client.DriftCleared {
		t.Fatalf("drift events: %+v", evs)
	}
	if got := driftReport(t, evs[0]); len(got) != 1 || got[0].Name != "conf" || fmt.Sprint(got[0].Paths) != "[data.a]" {
		t.Fatalf("corrected %+v", got)
	}

	if err := f.broker.Admin.Stacks().RemoveAnnotation(ctx, stack.ID, client.AnnotationDriftPolicy); err != nil {
		t.Fatal(err)
	}
	if _, err := f.broker.Admin.Stacks().AddAnnotation(ctx, stack.ID, client.AnnotationDriftPolicy, client.DriftPolicyIgnore); err != nil {
		t.Fatal(err)
	}
	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"a":"ignored"}}`)
	if res := f.checkDrift(); res.Checked != 0 {
		t.Fatalf("policy ignore checked %+v", res)
	}
	if cm, _ := f.configMap("conf"); cm == nil || cm.Data["a"] != "ignored" {
		t.Fatalf("policy ignore changed the ConfigMap: %+v", cm)
	}
	if evs := f.eventsOf(obj.ID, client.EventTypeDrift); len(evs) != 2 {
		t.Fatalf("policy ignore reported: %+v", evs)
	}
}

// TestAgentReportsDriftWithinOneInterval: a running agent with agent.drift_interval 1 s
// reports an edited ConfigMap key within seconds, the broker shows it as the stack's drift,
// and CLEARED follows the repair.
func TestAgentReportsDriftWithinOneInterval(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "drift-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, true)
	ns := env.Namespace(t)
	f := &fixture{t: t, env: env, broker: b, agent: a, ns: ns}
	stack := b.CreateStack(t, "web", a.ID)
	obj := b.Post(t, stack.ID, f.driftStack(), false)
	startAgent(t, b, a, cluster, env, func(c *config.AgentSettings) { c.DriftInterval = 1 })
	eventually(t, 30*time.Second, "the stack applied", func() bool {
		ev := eventFor(t, b, a.ID, obj.ID)
		return ev != nil && ev.Status == "SUCCESS"
	})

	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"b":"edited"}}`)
	edited := time.Now()
	eventually(t, 10*time.Second, "the drift at the broker", func() bool {
		d, err := b.Admin.Stacks().Drift(ctx, stack.ID)
		return err == nil && len(d) == 1 && d[0].Status == client.DriftDrifted && len(d[0].Objects) == 1 &&
			fmt.Sprint(d[0].Objects[0].Paths) == "[data.b]"
	})
	if took := time.Since(edited); took > 5*time.Second {
		t.Errorf("drift reported after %s", took)
	}

	f.patch("configmaps", "conf", "kubectl-edit", `{"data":{"b":"2"}}`)
	eventually(t, 10*time.Second, "the drift cleared", func() bool {
		d, err := b.Admin.Stacks().Drift(ctx, stack.ID)
		return err == nil && len(d) == 0
	})
	evs := f.eventsOf(obj.ID, client.EventTypeDrift)
	if len(evs) != 2 || evs[0].Status != client.DriftDrifted || evs[1].Status != client.DriftCleared {
		t.Fatalf("drift events: %+v", evs)
	}
}
