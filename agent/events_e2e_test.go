package agent_test

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/server/servertest"
)

func deploymentOf(ns, name string, ann map[string]string) *appsv1.Deployment {
	one := int32(1)
	return &appsv1.Deployment{
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
}

// clusterEvent returns the cluster's event with this reason about an object whose name
// starts with prefix.
func clusterEvent(t *testing.T, env *kubetest.Env, ns, reason, prefix string) *corev1.Event {
	t.Helper()
	list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range list.Items {
		if ev.Reason == reason && strings.HasPrefix(ev.InvolvedObject.Name, prefix) {
			return &list.Items[i]
		}
	}
	return nil
}

// brokerEvent returns the stack's stored event with this reason about an object of this
// kind whose name starts with prefix.
func brokerEvent(events []client.AgentK8sEvent, reason, kind, prefix string) *client.AgentK8sEvent {
	for i, ev := range events {
		if ev.Reason == reason && ev.InvolvedObject.Kind == kind && strings.HasPrefix(ev.InvolvedObject.Name, prefix) {
			return &events[i]
		}
	}
	return nil
}

var sentEventFrames = regexp.MustCompile(`(?m)^brokkr_agent_telemetry_frames_sent_total\{type="k8s_event"\} (\d+)`)

// TestKubernetesEventsReachTheBroker: the Kubernetes events of a stack's Deployment, its
// ReplicaSet and its pod, emitted by the real controllers and scheduler, reach the broker
// within seconds with the agent's and the stack's ids, and `brokkrctl stack events --follow`
// prints them as they come; the events of a Deployment made by hand and of another agent's
// Deployment of the same stack, in the same namespace, are not sent.
func TestKubernetesEventsReachTheBroker(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "events-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, true)
	other := b.CreateAgent(t, "other", cluster, true)
	ns := env.Namespace(t)
	stack := b.CreateStack(t, "web", a.ID)
	r := startAgent(t, b, a, cluster, env, nil)

	out := brokkrctl(t, b, "stack", "events", stack.ID.String(), "--follow")
	eventually(t, 15*time.Second, "the follower's subscription and the agent's channel", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		return err == nil && c.LiveSubscribers >= 1 && c.ConnectedAgents >= 1
	})

	b.Post(t, stack.ID, fmt.Sprintf(`
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: %[1]s}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: nginx:1.27}]
`, ns), false)
	for _, d := range []*appsv1.Deployment{
		deploymentOf(ns, "by-hand", nil),
		deploymentOf(ns, "other-agent", map[string]string{kube.AnnotationStack: stack.ID.String(), kube.AnnotationOwner: other.ID.String()}),
	} {
		if _, err := env.Kube.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	want := []struct{ reason, kind, prefix string }{
		{"ScalingReplicaSet", "Deployment", "web"},
		{"SuccessfulCreate", "ReplicaSet", "web-"},
		{"Scheduled", "Pod", "web-"},
	}
	var stored []client.AgentK8sEvent
	eventually(t, time.Minute, "the Deployment's, ReplicaSet's and pod's events at the broker", func() bool {
		h, err := b.Admin.Stacks().Events(ctx, stack.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		stored = h.Events
		for _, w := range want {
			if brokerEvent(stored, w.reason, w.kind, w.prefix) == nil {
				return false
			}
		}
		return true
	})

	dep, err := env.Kube.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	rs, err := env.Kube.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(rs.Items) != 1 {
		t.Fatalf("ReplicaSets of web: %v %v", rs, err)
	}
	pods, err := env.Kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of web: %v %v", pods, err)
	}
	uids := map[string]types.UID{"Deployment": dep.UID, "ReplicaSet": rs.Items[0].UID, "Pod": pods.Items[0].UID}
	for _, w := range want {
		got := brokerEvent(stored, w.reason, w.kind, w.prefix)
		if got.AgentID != a.ID || got.StackID != stack.ID {
			t.Errorf("%s: agent %s stack %s", w.reason, got.AgentID, got.StackID)
		}
		io := got.InvolvedObject
		if io.UID == nil || types.UID(*io.UID) != uids[w.kind] || io.Namespace == nil || *io.Namespace != ns {
			t.Errorf("%s is about %s %s/%s uid %v, want %s", w.reason, io.Kind, strOf(io.Namespace), io.Name, strOf(io.UID), uids[w.kind])
		}
		// The time from the event's creation in the cluster (whole seconds) to its row at the
		// broker.
		k := clusterEvent(t, env, ns, w.reason, w.prefix)
		if k == nil {
			t.Fatalf("%s is not in the cluster", w.reason)
		}
		took := got.CreatedAt.Sub(k.CreationTimestamp.Time)
		t.Logf("%s reached the broker %s after its creation (second %s)", w.reason, took, k.CreationTimestamp.UTC().Format(time.TimeOnly))
		if took > 5*time.Second+time.Second {
			t.Errorf("%s reached the broker %s after it appeared", w.reason, took)
		}
	}

	// The others' Deployments have been scheduled; a last event of the agent's Deployment
	// follows theirs in the watch, so once it is at the broker theirs were handled.
	for _, name := range []string{"by-hand-", "other-agent-"} {
		eventually(t, time.Minute, "the scheduling of "+name, func() bool { return clusterEvent(t, env, ns, "Scheduled", name) != nil })
	}
	now := metav1.Now()
	if _, err := env.Kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "web-marker", Namespace: ns},
		InvolvedObject: corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: ns, Name: "web", UID: dep.UID},
		Reason:         "Marker", Message: "the last one", Type: corev1.EventTypeNormal, Source: corev1.EventSource{Component: "test"},
		FirstTimestamp: now, LastTimestamp: now, Count: 1,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "the marker event at the broker", func() bool {
		h, err := b.Admin.Stacks().Events(ctx, stack.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		stored = h.Events
		return brokerEvent(stored, "Marker", "Deployment", "web") != nil
	})
	for _, ev := range stored {
		if n := ev.InvolvedObject.Name; strings.HasPrefix(n, "by-hand") || strings.HasPrefix(n, "other-agent") {
			t.Errorf("the broker got %s about %s %s, which is not the agent's", ev.Reason, ev.InvolvedObject.Kind, n)
		}
	}

	// The follower printed them as they came (the stack had no history when it started).
	eventually(t, 15*time.Second, "the follower's lines", func() bool {
		s := out.String()
		return strings.Contains(s, "Marker") && strings.Contains(s, "ScalingReplicaSet") &&
			strings.Contains(s, "SuccessfulCreate") && strings.Contains(s, "Scheduled")
	})
	for _, line := range []string{
		"  ScalingReplicaSet  " + ns + "/Deployment/web: ",
		"  Marker  " + ns + "/Deployment/web: the last one",
		"  Scheduled  " + ns + "/Pod/" + pods.Items[0].Name + ": ",
	} {
		if !strings.Contains(out.String(), line) {
			t.Errorf("the follower's output lacks %q:\n%s", line, out)
		}
	}
	if s := out.String(); strings.Contains(s, "by-hand") || strings.Contains(s, "other-agent") {
		t.Errorf("the follower printed others' events:\n%s", s)
	}

	_, metrics := get(t, r.health+"/metrics")
	m := sentEventFrames.FindStringSubmatch(metrics)
	if n, _ := strconv.Atoi(at(m, 1)); n < len(want)+1 {
		t.Errorf("brokkr_agent_telemetry_frames_sent_total{type=\"k8s_event\"} is %q, want at least %d", at(m, 1), len(want)+1)
	}
}

// TestKubernetesEventsQueuedWhileTheChannelIsDown: events of the agent's objects that happen
// while the broker is out of reach wait in the agent's queue and reach the broker once the
// channel is back.
func TestKubernetesEventsQueuedWhileTheChannelIsDown(t *testing.T) {
	env := kubetest.Get(t)
	b := servertest.Start(t)
	ctx := context.Background()
	cluster := "events-outage-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "edge", cluster, true)
	ns := env.Namespace(t)
	stack := b.CreateStack(t, "settings", a.ID)
	proxy := newOutageProxy(t, b.URL[len("http://"):])
	startAgent(t, b, a, cluster, env, func(c *config.AgentSettings) { c.BrokerURL = "http://" + proxy.addr })
	b.Post(t, stack.ID, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: "+ns+"}\ndata: {v: \"1\"}\n", false)
	var cm *corev1.ConfigMap
	eventually(t, 30*time.Second, "the ConfigMap applied", func() bool {
		var err error
		cm, err = env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "settings", metav1.GetOptions{})
		return err == nil
	})
	eventually(t, 15*time.Second, "the agent's channel", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		return err == nil && c.ConnectedAgents == 1
	})

	proxy.down()
	eventually(t, 15*time.Second, "the channel to drop", func() bool {
		c, err := b.Admin.Admin().WSConnections(ctx)
		return err == nil && c.ConnectedAgents == 0
	})
	reasons := []string{"WhileDown1", "WhileDown2", "WhileDown3"}
	for i, reason := range reasons {
		now := metav1.Now()
		if _, err := env.Kube.CoreV1().Events(ns).Create(ctx, &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{Name: fmt.Sprintf("settings-%d", i), Namespace: ns},
			InvolvedObject: corev1.ObjectReference{APIVersion: "v1", Kind: "ConfigMap", Namespace: ns, Name: "settings", UID: cm.UID},
			Reason:         reason, Message: "while the broker was away", Type: corev1.EventTypeNormal,
			Source: corev1.EventSource{Component: "test"}, FirstTimestamp: now, LastTimestamp: now, Count: 1,
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second) // the agent sees them and queues them
	proxy.up()
	back := time.Now()
	eventually(t, time.Minute, "the queued events at the broker", func() bool {
		h, err := b.Admin.Stacks().Events(ctx, stack.ID, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range reasons {
			if brokerEvent(h.Events, r, "ConfigMap", "settings") == nil {
				return false
			}
		}
		return true
	})
	t.Logf("the queued events arrived %s after the broker came back", time.Since(back).Round(time.Millisecond))
}

func strOf(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

func at(s []string, i int) string {
	if i < len(s) {
		return s[i]
	}
	return ""
}
