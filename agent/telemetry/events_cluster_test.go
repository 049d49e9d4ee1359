package telemetry

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
)

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func ownedBy(stack, agent uuid.UUID) map[string]string {
	return map[string]string{kube.AnnotationStack: stack.String(), kube.AnnotationOwner: agent.String()}
}

func newCluster(t *testing.T, cfg *rest.Config) *kube.Cluster {
	t.Helper()
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// forwarder is an Events running against the test cluster, its frames collected.
type forwarder struct {
	mu     sync.Mutex
	frames []client.K8sEvent
}

func startForwarder(t *testing.T, opts EventsOptions) *forwarder {
	t.Helper()
	f := &forwarder{}
	u := NewUplink(QueueSize, nil)
	opts.Uplink, opts.Log = u, testLog(t)
	e := NewEvents(opts)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { e.Run(ctx) })
	wg.Go(func() {
		_ = u.Drain(ctx, func(_ context.Context, m client.WSMessage) error {
			var ev client.K8sEvent
			if err := m.Decode(&ev); err != nil {
				t.Error(err)
			}
			f.mu.Lock()
			f.frames = append(f.frames, ev)
			f.mu.Unlock()
			return nil
		})
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return f
}

func (f *forwarder) all() []client.K8sEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.frames)
}

// find returns the frames with this reason about objects of this kind whose names start with
// prefix.
func (f *forwarder) find(reason, kind, prefix string) []client.K8sEvent {
	var out []client.K8sEvent
	for _, ev := range f.all() {
		if ev.Reason == reason && ev.InvolvedObject.Kind == kind && strings.HasPrefix(ev.InvolvedObject.Name, prefix) {
			out = append(out, ev)
		}
	}
	return out
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createDeployment(t *testing.T, env *kubetest.Env, ns, name string, ann map[string]string) *appsv1.Deployment {
	t.Helper()
	one := int32(1)
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Annotations: ann},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "nginx:1.27"}}},
			},
		},
	}
	d, err := env.Kube.AppsV1().Deployments(ns).Create(context.Background(), d, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// clusterHasEvent reports whether the cluster holds an event with this reason about an object
// whose name starts with prefix.
func clusterHasEvent(t *testing.T, env *kubetest.Env, ns, reason, prefix string) bool {
	t.Helper()
	list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range list.Items {
		if ev.Reason == reason && strings.HasPrefix(ev.InvolvedObject.Name, prefix) {
			return true
		}
	}
	return false
}

// postEvent writes an event about obj the way a core/v1 recorder would.
func postEvent(t *testing.T, env *kubetest.Env, name string, obj corev1.ObjectReference, reason string, at time.Time, count int32) *corev1.Event {
	t.Helper()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: obj.Namespace},
		InvolvedObject: obj, Reason: reason, Message: reason + " of " + obj.Name, Type: corev1.EventTypeNormal,
		Source:         corev1.EventSource{Component: "brokkr-test"},
		FirstTimestamp: metav1.NewTime(at), LastTimestamp: metav1.NewTime(at), Count: count,
	}
	ev, err := env.Kube.CoreV1().Events(obj.Namespace).Create(context.Background(), ev, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// The real controllers' events about a Deployment of the agent's, its ReplicaSet and its pod
// are forwarded with the stack of the Deployment; events of another agent's Deployment and of
// one made by hand, in the same namespace, are not.
func TestEventsOfTheAgentsWorkloads(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	agentID, otherAgent, stack := uuid.New(), uuid.New(), uuid.New()
	f := startForwarder(t, EventsOptions{Cluster: newCluster(t, env.Config), AgentID: agentID, Namespace: ns, CacheSize: 100})

	web := createDeployment(t, env, ns, "web", ownedBy(stack, agentID))
	createDeployment(t, env, ns, "theirs", ownedBy(stack, otherAgent))
	createDeployment(t, env, ns, "by-hand", nil)

	eventually(t, time.Minute, "the events of the Deployment, its ReplicaSet and its pod", func() bool {
		return len(f.find("ScalingReplicaSet", "Deployment", "web")) > 0 &&
			len(f.find("SuccessfulCreate", "ReplicaSet", "web-")) > 0 &&
			len(f.find("Scheduled", "Pod", "web-")) > 0
	})
	ctx := context.Background()
	rs, err := env.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rs.Items) != 1 {
		t.Fatalf("ReplicaSets of web: %v %v", rs, err)
	}
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of web: %v %v", pods, err)
	}
	uids := map[string]types.UID{"Deployment": web.UID, "ReplicaSet": rs.Items[0].UID, "Pod": pods.Items[0].UID}
	apiVersions := map[string]string{"Deployment": "apps/v1", "ReplicaSet": "apps/v1", "Pod": "v1"}
	for _, ev := range f.all() {
		io := ev.InvolvedObject
		if ev.AgentID != agentID || ev.StackID != stack || ev.ObservedAt.IsZero() || ev.EventType == "" || ev.Source == nil {
			t.Errorf("frame %+v", ev)
		}
		if io.UID == nil || types.UID(*io.UID) != uids[io.Kind] || io.APIVersion != apiVersions[io.Kind] ||
			io.Namespace == nil || *io.Namespace != ns {
			t.Errorf("%s about %+v, want the agent's %s %s", ev.Reason, io, io.Kind, uids[io.Kind])
		}
	}
	if s := f.find("Scheduled", "Pod", "web-")[0]; *s.Source != "default-scheduler" || s.EventType != "Normal" {
		t.Errorf("Scheduled %+v", s)
	}

	// Once the others' events exist, a last event of the agent's: events are handled in
	// order, so when it arrives the others' were looked at and not sent.
	for _, name := range []string{"theirs-", "by-hand-"} {
		eventually(t, time.Minute, "the scheduling of "+name, func() bool { return clusterHasEvent(t, env, ns, "Scheduled", name) })
	}
	marker := postEvent(t, env, "marker", corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web", UID: web.UID},
		"Marker", time.Now(), 1)
	eventually(t, 30*time.Second, "the marker event", func() bool { return len(f.find("Marker", "Deployment", "web")) == 1 })
	for _, ev := range f.all() {
		if n := ev.InvolvedObject.Name; strings.HasPrefix(n, "theirs") || strings.HasPrefix(n, "by-hand") {
			t.Errorf("forwarded %s about %s, not the agent's", ev.Reason, n)
		}
	}
	if m := f.find("Marker", "Deployment", "web")[0]; m.Message != marker.Message || !m.ObservedAt.Equal(marker.LastTimestamp.UTC()) {
		t.Errorf("marker %+v", m)
	}
}

// Events from before the start are history and not sent; an event updated without a new
// observation is sent once; a repeat (higher count, later timestamp) is sent again.
func TestEventsHistoryAndRepeats(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	agentID, stack := uuid.New(), uuid.New()
	ctx := context.Background()
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "settings", Namespace: ns, Annotations: ownedBy(stack, agentID)}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ref := corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: cm.Name, UID: cm.UID}
	postEvent(t, env, "before", ref, "Before", time.Now().Add(-time.Minute), 1)

	f := startForwarder(t, EventsOptions{Cluster: newCluster(t, env.Config), AgentID: agentID, CacheSize: 100})
	marks := 0
	mark := func() {
		marks++
		reason := fmt.Sprintf("Mark%d", marks)
		postEvent(t, env, strings.ToLower(reason), ref, reason, time.Now(), 1)
		eventually(t, 30*time.Second, reason, func() bool { return len(f.find(reason, "ConfigMap", "settings")) == 1 })
	}
	after := postEvent(t, env, "after", ref, "After", time.Now(), 1)
	mark()
	if n := len(f.find("Before", "ConfigMap", "settings")); n != 0 {
		t.Fatalf("an event from before the start was forwarded %d times", n)
	}
	if n := len(f.find("After", "ConfigMap", "settings")); n != 1 {
		t.Fatalf("the event was forwarded %d times", n)
	}

	after.Labels = map[string]string{"touched": "yes"}
	if after, err = env.Kube.CoreV1().Events(ns).Update(ctx, after, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	mark()
	if n := len(f.find("After", "ConfigMap", "settings")); n != 1 {
		t.Fatalf("after a metadata update the event was forwarded %d times, want once", n)
	}

	later := after.LastTimestamp.Add(5 * time.Second)
	after.Count, after.LastTimestamp = 2, metav1.NewTime(later)
	if _, err = env.Kube.CoreV1().Events(ns).Update(ctx, after, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the repeat", func() bool { return len(f.find("After", "ConfigMap", "settings")) == 2 })
	if got := f.find("After", "ConfigMap", "settings")[1]; !got.ObservedAt.Equal(later.UTC()) {
		t.Fatalf("repeat observed at %s, want %s", got.ObservedAt, later)
	}
}

// objectReads counts the metadata reads of objects (not discovery) among the requests.
func objectReads(rc *kubetest.RequestCounter, since int) []string {
	var out []string
	for _, r := range rc.Requests()[since:] {
		if strings.HasPrefix(r, "GET ") && strings.Contains(r, "/namespaces/") {
			out = append(out, r)
		}
	}
	return out
}

// Attribution walks from a pod to the Deployment owning it, and caches the verdict of every
// object it read, by UID: for VerdictTTL, in an LRU of CacheSize entries.
func TestEventsAttributionCache(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	agentID, stack := uuid.New(), uuid.New()
	var rc kubetest.RequestCounter
	clk := &manualClock{now: time.Now()}
	e := newEvents(EventsOptions{Cluster: newCluster(t, rc.Wrap(env.Config)), AgentID: agentID, CacheSize: 3,
		Uplink: NewUplink(1, nil), Log: testLog(t)}, clk)
	ctx := t.Context()

	createDeployment(t, env, ns, "web", ownedBy(stack, agentID))
	createDeployment(t, env, ns, "plain", nil)
	podOf := func(app string) objectRef {
		var ref objectRef
		eventually(t, time.Minute, "the pod of "+app, func() bool {
			pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + app})
			if err != nil || len(pods.Items) != 1 {
				return false
			}
			p := pods.Items[0]
			ref = objectRef{apiVersion: "v1", kind: "Pod", namespace: ns, name: p.Name, uid: p.UID}
			return true
		})
		return ref
	}
	webPod, plainPod := podOf("web"), podOf("plain")
	attribute := func(ref objectRef, wantOurs bool, wantReads int) {
		t.Helper()
		n := len(rc.Requests())
		got, ours := e.attribute(ctx, ref)
		if ours != wantOurs || (ours && got != stack) {
			t.Fatalf("%s: stack %s ours %v, want ours %v", ref, got, ours, wantOurs)
		}
		if reads := objectReads(&rc, n); len(reads) != wantReads {
			t.Fatalf("%s: %d reads %v, want %d", ref, len(reads), reads, wantReads)
		}
	}
	// The pod carries no annotations; its ReplicaSet has the Deployment's.
	attribute(webPod, true, 2)
	attribute(webPod, true, 0)
	// The pod, its ReplicaSet and its Deployment: none is brokkr's.
	attribute(plainPod, false, 3)
	attribute(plainPod, false, 0)
	// The cache holds three verdicts: web's pod and ReplicaSet were pushed out by plain's.
	attribute(webPod, true, 2)
	// Verdicts expire after VerdictTTL.
	clk.Advance(VerdictTTL - time.Second)
	attribute(webPod, true, 0)
	clk.Advance(2 * time.Second)
	attribute(webPod, true, 2)

	// An object that is gone, or replaced by another of the same name, is nobody's.
	attribute(objectRef{apiVersion: "v1", kind: "Pod", namespace: ns, name: "nothing", uid: "no-such-uid"}, false, 1)
	replaced := webPod
	replaced.uid = "an-older-pod"
	attribute(replaced, false, 1)
	// Unknown kinds and incomplete references are decided without a read.
	attribute(objectRef{apiVersion: "example.com/v1", kind: "Widget", namespace: ns, name: "w", uid: "w1"}, false, 0)
	attribute(objectRef{kind: "Pod", uid: "p1"}, false, 0)
}
