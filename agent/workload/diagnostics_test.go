package workload

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/client"
	"github.com/google/uuid"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// event creates a core/v1 event about pod name in ns.
func createEvent(t *testing.T, env *kubetest.Env, ns, name string, set func(*corev1.Event)) {
	t.Helper()
	ev := &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: name, Namespace: ns},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: "pod-" + name, APIVersion: "v1"},
		Reason:         "Reason-" + name, Message: "message of " + name, Type: corev1.EventTypeNormal,
		Source: corev1.EventSource{Component: "test"},
	}
	set(ev)
	if _, err := env.Kube.CoreV1().Events(ns).Create(context.Background(), ev, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create event %s: %v", name, err)
	}
}

func decode[T any](t *testing.T, s string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
	return v
}

func bodySize(t *testing.T, res client.SubmitDiagnosticResult) int {
	t.Helper()
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	return len(b)
}

func TestCollect(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	ns, ns2 := env.Namespace(t), env.Namespace(t)
	f := newFixture(t, env.Kube, ns)
	id := uuid.New()

	dep := f.deployment("api", id, 2, nil)
	rs := f.replicaSet("api-1", dep)
	ref := controllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)
	started := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f.pod("api-1-a", podOpts{node: "gone-node", owner: &ref, containers: []string{"app", "sidecar"}, initContainers: []string{"setup"}, status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.Conditions = []corev1.PodCondition{
			{Type: corev1.PodReady, Status: corev1.ConditionFalse, Reason: "ContainersNotReady", Message: "containers with unready status: [sidecar]"},
			{Type: corev1.PodScheduled, Status: corev1.ConditionTrue},
		}
		app := runningContainer("app", true)
		app.State.Running.StartedAt = started
		side := waitingContainer("sidecar", "CrashLoopBackOff", "back-off 10s")
		side.RestartCount = 3
		s.ContainerStatuses = []corev1.ContainerStatus{app, side}
	}})
	f.pod("api-1-b", podOpts{owner: &ref})
	f.pod("direct", podOpts{node: "gone-node", labels: idMeta(id), status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{terminatedContainer("app", "Error", 1)}
		s.ContainerStatuses[0].State.Terminated.Message = "exit 1"
	}})
	f.pod("other", podOpts{labels: idMeta(uuid.New())})
	newFixture(t, env.Kube, ns2).pod("api-2-x", podOpts{node: "gone-node", annotations: idMeta(id)})

	base := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(base.Add(d)) }
	createEvent(t, env, ns, "e1", func(e *corev1.Event) { e.FirstTimestamp, e.LastTimestamp, e.Count = at(0), at(time.Minute), 4 })
	createEvent(t, env, ns2, "e2", func(e *corev1.Event) {
		e.FirstTimestamp, e.LastTimestamp, e.Type = at(2*time.Minute), at(5*time.Minute), corev1.EventTypeWarning
	})
	createEvent(t, env, ns, "e3", func(e *corev1.Event) {
		e.EventTime = metav1.NewMicroTime(base.Add(3 * time.Minute))
		e.ReportingController, e.ReportingInstance, e.Action = "example.com/test", "test-1", "Testing"
		e.Source = corev1.EventSource{}
	})
	createEvent(t, env, ns, "e4", func(e *corev1.Event) { e.FirstTimestamp = at(4 * time.Minute) })
	createEvent(t, env, ns, "e5", func(e *corev1.Event) {}) // no time at all: its creation time, now

	insp := newInspector(t, env.Config)
	ctx := context.Background()
	lim := DefaultLimits()
	lim.MaxEvents = 4
	res, err := insp.Collect(ctx, id, []string{ns, ns2, ns}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if time.Since(res.CollectedAt) > time.Minute || res.CollectedAt.Location() != time.UTC {
		t.Errorf("collected_at %v", res.CollectedAt)
	}

	// Pods: the ones attributed to id, in namespace and name order, with the wire fields.
	pods := decode[[]map[string]any](t, res.PodStatuses)
	var names []string
	for _, p := range pods {
		names = append(names, p["namespace"].(string)+"/"+p["name"].(string))
	}
	wantNames := []string{ns + "/api-1-a", ns + "/api-1-b", ns + "/direct", ns2 + "/api-2-x"}
	if ns2 < ns {
		wantNames = append([]string{ns2 + "/api-2-x"}, wantNames[:3]...)
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("pods %v, want %v", names, wantNames)
	}
	statuses := decode[[]PodStatus](t, res.PodStatuses)
	var a PodStatus
	for _, p := range statuses {
		if p.Name == "api-1-a" {
			a = p
		}
	}
	s := func(v string) *string { return &v }
	wantA := PodStatus{Name: "api-1-a", Namespace: ns, Phase: "Running",
		Conditions: []PodCondition{
			{ConditionType: "Ready", Status: "False", Reason: s("ContainersNotReady"), Message: s("containers with unready status: [sidecar]")},
			{ConditionType: "PodScheduled", Status: "True"},
		},
		Containers: []ContainerStatus{
			{Name: "app", Ready: true, State: "Running", StateMessage: s("Started at 2026-01-02T03:04:05Z")},
			{Name: "sidecar", RestartCount: 3, State: "Waiting", StateReason: s("CrashLoopBackOff"), StateMessage: s("back-off 10s")},
		}}
	if !reflect.DeepEqual(a, wantA) {
		ga, _ := json.Marshal(a)
		wa, _ := json.Marshal(wantA)
		t.Errorf("pod api-1-a\n got %s\nwant %s", ga, wa)
	}
	raw := decode[[]map[string]any](t, res.PodStatuses)
	for _, key := range []string{"name", "namespace", "phase", "conditions", "containers"} {
		if _, ok := raw[0][key]; !ok {
			t.Errorf("pod status lacks %q: %v", key, raw[0])
		}
	}
	for _, p := range statuses {
		switch p.Name {
		case "api-1-b", "api-2-x": // never scheduled: no status, containers waiting
			if p.Phase != "Pending" || len(p.Containers) != 1 || p.Containers[0].State != StateWaiting || p.Containers[0].StateReason != nil {
				t.Errorf("unscheduled pod %+v", p)
			}
		case "direct":
			c := p.Containers[0]
			if p.Phase != "Failed" || c.State != StateTerminated || *c.StateReason != "Error" || *c.StateMessage != "exit 1" {
				t.Errorf("failed pod %+v %+v", p, c)
			}
		}
	}

	// Events: newest first across both namespaces, four of five.
	events := decode[[]EventInfo](t, res.Events)
	var order []string
	for _, e := range events {
		order = append(order, e.InvolvedObject)
	}
	if want := []string{"pod-e5", "pod-e2", "pod-e4", "pod-e3"}; !reflect.DeepEqual(order, want) {
		t.Fatalf("events %v, want %v", order, want)
	}
	e2 := events[1]
	if *e2.EventType != "Warning" || *e2.Reason != "Reason-e2" || *e2.Message != "message of e2" || *e2.InvolvedObjectKind != "Pod" ||
		!e2.FirstTimestamp.Equal(base.Add(2*time.Minute)) || !e2.LastTimestamp.Equal(base.Add(5*time.Minute)) || *e2.Count != 1 {
		t.Errorf("event e2 %+v", e2)
	}
	if e3 := events[3]; !e3.LastTimestamp.Equal(base.Add(3*time.Minute)) || !e3.FirstTimestamp.Equal(base.Add(3*time.Minute)) {
		t.Errorf("event e3 times %v %v", e3.FirstTimestamp, e3.LastTimestamp)
	}
	if e5 := events[0]; time.Since(*e5.LastTimestamp) > time.Minute {
		t.Errorf("event e5 last %v", e5.LastTimestamp)
	}
	rawEvents := decode[[]map[string]any](t, res.Events)
	for _, key := range []string{"event_type", "reason", "message", "involved_object", "involved_object_kind", "first_timestamp", "last_timestamp", "count"} {
		if _, ok := rawEvents[0][key]; !ok {
			t.Errorf("event lacks %q: %v", key, rawEvents[0])
		}
	}

	// Log tails: every container, including init containers. Pods on a node that does not
	// exist give errors; the apiserver answers an empty log for a pod without a node.
	if res.LogTails == nil {
		t.Fatal("no log tails")
	}
	logs := decode[map[string]string](t, *res.LogTails)
	var keys []string
	for k, v := range logs {
		keys = append(keys, k)
		if k == "api-1-b/app" {
			if v != "" {
				t.Errorf("log %s = %q", k, v)
			}
		} else if !strings.HasPrefix(v, "Error: ") || len(v) < len("Error: x") {
			t.Errorf("log %s = %q", k, v)
		}
	}
	t.Logf("log of a pod on a missing node: %q", logs["direct/app"])
	wantKeys := []string{"api-1-a/app", "api-1-a/setup", "api-1-a/sidecar", "api-1-b/app", "api-2-x/app", "direct/app"}
	if !sameSet(keys, wantKeys) {
		t.Errorf("log keys %v, want %v", keys, wantKeys)
	}
	full := bodySize(t, res)
	if full > lim.MaxTotalBytes {
		t.Errorf("body %d bytes", full)
	}

	// A size limit that leaves room for only part of the log tails cuts them, marked.
	lim.MaxTotalBytes = full - 120
	cut, err := insp.Collect(ctx, id, []string{ns, ns2}, lim)
	if err != nil {
		t.Fatal(err)
	}
	if n := bodySize(t, cut); n > lim.MaxTotalBytes {
		t.Errorf("body %d bytes over the limit %d", n, lim.MaxTotalBytes)
	}
	if cut.PodStatuses != res.PodStatuses {
		t.Errorf("pod statuses changed under the size limit")
	}
	// These tails are shorter than the truncation mark, so the cut ones are emptied (marked
	// tails and the note about them are checked with long logs in TestFitResult).
	cutLogs := decode[map[string]string](t, *cut.LogTails)
	changed := 0
	for k, v := range cutLogs {
		if v != logs[k] {
			changed++
			if v != "" && !strings.HasPrefix(v, "[truncated: ") {
				t.Errorf("log %s changed without a mark: %q", k, v)
			}
		}
	}
	if len(cutLogs) != len(logs) || changed == 0 {
		t.Errorf("%d of %d logs cut: %v", changed, len(cutLogs), cutLogs)
	}
	// The note about cut tails does not fit here; the events are kept whole.
	if cut.Events != res.Events {
		t.Errorf("events under the size limit: %s", cut.Events)
	}

	// A limit no result can meet is an error.
	lim.MaxTotalBytes = 40
	if _, err := insp.Collect(ctx, id, []string{ns}, lim); err == nil {
		t.Error("a 40-byte limit was met")
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, x := range a {
		m[x]++
	}
	for _, x := range b {
		m[x]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// TestCollectWatchNamespaceAndLimits skips namespaces outside the watch namespace with a
// note, caps the pods and reports no log tails without pods.
func TestCollectWatchNamespaceAndLimits(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	ns, other := env.Namespace(t), env.Namespace(t)
	id := uuid.New()
	f := newFixture(t, env.Kube, ns)
	for _, n := range []string{"p3", "p1", "p2"} {
		f.pod(n, podOpts{node: "gone-node", labels: idMeta(id)})
	}
	newFixture(t, env.Kube, other).pod("hidden", podOpts{labels: idMeta(id)})

	var rc kubetest.RequestCounter
	insp := newInspector(t, rc.Wrap(env.Config))
	insp.WatchNamespace = ns
	res, err := insp.Collect(context.Background(), id, []string{other, ns}, Limits{MaxPods: 2})
	if err != nil {
		t.Fatal(err)
	}
	pods := decode[[]PodStatus](t, res.PodStatuses)
	if len(pods) != 2 || pods[0].Name != "p1" || pods[1].Name != "p2" {
		t.Errorf("pods %+v", pods)
	}
	events := decode[[]EventInfo](t, res.Events)
	if len(events) != 2 || *events[0].Reason != NoteNamespaceNotWatched || events[0].InvolvedObject != other ||
		*events[1].Reason != NotePodsTruncated || !strings.Contains(*events[1].Message, "3 pods found") {
		t.Errorf("notes %s", res.Events)
	}
	logs := decode[map[string]string](t, *res.LogTails)
	if len(logs) != 2 || !strings.HasPrefix(logs["p1/app"], "Error: ") || !strings.HasPrefix(logs["p2/app"], "Error: ") {
		t.Errorf("logs %v", logs)
	}
	for _, r := range rc.Requests() {
		if strings.Contains(r, other) {
			t.Errorf("request outside the watch namespace: %s", r)
		}
	}

	// No pods: log_tails is null.
	res, err = insp.Collect(context.Background(), uuid.New(), []string{ns}, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if res.PodStatuses != "[]" || res.LogTails != nil {
		t.Errorf("no pods: %q %v", res.PodStatuses, res.LogTails)
	}
	// No namespaces: "default".
	rc.Reset()
	insp.WatchNamespace = ""
	if _, err := insp.Collect(context.Background(), uuid.New(), nil, DefaultLimits()); err != nil {
		t.Fatal(err)
	}
	if !contains(rc.Requests(), "GET /api/v1/namespaces/default/events") {
		t.Errorf("requests %v", rc.Requests())
	}
}

// TestCollectListFailure reports an error when nothing can be listed.
func TestCollectListFailure(t *testing.T) {
	t.Parallel()
	insp := &Inspector{Kube: unreachable(t)}
	if _, err := insp.Collect(context.Background(), uuid.New(), []string{"a", "b"}, DefaultLimits()); err == nil {
		t.Fatal("no error")
	}
}
