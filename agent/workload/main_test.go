package workload

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"k8s.io/client-go/util/retry"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

// newInspector returns an inspector on cfg with a discovery-backed mapper.
func newInspector(t *testing.T, cfg *rest.Config) *Inspector {
	t.Helper()
	kc, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &Inspector{
		Kube: kc, Dynamic: dc,
		Mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(kc.Discovery())),
		Log:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
	}
}

// fixture creates objects in one namespace of the living test cluster and waits for its
// controllers.
type fixture struct {
	t   *testing.T
	kc  kubernetes.Interface
	ns  string
	ctx context.Context
}

func newFixture(t *testing.T, kc kubernetes.Interface, ns string) *fixture {
	return &fixture{t: t, kc: kc, ns: ns, ctx: context.Background()}
}

// unscheduled is the scheduler name of the test pods whose status a test writes: no
// scheduler binds them, so kwok never runs them and the written status stays (PodGC leaves
// unbound pods alone while they are not being deleted).
const unscheduled = "brokkr-test-unscheduled"

// fakeNode is a kwok node of the test cluster: a pod bound to it is run by kwok.
const fakeNode = "kwok-node-0"

// waitTimeout bounds every wait for the cluster's controllers.
const waitTimeout = 60 * time.Second

// eventually polls cond every 100 ms until it holds; the test fails after waitTimeout.
func eventually(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ok, err := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s (last: %v)", what, waitTimeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func idMeta(id uuid.UUID) map[string]string {
	return map[string]string{DeploymentObjectIDKey: id.String()}
}

func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}
}

// podTemplate is the pod template (label app=<app>) of a test workload. Its pods are placed
// by the scheduler, and then run by kwok, when scheduled is true; otherwise they stay
// Pending until a test binds them (f.bind) or writes their status.
func podTemplate(app string, scheduled bool) corev1.PodTemplateSpec {
	tpl := corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
	}
	if !scheduled {
		tpl.Spec.SchedulerName = unscheduled
	}
	return tpl
}

// deployment creates a Deployment of tpl's pods (selected by their label app), annotated with
// id unless it is uuid.Nil; the Deployment controller gives it a ReplicaSet and pods.
func (f *fixture) deployment(name string, id uuid.UUID, replicas int32, tpl corev1.PodTemplateSpec) *appsv1.Deployment {
	f.t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": tpl.Labels["app"]}},
			Template: tpl,
		},
	}
	if id != uuid.Nil {
		d.Annotations = idMeta(id)
	}
	d, err := f.kc.AppsV1().Deployments(f.ns).Create(f.ctx, d, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create deployment %s: %v", name, err)
	}
	return d
}

// waitDeployment waits until the Deployment controller has reported on the Deployment's
// current spec with a status for which ok holds.
func (f *fixture) waitDeployment(name string, ok func(appsv1.DeploymentStatus) bool) *appsv1.Deployment {
	f.t.Helper()
	var d *appsv1.Deployment
	eventually(f.t, "status of deployment "+name, func() (bool, error) {
		var err error
		if d, err = f.kc.AppsV1().Deployments(f.ns).Get(f.ctx, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration >= d.Generation && ok(d.Status), fmt.Errorf("status %+v", d.Status)
	})
	return d
}

// readyDeployment reports whether a Deployment status has every one of want replicas ready
// and available, and condition Available=True.
func readyDeployment(want int32) func(appsv1.DeploymentStatus) bool {
	return func(s appsv1.DeploymentStatus) bool {
		available := false
		for _, c := range s.Conditions {
			available = available || (c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionTrue)
		}
		return available && s.Replicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want
	}
}

// replicaSetOf waits for the ReplicaSet the Deployment controller made for d.
func (f *fixture) replicaSetOf(d *appsv1.Deployment) *appsv1.ReplicaSet {
	f.t.Helper()
	var rs *appsv1.ReplicaSet
	eventually(f.t, "replicaset of deployment "+d.Name, func() (bool, error) {
		list, err := f.kc.AppsV1().ReplicaSets(f.ns).List(f.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for n := range list.Items {
			if c := metav1.GetControllerOf(&list.Items[n]); c != nil && c.UID == d.UID {
				rs = &list.Items[n]
				return true, nil
			}
		}
		return false, fmt.Errorf("%d replicasets, none controlled by the deployment", len(list.Items))
	})
	return rs
}

// controlledPods waits until exactly n pods controlled by owner exist and returns them
// ordered by name.
func (f *fixture) controlledPods(owner types.UID, n int) []corev1.Pod {
	f.t.Helper()
	var pods []corev1.Pod
	eventually(f.t, fmt.Sprintf("%d pods of %s", n, owner), func() (bool, error) {
		list, err := f.kc.CoreV1().Pods(f.ns).List(f.ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		pods = pods[:0]
		for _, p := range list.Items {
			if c := metav1.GetControllerOf(&p); c != nil && c.UID == owner {
				pods = append(pods, p)
			}
		}
		return len(pods) == n, fmt.Errorf("%d pods", len(pods))
	})
	sort.Slice(pods, func(a, b int) bool { return pods[a].Name < pods[b].Name })
	return pods
}

// bind places the pod on node, as the scheduler would (for pods of scheduler unscheduled).
func (f *fixture) bind(pod, node string) {
	f.t.Helper()
	b := &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod}, Target: corev1.ObjectReference{Kind: "Node", Name: node}}
	if err := f.kc.CoreV1().Pods(f.ns).Bind(f.ctx, b, metav1.CreateOptions{}); err != nil {
		f.t.Fatalf("bind pod %s to %s: %v", pod, node, err)
	}
}

// waitPod waits until ok holds for the pod.
func (f *fixture) waitPod(name string, ok func(*corev1.Pod) bool) *corev1.Pod {
	f.t.Helper()
	var p *corev1.Pod
	eventually(f.t, "pod "+name, func() (bool, error) {
		var err error
		if p, err = f.kc.CoreV1().Pods(f.ns).Get(f.ctx, name, metav1.GetOptions{}); err != nil {
			return false, err
		}
		return ok(p), fmt.Errorf("node %q status %+v", p.Spec.NodeName, p.Status)
	})
	return p
}

// runningReady reports whether kwok runs the pod: phase Running and condition Ready=True.
func runningReady(p *corev1.Pod) bool { return p.Status.Phase == corev1.PodRunning && podReady(p) }

// setPodStatus writes the pod's status as set leaves it (set must only assign: it may run
// again on a fresh copy after a conflict).
func (f *fixture) setPodStatus(name string, set func(*corev1.PodStatus)) *corev1.Pod {
	f.t.Helper()
	var p *corev1.Pod
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		cur, err := f.kc.CoreV1().Pods(f.ns).Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		set(&cur.Status)
		p, err = f.kc.CoreV1().Pods(f.ns).UpdateStatus(f.ctx, cur, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		f.t.Fatalf("pod %s status: %v", name, err)
	}
	return p
}

// goneNode returns the name of a node that does not exist, unique to the test: the logs of
// a pod bound to it cannot be fetched. PodGC deletes such pods 40 to 60 s after it first
// sees them (per node name, hence one name per test), so they serve briefly; the test
// deletes them when it ends.
func (f *fixture) goneNode() string {
	f.t.Helper()
	node := "gone-" + kubetest.UniqueName("node")
	f.t.Cleanup(func() {
		list, err := f.kc.CoreV1().Pods("").List(context.Background(), metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
		if err != nil {
			f.t.Errorf("list pods on %s: %v", node, err)
			return
		}
		zero := int64(0)
		for _, p := range list.Items {
			err := f.kc.CoreV1().Pods(p.Namespace).Delete(context.Background(), p.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero})
			if err != nil && !apierrors.IsNotFound(err) {
				f.t.Errorf("delete pod %s/%s: %v", p.Namespace, p.Name, err)
			}
		}
	})
	return node
}

// podOpts describe a test pod.
type podOpts struct {
	labels, annotations map[string]string
	owner               *metav1.OwnerReference
	containers          []string // default: "app"
	initContainers      []string
	// node binds the pod at creation (f.goneNode: its log fetches fail); scheduled lets the
	// scheduler place it, and kwok run it. Without either the pod is never scheduled.
	node      string
	scheduled bool
	status    func(*corev1.PodStatus)
}

// pod creates a pod and, when o.status is set, writes its status (for pods that nothing
// runs: neither o.scheduled nor bound to a kwok node).
func (f *fixture) pod(name string, o podOpts) *corev1.Pod {
	f.t.Helper()
	names := o.containers
	if len(names) == 0 {
		names = []string{"app"}
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: o.labels, Annotations: o.annotations},
		Spec: corev1.PodSpec{NodeName: o.node, SchedulerName: unscheduled}}
	if o.scheduled {
		p.Spec.SchedulerName = ""
	}
	for _, n := range names {
		p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: n, Image: "example.invalid/" + n + ":1"})
	}
	for _, n := range o.initContainers {
		p.Spec.InitContainers = append(p.Spec.InitContainers, corev1.Container{Name: n, Image: "example.invalid/" + n + ":1"})
	}
	if o.owner != nil {
		p.OwnerReferences = []metav1.OwnerReference{*o.owner}
	}
	p, err := f.kc.CoreV1().Pods(f.ns).Create(f.ctx, p, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create pod %s: %v", name, err)
	}
	if o.status != nil {
		p = f.setPodStatus(name, o.status)
	}
	return p
}

// Pod status builders.

func readyCond(ready bool) corev1.PodCondition {
	s := corev1.ConditionFalse
	if ready {
		s = corev1.ConditionTrue
	}
	return corev1.PodCondition{Type: corev1.PodReady, Status: s}
}

func running(ready bool, containers ...corev1.ContainerStatus) func(*corev1.PodStatus) {
	return func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.Conditions = []corev1.PodCondition{readyCond(ready)}
		s.ContainerStatuses = containers
	}
}

func runningContainer(name string, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, Image: "example.invalid/" + name + ":1",
		State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: metav1.Now()}}}
}

func waitingContainer(name, reason, message string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Image: "example.invalid/" + name + ":1",
		State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: message}}}
}

func terminatedContainer(name, reason string, code int32) corev1.ContainerStatus {
	now := metav1.Now()
	return corev1.ContainerStatus{Name: name, Image: "example.invalid/" + name + ":1",
		State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: reason, ExitCode: code, StartedAt: now, FinishedAt: now}}}
}

// unreachable returns a client of an apiserver that is not there.
func unreachable(t *testing.T) kubernetes.Interface {
	t.Helper()
	kc, err := kubernetes.NewForConfig(&rest.Config{Host: "http://127.0.0.1:1", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return kc
}
