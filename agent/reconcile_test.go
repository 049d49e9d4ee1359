package agent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/db/dbtest"
	"github.com/brokkr/brokkr/server/servertest"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestMain(m *testing.M) { os.Exit(kubetest.RunWith(m, dbtest.Run)) }

var fastBackoff = kube.Backoff{Initial: 10 * time.Millisecond, Multiplier: 2, Max: 100 * time.Millisecond, MaxElapsed: 3 * time.Second}

// fixture is a broker, an agent registered with it and a reconciler for the agent whose
// Kubernetes requests are counted.
type fixture struct {
	t      *testing.T
	env    *kubetest.Env
	broker *servertest.Broker
	agent  servertest.Agent
	rc     *kubetest.RequestCounter
	rec    *agent.Reconciler
	ns     string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	env := kubetest.Get(t)
	b := servertest.Start(t)
	a := b.CreateAgent(t, "edge", "cluster-"+uuid.NewString()[:8], true)
	f := &fixture{t: t, env: env, broker: b, agent: a, rc: &kubetest.RequestCounter{}, ns: env.Namespace(t)}
	f.rec = f.reconciler()
	return f
}

// reconciler returns a new reconciler for the fixture's agent: what a restarted agent has.
func (f *fixture) reconciler() *agent.Reconciler {
	c, err := kube.New(f.rc.Wrap(f.env.Config))
	if err != nil {
		f.t.Fatal(err)
	}
	return &agent.Reconciler{Cluster: c, Client: f.agent.Client, AgentID: f.agent.ID,
		Apply: kube.ApplyOptions{FieldManager: "brokkr-controller", Validate: true, RollbackNamespaces: true, Backoff: fastBackoff}}
}

func (f *fixture) reconcile() agent.Result {
	f.t.Helper()
	res, err := f.rec.Reconcile(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return res
}

func (f *fixture) configMap(name string) (*corev1.ConfigMap, bool) {
	f.t.Helper()
	cm, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		f.t.Fatal(err)
	}
	return cm, true
}

func (f *fixture) wantConfigMaps(present []string, absent []string) {
	f.t.Helper()
	for _, n := range present {
		if _, ok := f.configMap(n); !ok {
			f.t.Errorf("ConfigMap %s is missing", n)
		}
	}
	for _, n := range absent {
		if _, ok := f.configMap(n); ok {
			f.t.Errorf("ConfigMap %s is still there", n)
		}
	}
}

func (f *fixture) cms(data map[string]string) string {
	var b strings.Builder
	for name, v := range data {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {v: %q}\n", name, f.ns, v)
	}
	return b.String()
}

// lastEvent returns the newest event of the deployment object.
func (f *fixture) lastEvent(objectID uuid.UUID) client.AgentEvent {
	f.t.Helper()
	var found *client.AgentEvent
	for _, ev := range f.broker.Events(f.t, f.agent.ID) {
		if ev.DeploymentObjectID == objectID && (found == nil || ev.CreatedAt.After(found.CreatedAt)) {
			e := ev
			found = &e
		}
	}
	if found == nil {
		f.t.Fatalf("no event for deployment object %s", objectID)
	}
	return *found
}

func TestReconcileLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stack := f.broker.CreateStack(t, "shop", f.agent.ID)
	other := f.broker.CreateStack(t, "other", f.agent.ID)
	v1 := f.broker.Post(t, stack.ID, f.cms(map[string]string{"a": "1", "b": "1"}), false)
	keep := f.broker.Post(t, other.ID, f.cms(map[string]string{"keep": "1"}), false)

	// Objects the agent must never touch: another agent's object of the same stack, an
	// unannotated one, and one of ours that another object owns.
	foreign := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"foreign","namespace":%q,"annotations":{%q:%q,%q:%q}}}`,
		f.ns, kube.AnnotationStack, stack.ID, kube.AnnotationOwner, uuid.NewString())
	if _, err := f.env.Kube.CoreV1().RESTClient().Post().Namespace(f.ns).Resource("configmaps").Body([]byte(foreign)).DoRaw(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	res := f.reconcile()
	if res.Applied != 2 || res.Failed != 0 {
		t.Fatalf("first pass %+v", res)
	}
	f.wantConfigMaps([]string{"a", "b", "keep"}, nil)
	a, _ := f.configMap("a")
	for k, want := range map[string]string{
		kube.AnnotationStack: stack.ID.String(), kube.AnnotationChecksum: v1.YAMLChecksum,
		kube.AnnotationDeploymentObject: v1.ID.String(), kube.AnnotationLastApplied: v1.YAMLChecksum,
		kube.AnnotationOwner: f.agent.ID.String(),
	} {
		if a.Annotations[k] != want {
			t.Errorf("annotation %s = %q, want %q", k, a.Annotations[k], want)
		}
	}
	if ev := f.lastEvent(v1.ID); ev.Status != agent.EventSuccess || ev.EventType != agent.EventDeploy {
		t.Fatalf("event %+v", ev)
	}

	t.Run("unchanged re-poll makes no Kubernetes request", func(t *testing.T) {
		f.rc.Reset()
		res := f.reconcile()
		if res.Unchanged != 2 || res.Applied != 0 {
			t.Fatalf("result %+v", res)
		}
		if f.rc.Writes() != 0 || len(f.rc.Requests()) != 0 {
			t.Fatalf("%d writes, requests %v", f.rc.Writes(), f.rc.Requests())
		}
	})

	t.Run("restarted agent reads its inventory and writes nothing", func(t *testing.T) {
		f.rec = f.reconciler()
		f.rc.Reset()
		res := f.reconcile()
		if res.Unchanged != 2 || res.Applied != 0 || f.rc.Writes() != 0 {
			t.Fatalf("result %+v, %d writes: %v", res, f.rc.Writes(), f.rc.Requests())
		}
	})

	// Make "plain2" ours but owned by another object: never pruned.
	owned := fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"dependent","namespace":%q,"annotations":{%q:%q,%q:%q},"ownerReferences":[{"apiVersion":"v1","kind":"ConfigMap","name":"plain","uid":%q}]}}`,
		f.ns, kube.AnnotationStack, stack.ID, kube.AnnotationOwner, f.agent.ID, mustUID(t, f, "plain"))
	if _, err := f.env.Kube.CoreV1().RESTClient().Post().Namespace(f.ns).Resource("configmaps").Body([]byte(owned)).DoRaw(ctx); err != nil {
		t.Fatal(err)
	}
	f.rec.Resync()

	t.Run("update prunes the objects of the old checksum", func(t *testing.T) {
		v2 := f.broker.Post(t, stack.ID, f.cms(map[string]string{"b": "2", "c": "2"}), false)
		res := f.reconcile()
		if res.Applied != 1 || res.Unchanged != 1 || res.Pruned != 1 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps([]string{"b", "c", "keep", "foreign", "plain", "dependent"}, []string{"a"})
		b, _ := f.configMap("b")
		if b.Data["v"] != "2" || b.Annotations[kube.AnnotationChecksum] != v2.YAMLChecksum {
			t.Fatalf("b = %v %v", b.Data, b.Annotations)
		}
		if ev := f.lastEvent(v2.ID); ev.Status != agent.EventSuccess || ev.Message == nil || !strings.Contains(*ev.Message, "pruned 1") {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("deletion marker prunes the stack", func(t *testing.T) {
		marker := f.broker.Post(t, stack.ID, "", true)
		res := f.reconcile()
		if res.Pruned != 2 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps([]string{"keep", "foreign", "plain", "dependent"}, []string{"b", "c"})
		if ev := f.lastEvent(marker.ID); ev.Status != agent.EventSuccess {
			t.Fatalf("event %+v", ev)
		}
		f.rc.Reset()
		if res := f.reconcile(); res.Unchanged != 2 || f.rc.Writes() != 0 {
			t.Fatalf("after the marker: %+v, %d writes", res, f.rc.Writes())
		}
	})

	t.Run("untargeted stack is pruned, others kept", func(t *testing.T) {
		third := f.broker.CreateStack(t, "third", f.agent.ID)
		f.broker.Post(t, third.ID, f.cms(map[string]string{"t1": "1"}), false)
		f.reconcile()
		f.wantConfigMaps([]string{"t1", "keep"}, nil)
		if err := f.broker.Admin.Agents().RemoveTarget(ctx, f.agent.ID, third.ID); err != nil {
			t.Fatal(err)
		}
		res := f.reconcile()
		if res.Pruned != 1 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps([]string{"keep", "foreign", "plain", "dependent"}, []string{"t1"})
		_ = keep
	})

	t.Run("deleted stack is pruned", func(t *testing.T) {
		if err := f.broker.Admin.Stacks().Delete(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
		f.reconcile()
		f.wantConfigMaps([]string{"foreign", "plain", "dependent"}, []string{"keep"})
	})
}

func mustUID(t *testing.T, f *fixture, name string) string {
	cm, ok := f.configMap(name)
	if !ok {
		t.Fatalf("no ConfigMap %s", name)
	}
	return string(cm.UID)
}

func TestReconcileReportsFailures(t *testing.T) {
	f := newFixture(t)
	stack := f.broker.CreateStack(t, "bad", f.agent.ID)

	t.Run("rejected by the apiserver: nothing applied, FAILURE with its message", func(t *testing.T) {
		bad := f.broker.Post(t, stack.ID, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: fine, namespace: %[1]s}
---
apiVersion: v1
kind: Service
metadata: {name: broken, namespace: %[1]s}
spec:
  ports: [{port: 99999}]
`, f.ns), false)
		res := f.reconcile()
		if res.Failed != 1 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps(nil, []string{"fine"})
		ev := f.lastEvent(bad.ID)
		if ev.Status != agent.EventFailure || ev.Message == nil || !strings.Contains(*ev.Message, "99999") || !strings.Contains(*ev.Message, "Service "+f.ns+"/broken") {
			t.Fatalf("event %+v", ev)
		}
		// The failure is not retried at once, and not reported twice.
		f.rc.Reset()
		if res := f.reconcile(); res.Skipped != 1 || f.rc.Writes() != 0 {
			t.Fatalf("second pass %+v, %d writes", res, f.rc.Writes())
		}
		n := 0
		for _, ev := range f.broker.Events(t, f.agent.ID) {
			if ev.DeploymentObjectID == bad.ID {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d events for the failed object", n)
		}
	})

	t.Run("manifest without a kind", func(t *testing.T) {
		// The broker refuses such a manifest at intake; one stored by a broker that does not
		// check (the reference's, or ours before it did) must still fail cleanly on the agent.
		bad := f.broker.StoreUnchecked(t, stack.ID, "apiVersion: v1\nmetadata: {name: nokind}\n")
		if res := f.reconcile(); res.Failed != 1 {
			t.Fatalf("result %+v", res)
		}
		if ev := f.lastEvent(bad.ID); ev.Status != agent.EventFailure || !strings.Contains(*ev.Message, "invalid manifest: document 1: kind is required") {
			t.Fatalf("event %+v", ev)
		}
	})

	t.Run("a fixed version applies", func(t *testing.T) {
		good := f.broker.Post(t, stack.ID, f.cms(map[string]string{"fine": "1"}), false)
		if res := f.reconcile(); res.Applied != 1 {
			t.Fatalf("result %+v", res)
		}
		f.wantConfigMaps([]string{"fine"}, nil)
		if ev := f.lastEvent(good.ID); ev.Status != agent.EventSuccess {
			t.Fatalf("event %+v", ev)
		}
	})
}

func TestReconcileKeepsClusterWhenBrokerFails(t *testing.T) {
	f := newFixture(t)
	stack := f.broker.CreateStack(t, "s", f.agent.ID)
	f.broker.Post(t, stack.ID, f.cms(map[string]string{"x": "1"}), false)
	f.reconcile()
	dead, err := client.New("http://127.0.0.1:1", client.WithPAK(f.agent.PAK), client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	f.rec.Client = dead
	f.rc.Reset()
	if _, err := f.rec.Reconcile(context.Background()); err == nil {
		t.Fatal("reconcile without a broker succeeded")
	}
	if f.rc.Writes() != 0 {
		t.Fatalf("%d writes without a broker", f.rc.Writes())
	}
	f.wantConfigMaps([]string{"x"}, nil)
}
