package workorders_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/agent/workorders"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestMain(m *testing.M) { os.Exit(kubetest.RunWith(m, dbtest.Run)) }

const pollInterval = 100 * time.Millisecond

// fixture is a control plane, a broker, one agent registered with it and the agent's runner.
type fixture struct {
	env    *kubetest.Env
	broker *servertest.Broker
	agent  servertest.Agent
	runner *workorders.Runner
	ns     string
}

func setup(t *testing.T) *fixture {
	t.Helper()
	env := kubetest.Get(t)
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge-"+uuid.NewString()[:8], "cluster-1", true)
	return &fixture{env: env, broker: b, agent: a, runner: newRunner(t, env, a), ns: env.Namespace(t)}
}

// doneCounter records the runner's metric calls.
type doneCounter struct {
	mu    sync.Mutex
	calls []string
}

func (d *doneCounter) WorkOrderDone(workType string, success bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(d.calls, fmt.Sprintf("%s/%t", workType, success))
}

func (d *doneCounter) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.calls...)
}

func newRunner(t *testing.T, env *kubetest.Env, a servertest.Agent) *workorders.Runner {
	t.Helper()
	cluster, err := kube.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &workorders.Runner{
		Cluster:      cluster,
		Client:       a.Client,
		AgentID:      a.ID,
		Log:          slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})),
		PollInterval: pollInterval,
		Metrics:      &doneCounter{},
	}
}

// order creates a work order for the fixture's agent.
func (f *fixture) order(t *testing.T, workType, yaml string, claimTimeout int32) client.WorkOrder {
	t.Helper()
	req := client.CreateWorkOrderRequest{
		WorkType: workType, YAMLContent: yaml,
		Targeting: &client.WorkOrderTargeting{AgentIDs: []uuid.UUID{f.agent.ID}},
	}
	if claimTimeout > 0 {
		req.ClaimTimeoutSeconds = &claimTimeout
	}
	wo, err := f.broker.Admin.WorkOrders().Create(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return wo
}

// runOnce runs the fixture's runner in the background; the channel yields its result.
func (f *fixture) runOnce(t *testing.T) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		ran, err := f.runner.RunOnce(context.Background())
		if err == nil && !ran {
			err = fmt.Errorf("RunOnce ran no work order")
		}
		done <- err
	}()
	return done
}

// wait waits for a runOnce result.
func wait(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("RunOnce: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("RunOnce did not return within 60 s")
	}
}

// finished returns the log entry of an order that left the queue.
func (f *fixture) finished(t *testing.T, id uuid.UUID) client.WorkOrderLog {
	t.Helper()
	l, err := f.broker.Admin.WorkOrders().LogEntry(context.Background(), id)
	if err != nil {
		wo, gerr := f.broker.Admin.WorkOrders().Get(context.Background(), id)
		t.Fatalf("work order %s is not in the log: %v (order: %+v, %v)", id, err, wo, gerr)
	}
	got, err := f.broker.Admin.WorkOrders().Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	want := client.WorkOrderFailed
	if l.Success {
		want = client.WorkOrderCompleted
	}
	if got.Status != want {
		t.Fatalf("GET work order status %s, want %s", got.Status, want)
	}
	if l.ClaimedBy == nil || *l.ClaimedBy != f.agent.ID {
		t.Fatalf("claimed_by %v, want %s", l.ClaimedBy, f.agent.ID)
	}
	return l
}

func message(l client.WorkOrderLog) string {
	if l.ResultMessage == nil {
		return "<nil>"
	}
	return *l.ResultMessage
}

// eventually polls cond every 50 ms for up to 30 s.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s (last error %v)", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Minimal Shipwright definitions: the kinds with a status subresource and schemas that
// keep any field.
const shipwrightCRDs = `
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: builds.shipwright.io
spec:
  group: shipwright.io
  scope: Namespaced
  names: {plural: builds, singular: build, kind: Build, listKind: BuildList}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: buildruns.shipwright.io
spec:
  group: shipwright.io
  scope: Namespaced
  names: {plural: buildruns, singular: buildrun, kind: BuildRun, listKind: BuildRunList}
  versions:
  - name: v1beta1
    served: true
    storage: true
    subresources: {status: {}}
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
`

var (
	crdMu        sync.Mutex
	crdInstalled bool
	crdGVR       = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	crdNames     = []string{"builds.shipwright.io", "buildruns.shipwright.io"}
)

// installShipwright installs the Shipwright definitions once; they stay for the package's
// later tests.
func installShipwright(t *testing.T, env *kubetest.Env) {
	t.Helper()
	crdMu.Lock()
	defer crdMu.Unlock()
	if crdInstalled {
		return
	}
	objs, err := kube.Parse(shipwrightCRDs)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := kube.New(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	if err := cluster.Apply(context.Background(), objs, kube.ApplyOptions{FieldManager: "workorders-test"}); err != nil {
		t.Fatalf("install Shipwright CRDs: %v", err)
	}
	crdInstalled = true
}

// removeShipwright makes sure the Shipwright definitions are absent (they are when this
// package's tests run in their file order).
func removeShipwright(t *testing.T, env *kubetest.Env) {
	t.Helper()
	crdMu.Lock()
	defer crdMu.Unlock()
	ctx := context.Background()
	for _, n := range crdNames {
		err := env.Dynamic.Resource(crdGVR).Delete(ctx, n, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
	}
	for _, n := range crdNames {
		eventually(t, "CRD "+n+" gone", func() (bool, error) {
			_, err := env.Dynamic.Resource(crdGVR).Get(ctx, n, metav1.GetOptions{})
			return apierrors.IsNotFound(err), err
		})
	}
	eventually(t, "shipwright.io/v1beta1 gone from discovery", func() (bool, error) {
		_, err := env.Kube.Discovery().ServerResourcesForGroupVersion("shipwright.io/v1beta1")
		return apierrors.IsNotFound(err), err
	})
	crdInstalled = false
}
