package workload

import (
	"context"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
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

// fixture creates objects in one namespace.
type fixture struct {
	t   *testing.T
	kc  kubernetes.Interface
	ns  string
	ctx context.Context
}

func newFixture(t *testing.T, kc kubernetes.Interface, ns string) *fixture {
	return &fixture{t: t, kc: kc, ns: ns, ctx: context.Background()}
}

func idMeta(id uuid.UUID) map[string]string {
	return map[string]string{DeploymentObjectIDKey: id.String()}
}

func controllerRef(apiVersion, kind, name string, uid types.UID) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: uid, Controller: &yes}
}

func podTemplate(app string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": app}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "example.invalid/app:1"}}},
	}
}

// deployment creates a Deployment (annotated with id unless it is uuid.Nil) and sets its status.
func (f *fixture) deployment(name string, id uuid.UUID, replicas int32, status *appsv1.DeploymentStatus) *appsv1.Deployment {
	f.t.Helper()
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: podTemplate(name),
		},
	}
	if id != uuid.Nil {
		d.Annotations = idMeta(id)
	}
	d, err := f.kc.AppsV1().Deployments(f.ns).Create(f.ctx, d, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create deployment %s: %v", name, err)
	}
	if status != nil {
		d.Status = *status
		if d, err = f.kc.AppsV1().Deployments(f.ns).UpdateStatus(f.ctx, d, metav1.UpdateOptions{}); err != nil {
			f.t.Fatalf("deployment %s status: %v", name, err)
		}
	}
	return d
}

// replicaSet creates a ReplicaSet controlled by owner.
func (f *fixture) replicaSet(name string, owner *appsv1.Deployment) *appsv1.ReplicaSet {
	f.t.Helper()
	one := int32(1)
	app := name
	if owner != nil {
		app = owner.Name
	}
	rs := &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns},
		Spec: appsv1.ReplicaSetSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
			Template: podTemplate(app),
		},
	}
	if owner != nil {
		rs.OwnerReferences = []metav1.OwnerReference{controllerRef("apps/v1", "Deployment", owner.Name, owner.UID)}
	}
	rs, err := f.kc.AppsV1().ReplicaSets(f.ns).Create(f.ctx, rs, metav1.CreateOptions{})
	if err != nil {
		f.t.Fatalf("create replicaset %s: %v", name, err)
	}
	return rs
}

// podOpts describe a test pod.
type podOpts struct {
	labels, annotations map[string]string
	owner               *metav1.OwnerReference
	containers          []string // default: "app"
	initContainers      []string
	node                string // spec.nodeName: a node that does not exist makes log fetches fail
	status              func(*corev1.PodStatus)
}

// pod creates a pod and, when o.status is set, writes its status.
func (f *fixture) pod(name string, o podOpts) *corev1.Pod {
	f.t.Helper()
	names := o.containers
	if len(names) == 0 {
		names = []string{"app"}
	}
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.ns, Labels: o.labels, Annotations: o.annotations},
		Spec: corev1.PodSpec{NodeName: o.node}}
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
		o.status(&p.Status)
		if p, err = f.kc.CoreV1().Pods(f.ns).UpdateStatus(f.ctx, p, metav1.UpdateOptions{}); err != nil {
			f.t.Fatalf("pod %s status: %v", name, err)
		}
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
