package agent_test

// The agent must never damage a cluster. These tests run on the living test cluster, where a
// deleted namespace really takes its contents with it, deleting a CRD deletes its custom
// resources, and Deployments really get pods: damage done here shows.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// namespaceWatch records whether a namespace was ever marked for deletion.
type namespaceWatch struct {
	mu          sync.Mutex
	terminating bool
	stop        func()
}

func watchNamespace(t *testing.T, env *kubetest.Env, name string) *namespaceWatch {
	t.Helper()
	w, err := env.Kube.CoreV1().Namespaces().Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	nw := &namespaceWatch{stop: w.Stop}
	go func() {
		for ev := range w.ResultChan() {
			ns, ok := ev.Object.(*corev1.Namespace)
			if !ok {
				continue
			}
			if ev.Type == watch.Deleted || ns.DeletionTimestamp != nil {
				nw.mu.Lock()
				nw.terminating = true
				nw.mu.Unlock()
			}
		}
	}()
	t.Cleanup(w.Stop)
	return nw
}

func (w *namespaceWatch) everTerminating() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.terminating
}

func (f *fixture) uid(gvr schema.GroupVersionResource, ns, name string) types.UID {
	f.t.Helper()
	o, err := f.env.Dynamic.Resource(gvr).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatalf("%s %s/%s: %v", gvr.Resource, ns, name, err)
	}
	return o.GetUID()
}

var (
	nsGVR  = schema.GroupVersionResource{Version: "v1", Resource: "namespaces"}
	cmGVR  = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	depGVR = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// appStack is the most common shape of a stack: its own Namespace, a Deployment and
// ConfigMaps.
func appStack(ns, version string, configMaps ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
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
      terminationGracePeriodSeconds: 0
      containers: [{name: web, image: "nginx:1.27", env: [{name: VERSION, value: %[2]q}]}]
`, ns, version)
	for _, cm := range configMaps {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: %s, namespace: %s}\ndata: {version: %q}\n", cm, ns, version)
	}
	return b.String()
}

// runningPods counts the Running pods with the label app=name in ns.
func runningPods(t *testing.T, env *kubetest.Env, ns, app string) int {
	t.Helper()
	pods, err := env.Kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range pods.Items {
		if p.Status.Phase == corev1.PodRunning && p.DeletionTimestamp == nil {
			n++
		}
	}
	return n
}

func TestStackWithItsOwnNamespaceSurvives(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ns := kubetest.UniqueName("app")
	nsw := watchNamespace(t, f.env, ns)
	stack := f.broker.CreateStack(t, "app", f.agent.ID)

	v1 := f.broker.Post(t, stack.ID, appStack(ns, "1", "config", "dropped"), false)
	if res := f.reconcile(); res.Applied != 1 || res.Failed != 0 {
		t.Fatalf("first pass %+v: %+v", res, f.lastEvent(v1.ID))
	}
	if ev := f.lastEvent(v1.ID); ev.Status != agent.EventSuccess {
		t.Fatalf("event %+v", ev)
	}
	nsUID, depUID, cmUID := f.uid(nsGVR, "", ns), f.uid(depGVR, ns, "web"), f.uid(cmGVR, ns, "config")
	for range 3 {
		if res := f.reconcile(); res.Unchanged != 1 {
			t.Fatalf("re-poll %+v", res)
		}
		time.Sleep(500 * time.Millisecond)
	}
	eventually(t, time.Minute, "the Deployment's pods to run", func() bool { return runningPods(t, f.env, ns, "web") == 2 })

	v2 := f.broker.Post(t, stack.ID, appStack(ns, "2", "config"), false)
	if res := f.reconcile(); res.Applied != 1 || res.Pruned != 1 {
		t.Fatalf("second version %+v: %+v", res, f.lastEvent(v2.ID))
	}
	if ev := f.lastEvent(v2.ID); ev.Status != agent.EventSuccess {
		t.Fatalf("event %+v", ev)
	}
	if got := f.uid(nsGVR, "", ns); got != nsUID {
		t.Errorf("namespace UID %s, was %s", got, nsUID)
	}
	if got := f.uid(depGVR, ns, "web"); got != depUID {
		t.Errorf("Deployment UID %s, was %s", got, depUID)
	}
	if got := f.uid(cmGVR, ns, "config"); got != cmUID {
		t.Errorf("ConfigMap UID %s, was %s", got, cmUID)
	}
	if _, err := f.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "dropped", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the ConfigMap dropped from the second version: %v", err)
	}
	// The new version rolls out: its pods run, with the namespace intact all along.
	eventually(t, time.Minute, "the second version's pods to run", func() bool {
		d, err := f.env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.UpdatedReplicas == 2 && d.Status.AvailableReplicas == 2 && runningPods(t, f.env, ns, "web") >= 2
	})
	time.Sleep(2 * time.Second) // a deletion would have shown by now
	if nsw.everTerminating() {
		t.Fatal("the stack's namespace was marked for deletion")
	}
	live, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || live.DeletionTimestamp != nil || live.Status.Phase != corev1.NamespaceActive {
		t.Fatalf("namespace %+v: %v", live, err)
	}
}

func TestDeletionMarkerRemovesTheStacksNamespace(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ns := kubetest.UniqueName("gone")
	stack := f.broker.CreateStack(t, "gone", f.agent.ID)
	f.broker.Post(t, stack.ID, appStack(ns, "1", "config"), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("apply %+v", res)
	}
	eventually(t, time.Minute, "the pods to run", func() bool { return runningPods(t, f.env, ns, "web") == 2 })

	marker := f.broker.Post(t, stack.ID, "", true)
	if res := f.reconcile(); res.Applied != 1 || res.Pruned != 3 {
		t.Fatalf("marker %+v: %+v", res, f.lastEvent(marker.ID))
	}
	if ev := f.lastEvent(marker.ID); ev.Status != agent.EventSuccess {
		t.Fatalf("event %+v", ev)
	}
	// The namespace controller deletes the rest and then the namespace (at least 5 s).
	eventually(t, 90*time.Second, "the namespace to be gone", func() bool {
		_, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return apierrors.IsNotFound(err)
	})
	pods, err := f.env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil || len(pods.Items) != 0 {
		t.Fatalf("pods left: %v %v", pods, err)
	}
}

func TestNamespaceHoldingOthersObjectsIsKept(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ns := kubetest.UniqueName("shared")
	stack := f.broker.CreateStack(t, "shared", f.agent.ID)
	f.broker.Post(t, stack.ID, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: ours, namespace: %[1]s}\n", ns), false)
	f.reconcile()
	// Someone else puts an object of theirs into the stack's namespace.
	theirs, err := f.env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "theirs"}, Data: map[string]string{"k": "v"}},
		metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		t.Fatal(err)
	}
	marker := f.broker.Post(t, stack.ID, "", true)
	if res := f.reconcile(); res.Pruned != 1 {
		t.Fatalf("marker %+v", res)
	}
	ev := f.lastEvent(marker.ID)
	if ev.Status != agent.EventSuccess || ev.Message == nil || !strings.Contains(*ev.Message, "Namespace "+ns+" kept") || !strings.Contains(*ev.Message, "ConfigMap "+ns+"/theirs") {
		t.Fatalf("event %+v", ev)
	}
	live, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err != nil || live.DeletionTimestamp != nil {
		t.Fatalf("namespace: %+v %v", live, err)
	}
	// Kept, brokkr lets go of it: it carries no ownership any more.
	if _, ok := live.Annotations[kube.AnnotationOwner]; ok {
		t.Fatalf("the kept namespace still carries the agent's ownership: %v", live.Annotations)
	}
	got, err := f.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "theirs", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != theirs.ResourceVersion {
		t.Fatalf("their ConfigMap changed: %+v %v", got, err)
	}
	if _, err := f.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "ours", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the stack's ConfigMap: %v", err)
	}
}

func TestExistingObjectIsNotTakenOver(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// Made by hand, as `kubectl create configmap` would.
	byHand, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "by-hand", Annotations: map[string]string{"team": "payments"}},
		Data:       map[string]string{"owner": "payments"},
	}, metav1.CreateOptions{FieldManager: "kubectl-create"})
	if err != nil {
		t.Fatal(err)
	}
	stack := f.broker.CreateStack(t, "claims", f.agent.ID)
	manifest := func(adopt bool) string {
		ann := ""
		if adopt {
			ann = fmt.Sprintf(", annotations: {%q: \"true\"}", kube.AnnotationAdopt)
		}
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: by-hand, namespace: %[1]s%[2]s}\ndata: {owner: brokkr}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: beside, namespace: %[1]s}\n", f.ns, ann)
	}

	claim := f.broker.Post(t, stack.ID, manifest(false), false)
	if res := f.reconcile(); res.Failed != 1 {
		t.Fatalf("result %+v", res)
	}
	ev := f.lastEvent(claim.ID)
	if ev.Status != agent.EventFailure || ev.Message == nil ||
		!strings.Contains(*ev.Message, "ConfigMap "+f.ns+"/by-hand exists and is not managed by brokkr") ||
		!strings.Contains(*ev.Message, "kubectl-create") || !strings.Contains(*ev.Message, kube.AnnotationAdopt) {
		t.Fatalf("event %+v", ev)
	}
	got, err := f.env.Kube.CoreV1().ConfigMaps(f.ns).Get(ctx, "by-hand", metav1.GetOptions{})
	if err != nil || got.ResourceVersion != byHand.ResourceVersion || got.Data["owner"] != "payments" || len(got.Annotations) != 1 {
		t.Fatalf("the ConfigMap made by hand changed: %+v %v", got, err)
	}
	f.wantConfigMaps(nil, []string{"beside"}) // nothing of the deployment object is written

	adopt := f.broker.Post(t, stack.ID, manifest(true), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("adopting %+v: %+v", res, f.lastEvent(adopt.ID))
	}
	got, _ = f.configMap("by-hand")
	if got.UID != byHand.UID || got.Data["owner"] != "brokkr" || got.Annotations[kube.AnnotationStack] != stack.ID.String() || got.Annotations[kube.AnnotationOwner] != f.agent.ID.String() {
		t.Fatalf("not adopted: %+v", got)
	}
	// Adopted, it belongs to the stack: a later version without the annotation keeps it, and
	// the deletion marker removes it.
	f.broker.Post(t, stack.ID, manifest(false), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("after adoption %+v", res)
	}
	f.broker.Post(t, stack.ID, "", true)
	f.reconcile()
	f.wantConfigMaps(nil, []string{"by-hand", "beside"})
}

func TestTwoStacksNamingOneObject(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	first := f.broker.CreateStack(t, "first", f.agent.ID)
	second := f.broker.CreateStack(t, "second", f.agent.ID)
	cm := func(value string, adopt bool) string {
		ann := ""
		if adopt {
			ann = fmt.Sprintf(", annotations: {%q: \"true\"}", kube.AnnotationAdopt)
		}
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: %s%s}\ndata: {v: %q}\n", f.ns, ann, value)
	}
	f.broker.Post(t, first.ID, cm("first", false), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("first %+v", res)
	}
	before, _ := f.configMap("shared")

	for _, adopt := range []bool{false, true} {
		obj := f.broker.Post(t, second.ID, cm("second", adopt), false)
		if res := f.reconcile(); res.Failed != 1 {
			t.Fatalf("second stack (adopt %v) %+v", adopt, res)
		}
		ev := f.lastEvent(obj.ID)
		if ev.Status != agent.EventFailure || ev.Message == nil || !strings.Contains(*ev.Message, "belongs to stack "+first.ID.String()) {
			t.Fatalf("event %+v", ev)
		}
		if got, _ := f.configMap("shared"); got.ResourceVersion != before.ResourceVersion {
			t.Fatalf("the first stack's object changed: %+v", got)
		}
	}

	if err := f.broker.Admin.Stacks().Delete(ctx, second.ID); err != nil {
		t.Fatal(err)
	}
	f.reconcile()
	got, ok := f.configMap("shared")
	if !ok || got.ResourceVersion != before.ResourceVersion || got.Annotations[kube.AnnotationStack] != first.ID.String() {
		t.Fatalf("after the second stack's deletion: %+v", got)
	}
}

func TestCRDWithOthersCustomResourcesIsNeverDeleted(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	group := kubetest.UniqueName("crd") + ".example.com"
	crd := widgetCRD(group)
	ours := fmt.Sprintf("---\napiVersion: %s/v1\nkind: Widget\nmetadata: {name: ours, namespace: %s}\n", group, f.ns)
	stack := f.broker.CreateStack(t, "widgets", f.agent.ID)
	f.broker.Post(t, stack.ID, crd+ours, false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("apply %+v", res)
	}
	crdUID := f.uid(crdGVR, "", "widgets."+group)
	widgets := schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}
	theirs := fmt.Sprintf(`{"apiVersion":"%s/v1","kind":"Widget","metadata":{"name":"theirs","namespace":%q}}`, group, f.ns)
	if _, err := f.env.Kube.CoreV1().RESTClient().Post().AbsPath("/apis", group, "v1", "namespaces", f.ns, "widgets").Body([]byte(theirs)).DoRaw(ctx); err != nil {
		t.Fatal(err)
	}

	// An update that keeps the CRD keeps it, of course.
	f.broker.Post(t, stack.ID, strings.Replace(crd, "singular: widget", "singular: widget, shortNames: [wdg]", 1)+ours, false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("update %+v", res)
	}
	// An update that drops it must not delete it while others' widgets exist.
	v3 := f.broker.Post(t, stack.ID, f.cms(map[string]string{"after": "1"}), false)
	if res := f.reconcile(); res.Applied != 1 {
		t.Fatalf("update without the CRD %+v", res)
	}
	if ev := f.lastEvent(v3.ID); ev.Status != agent.EventSuccess || !strings.Contains(*ev.Message, "CustomResourceDefinition widgets."+group+" kept") {
		t.Fatalf("event %+v", ev)
	}
	kept, err := f.env.Dynamic.Resource(crdGVR).Get(ctx, "widgets."+group, metav1.GetOptions{})
	if err != nil || kept.GetUID() != crdUID {
		t.Fatalf("CRD %v, was %s: %v", kept, crdUID, err)
	}
	if _, ok := kept.GetAnnotations()[kube.AnnotationStack]; ok {
		t.Fatalf("the kept CRD still carries the stack's ownership: %v", kept.GetAnnotations())
	}
	if _, err := f.env.Dynamic.Resource(widgets).Namespace(f.ns).Get(ctx, "theirs", metav1.GetOptions{}); err != nil {
		t.Fatalf("their widget: %v", err)
	}
	if _, err := f.env.Dynamic.Resource(widgets).Namespace(f.ns).Get(ctx, "ours", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("the stack's widget was not pruned: %v", err)
	}
	// The deletion marker does not delete it either.
	f.broker.Post(t, stack.ID, "", true)
	f.reconcile()
	if got := f.uid(crdGVR, "", "widgets."+group); got != crdUID {
		t.Fatalf("CRD UID %s after the marker, was %s", got, crdUID)
	}
}

func TestFailedApplyRollsBackOnlyItsOwnNewNamespaces(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	stack := f.broker.CreateStack(t, "rollback", f.agent.ID)
	broken := func(ns string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: broken, namespace: %[1]s}\nspec: {ports: [{port: 99999}]}\n", ns)
	}

	t.Run("a namespace the failed apply created is removed", func(t *testing.T) {
		ns := kubetest.UniqueName("new")
		bad := f.broker.Post(t, stack.ID, broken(ns), false)
		if res := f.reconcile(); res.Failed != 1 {
			t.Fatalf("result %+v", res)
		}
		if ev := f.lastEvent(bad.ID); ev.Status != agent.EventFailure {
			t.Fatalf("event %+v", ev)
		}
		live, err := f.env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err == nil && live.DeletionTimestamp == nil {
			t.Fatalf("namespace %s of the failed apply stays", ns)
		}
	})

	t.Run("an existing namespace of the stack stays", func(t *testing.T) {
		ns := kubetest.UniqueName("kept")
		good := f.broker.Post(t, stack.ID, fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata: {name: %[1]s}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: %[1]s}\n", ns), false)
		if res := f.reconcile(); res.Applied != 1 {
			t.Fatalf("result %+v: %+v", res, f.lastEvent(good.ID))
		}
		nsw := watchNamespace(t, f.env, ns)
		f.broker.Post(t, stack.ID, broken(ns), false)
		if res := f.reconcile(); res.Failed != 1 {
			t.Fatalf("result %+v", res)
		}
		time.Sleep(time.Second)
		if nsw.everTerminating() {
			t.Fatal("the stack's existing namespace was deleted by a failed apply")
		}
		if _, err := f.env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "c", metav1.GetOptions{}); err != nil {
			t.Fatalf("the previous version's ConfigMap: %v", err)
		}
	})
}

// Work orders may re-apply their own objects, but never write over an object of a stack.
func TestWorkOrderApplyNeverWritesAStacksObject(t *testing.T) {
	f := newFixture(t)
	stack := f.broker.CreateStack(t, "owned", f.agent.ID)
	f.broker.Post(t, stack.ID, f.cms(map[string]string{"stack-cm": "1"}), false)
	f.reconcile()
	before, _ := f.configMap("stack-cm")
	c, err := kube.New(f.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := kube.Parse(fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stack-cm, namespace: %s}\ndata: {v: work-order}\n", f.ns))
	if err != nil {
		t.Fatal(err)
	}
	err = c.Apply(context.Background(), objs, kube.ApplyOptions{FieldManager: "brokkr-work-orders", Backoff: fastBackoff,
		Ownership: &kube.Ownership{Owner: f.agent.ID.String(), AllowUnowned: true}})
	if err == nil || !strings.Contains(err.Error(), "belongs to stack "+stack.ID.String()) {
		t.Fatalf("apply over a stack's object: %v", err)
	}
	if got, _ := f.configMap("stack-cm"); got.ResourceVersion != before.ResourceVersion {
		t.Fatalf("the stack's object changed: %+v", got)
	}
}
