package agent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/server/servertest"
)

// widgetCRD is a CustomResourceDefinition of the namespaced kind Widget in group.
func widgetCRD(group string) string {
	return fmt.Sprintf(`apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`, group)
}

// stackBeside creates a stack of the same generator as other, targeted at the agent.
func (f *fixture) stackBeside(other client.Stack, name string) client.Stack {
	f.t.Helper()
	ctx := context.Background()
	st, err := f.broker.Admin.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: other.GeneratorID})
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.broker.Admin.Agents().AddTarget(ctx, f.agent.ID, st.ID); err != nil {
		f.t.Fatal(err)
	}
	return st
}

// TestStackWaitsForTheStacksItDependsOn: the custom resources of a CRD posted before their
// CRD wait (one DEPENDENCY WAITING event, not a FAILURE) and are applied in the pass that
// applies the CRD stack, after it.
func TestStackWaitsForTheStacksItDependsOn(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rec.Health = (&workload.Inspector{Kube: f.rec.Cluster.Kube, Dynamic: f.rec.Cluster.Dynamic, Mapper: f.rec.Cluster.Mapper}).Health
	group := kubetest.UniqueName("dep") + ".example.com"
	crds := f.broker.CreateStack(t, "crds", f.agent.ID)
	widgets := f.stackBeside(crds, "widgets")
	if _, err := f.broker.Admin.Stacks().AddAnnotation(ctx, widgets.ID, client.AnnotationDependsOn, "crds"); err != nil {
		t.Fatal(err)
	}
	crs := f.broker.Post(t, widgets.ID, fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\nspec: {size: 3}\n", group, f.ns), false)
	if res := f.reconcile(); res.Waiting != 1 || res.Failed != 0 {
		t.Fatalf("before the CRD stack: %+v", res)
	}
	f.reconcile() // the same wait is not reported again
	evs := f.eventsOf(crs.ID, client.EventTypeDependency)
	if len(evs) != 1 || evs[0].Status != client.DependencyWaiting {
		t.Fatalf("dependency events: %+v", evs)
	}
	var rep client.DependencyReport
	if err := json.Unmarshal([]byte(*evs[0].Message), &rep); err != nil {
		t.Fatal(err)
	}
	want := []client.DependencyWait{{StackID: crds.ID, StackName: "crds", Reason: "latest object not applied"}}
	if fmt.Sprint(rep.WaitingFor) != fmt.Sprint(want) {
		t.Fatalf("waiting for %+v, want %+v", rep.WaitingFor, want)
	}

	crd := f.broker.Post(t, crds.ID, widgetCRD(group), false)
	if res := f.reconcile(); res.Applied != 2 || res.Waiting != 0 || res.Failed != 0 {
		t.Fatalf("with the CRD stack: %+v", res)
	}
	if ev := f.eventsOf(crs.ID, client.EventTypeDeploy); len(ev) != 1 || ev[0].Status != "SUCCESS" {
		t.Fatalf("custom resources: %+v", ev)
	}
	if ev := f.eventsOf(crd.ID, client.EventTypeDeploy); len(ev) != 1 || ev[0].Status != "SUCCESS" {
		t.Fatalf("CRD: %+v", ev)
	}
	if _, err := f.env.Kube.CoreV1().RESTClient().Get().AbsPath("/apis", group, "v1", "namespaces", f.ns, "widgets", "w1").DoRaw(ctx); err != nil {
		t.Fatalf("the custom resource: %v", err)
	}
}

// TestStackWaitsForHealthyDependencies: a stack depending on a Deployment whose pods cannot
// be scheduled waits, naming the health, and is applied once a new version of the
// dependency is healthy.
func TestStackWaitsForHealthyDependencies(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	f.rec.Health = (&workload.Inspector{Kube: f.rec.Cluster.Kube, Dynamic: f.rec.Cluster.Dynamic, Mapper: f.rec.Cluster.Mapper}).Health
	db := f.broker.CreateStack(t, "db", f.agent.ID)
	app := f.stackBeside(db, "app")
	if _, err := f.broker.Admin.Stacks().AddAnnotation(ctx, app.ID, client.AnnotationDependsOn, db.ID.String()); err != nil {
		t.Fatal(err)
	}
	deployment := func(selector string) string {
		return fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: db, namespace: %s}
spec:
  replicas: 1
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      nodeSelector: {%s}
      containers: [{name: db, image: "postgres:17"}]
`, f.ns, selector)
	}
	f.broker.Post(t, db.ID, deployment("nowhere: \"true\""), false)
	appObj := f.broker.Post(t, app.ID, f.cms(map[string]string{"app": "1"}), false)
	if res := f.reconcile(); res.Applied != 1 || res.Waiting != 1 {
		t.Fatalf("first pass %+v", res)
	}
	evs := f.eventsOf(appObj.ID, client.EventTypeDependency)
	if len(evs) != 1 {
		t.Fatalf("dependency events: %+v", evs)
	}
	var rep client.DependencyReport
	if err := json.Unmarshal([]byte(*evs[0].Message), &rep); err != nil || len(rep.WaitingFor) != 1 {
		t.Fatalf("report %v %v", evs[0].Message, err)
	}
	if w := rep.WaitingFor[0]; w.StackID != db.ID || w.StackName != "db" || !strings.HasPrefix(w.Reason, "not healthy: ") {
		t.Fatalf("waiting for %+v", w)
	}
	if _, ok := f.configMap("app"); ok {
		t.Fatal("the dependent stack was applied")
	}

	f.broker.Post(t, db.ID, deployment(""), false)
	eventually(t, time.Minute, "the dependent stack applied", func() bool {
		f.reconcile()
		_, ok := f.configMap("app")
		return ok
	})
	if ev := f.eventsOf(appObj.ID, client.EventTypeDeploy); len(ev) != 1 || ev[0].Status != "SUCCESS" {
		t.Fatalf("dependent stack: %+v", ev)
	}
}

// TestAgentAppliesAStackAfterItsDependency: a running agent (deployment health on) keeps a
// stack of custom resources waiting until their CRD's stack is posted, then applies both;
// the broker lists the agent as waiting meanwhile.
func TestAgentAppliesAStackAfterItsDependency(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "deps-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, true)
	f := &fixture{t: t, env: env, broker: b, agent: a, ns: env.Namespace(t)}
	group := kubetest.UniqueName("dep") + ".example.com"
	crds := b.CreateStack(t, "crds", a.ID)
	widgets := f.stackBeside(crds, "widgets")
	if _, err := b.Admin.Stacks().AddAnnotation(ctx, widgets.ID, client.AnnotationDependsOn, crds.ID.String()); err != nil {
		t.Fatal(err)
	}
	crs := b.Post(t, widgets.ID, fmt.Sprintf("apiVersion: %s/v1\nkind: Widget\nmetadata: {name: w1, namespace: %s}\n", group, f.ns), false)
	startAgent(t, b, a, cluster, env, nil)
	eventually(t, 30*time.Second, "the stack waiting at the broker", func() bool {
		d, err := b.Admin.Stacks().Dependencies(ctx, widgets.ID)
		return err == nil && len(d.Waiting) == 1 && d.Waiting[0].AgentID == a.ID
	})
	b.Post(t, crds.ID, widgetCRD(group), false)
	eventually(t, 30*time.Second, "the custom resources applied", func() bool {
		ev := eventFor(t, b, a.ID, crs.ID)
		return ev != nil && ev.EventType == client.EventTypeDeploy && ev.Status == "SUCCESS"
	})
	if evs := f.eventsOf(crs.ID, client.EventTypeDeploy); len(evs) != 1 {
		t.Fatalf("deploy events of the custom resources: %+v", evs)
	}
}
