package workload

import (
	"context"
	"encoding/json"
	"fmt"
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
	f, f2 := newFixture(t, env.Kube, ns), newFixture(t, env.Kube, ns2)
	id := uuid.New()
	gone := f.goneNode()

	// Deployment api (annotated) → its ReplicaSet → three pods that no scheduler places: one
	// the test binds to a kwok node, which runs it; one with a sidecar in CrashLoopBackOff
	// (its status written by the test); one never scheduled.
	tpl := podTemplate("api", false)
	tpl.Spec.Containers = append(tpl.Spec.Containers, corev1.Container{Name: "sidecar", Image: "example.invalid/sidecar:1"})
	tpl.Spec.InitContainers = []corev1.Container{{Name: "setup", Image: "example.invalid/setup:1"}}
	dep := f.deployment("api", id, 3, tpl)
	rs := f.replicaSetOf(dep)
	rsPods := f.controlledPods(rs.UID, 3)
	crashing, pending, running := rsPods[0].Name, rsPods[1].Name, rsPods[2].Name
	f.bind(running, fakeNode)
	started := metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	f.setPodStatus(crashing, func(s *corev1.PodStatus) {
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
	})
	f.pod("direct", podOpts{node: gone, labels: idMeta(id), status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{terminatedContainer("app", "Error", 1)}
		s.ContainerStatuses[0].State.Terminated.Message = "exit 1"
	}})
	f.pod("other", podOpts{labels: idMeta(uuid.New())})
	f2.pod("api-2-x", podOpts{node: gone, annotations: idMeta(id)})
	f.waitPod(running, runningReady)

	// The controllers' events about the workload: the Deployment scaled its ReplicaSet up,
	// which created the pods.
	var controlled []string // the objects they are about
	eventually(t, "events of deployment api", func() (bool, error) {
		list, err := env.Kube.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		controlled = controlled[:0]
		var got []string
		for _, e := range list.Items {
			controlled = append(controlled, e.InvolvedObject.Name)
			got = append(got, e.InvolvedObject.Kind+"/"+e.InvolvedObject.Name+" "+e.Reason+": "+e.Message)
		}
		want := []string{fmt.Sprintf("Deployment/api ScalingReplicaSet: Scaled up replica set %s from 0 to 3", rs.Name)}
		for _, p := range rsPods {
			want = append(want, fmt.Sprintf("ReplicaSet/%s SuccessfulCreate: Created pod: %s", rs.Name, p.Name))
		}
		return sameSet(got, want), fmt.Errorf("events %q", got)
	})

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
	lim.MaxEvents = len(controlled) + 4 // four of the five events above
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
	wantNames := []string{ns + "/" + crashing, ns + "/" + pending, ns + "/" + running, ns + "/direct", ns2 + "/api-2-x"}
	if ns2 < ns {
		wantNames = append([]string{ns2 + "/api-2-x"}, wantNames[:4]...)
	}
	if !reflect.DeepEqual(names, wantNames) {
		t.Fatalf("pods %v, want %v", names, wantNames)
	}
	statuses := decode[[]client.DiagnosticPod](t, res.PodStatuses)
	var a client.DiagnosticPod
	for _, p := range statuses {
		if p.Name == crashing {
			a = p
		}
	}
	s := func(v string) *string { return &v }
	wantA := client.DiagnosticPod{Name: crashing, Namespace: ns, Phase: "Running",
		Conditions: []client.DiagnosticPodCondition{
			{ConditionType: "Ready", Status: "False", Reason: s("ContainersNotReady"), Message: s("containers with unready status: [sidecar]")},
			{ConditionType: "PodScheduled", Status: "True"},
		},
		Containers: []client.DiagnosticContainer{
			{Name: "app", Ready: true, State: "Running", StateMessage: s("Started at 2026-01-02T03:04:05Z")},
			{Name: "sidecar", RestartCount: 3, State: "Waiting", StateReason: s("CrashLoopBackOff"), StateMessage: s("back-off 10s")},
		}}
	if !reflect.DeepEqual(a, wantA) {
		ga, _ := json.Marshal(a)
		wa, _ := json.Marshal(wantA)
		t.Errorf("pod %s\n got %s\nwant %s", crashing, ga, wa)
	}
	raw := decode[[]map[string]any](t, res.PodStatuses)
	for _, key := range []string{"name", "namespace", "phase", "conditions", "containers"} {
		if _, ok := raw[0][key]; !ok {
			t.Errorf("pod status lacks %q: %v", key, raw[0])
		}
	}
	for _, p := range statuses {
		switch p.Name {
		case pending, "api-2-x": // never scheduled or never run: no status, containers waiting
			want := map[string]int{pending: 2, "api-2-x": 1}[p.Name]
			if p.Phase != "Pending" || len(p.Conditions) != 0 || len(p.Containers) != want {
				t.Errorf("pod that never ran %+v", p)
			}
			for _, c := range p.Containers {
				if c.State != client.ContainerWaiting || c.StateReason != nil || c.Ready {
					t.Errorf("pod %s: container that never ran %+v", p.Name, c)
				}
			}
		case running: // run by kwok
			if p.Phase != "Running" || len(p.Containers) != 2 {
				t.Errorf("running pod %+v", p)
			}
			for _, c := range p.Containers {
				if c.State != client.ContainerRunning || !c.Ready || c.StateMessage == nil || !strings.HasPrefix(*c.StateMessage, "Started at ") {
					t.Errorf("pod %s: running container %+v", p.Name, c)
				}
			}
		case "direct":
			c := p.Containers[0]
			if p.Phase != "Failed" || c.State != client.ContainerTerminated || *c.StateReason != "Error" || *c.StateMessage != "exit 1" {
				t.Errorf("failed pod %+v %+v", p, c)
			}
		}
	}

	// Events: newest first across both namespaces: the controllers' events and e5 (all from
	// the last minute, in either order), then four of the five test events.
	events := decode[[]client.DiagnosticEvent](t, res.Events)
	var order []string
	for _, e := range events {
		order = append(order, e.InvolvedObject)
	}
	newest := len(controlled) + 1
	if len(order) != lim.MaxEvents || !sameSet(order[:newest], append([]string{"pod-e5"}, controlled...)) ||
		!reflect.DeepEqual(order[newest:], []string{"pod-e2", "pod-e4", "pod-e3"}) {
		t.Fatalf("events %v, want %v and e5, then pod-e2, pod-e4, pod-e3", order, controlled)
	}
	for n := 1; n < len(events); n++ {
		if events[n].LastTimestamp.After(*events[n-1].LastTimestamp) {
			t.Errorf("event %d (%s, %v) is newer than event %d (%s, %v)", n, order[n], events[n].LastTimestamp, n-1, order[n-1], events[n-1].LastTimestamp)
		}
	}
	byObject := map[string]client.DiagnosticEvent{}
	for _, e := range events {
		byObject[e.InvolvedObject] = e
	}
	e2 := byObject["pod-e2"]
	if *e2.EventType != "Warning" || *e2.Reason != "Reason-e2" || *e2.Message != "message of e2" || *e2.InvolvedObjectKind != "Pod" ||
		!e2.FirstTimestamp.Equal(base.Add(2*time.Minute)) || !e2.LastTimestamp.Equal(base.Add(5*time.Minute)) || *e2.Count != 1 {
		t.Errorf("event e2 %+v", e2)
	}
	if e3 := byObject["pod-e3"]; !e3.LastTimestamp.Equal(base.Add(3*time.Minute)) || !e3.FirstTimestamp.Equal(base.Add(3*time.Minute)) {
		t.Errorf("event e3 times %v %v", e3.FirstTimestamp, e3.LastTimestamp)
	}
	if e5 := byObject["pod-e5"]; time.Since(*e5.LastTimestamp) > time.Minute {
		t.Errorf("event e5 last %v", e5.LastTimestamp)
	}
	if e := byObject["api"]; *e.Reason != "ScalingReplicaSet" || *e.InvolvedObjectKind != "Deployment" || *e.EventType != "Normal" ||
		time.Since(*e.LastTimestamp) > time.Minute || *e.Count != 1 {
		t.Errorf("event of the deployment %+v", e)
	}
	rawEvents := decode[[]map[string]any](t, res.Events)
	for _, key := range []string{"event_type", "reason", "message", "involved_object", "involved_object_kind", "first_timestamp", "last_timestamp", "count"} {
		if _, ok := rawEvents[0][key]; !ok {
			t.Errorf("event lacks %q: %v", key, rawEvents[0])
		}
	}

	// Log tails: every container, including init containers. kwok serves its canned log for
	// the pod it runs; the apiserver answers an empty log for a pod without a node, and
	// pods on a node that does not exist give errors.
	if res.LogTails == nil {
		t.Fatal("no log tails")
	}
	logs := decode[map[string]string](t, *res.LogTails)
	canned := strings.Join(kubetest.FakeContainerLog, "\n") + "\n"
	var keys []string
	for k, v := range logs {
		keys = append(keys, k)
		pod, _, _ := strings.Cut(k, "/")
		switch pod {
		case running:
			if v != canned {
				t.Errorf("log %s = %q, want %q", k, v, canned)
			}
		case crashing, pending:
			if v != "" {
				t.Errorf("log %s = %q", k, v)
			}
		default:
			if !strings.HasPrefix(v, "Error: ") || !strings.Contains(v, gone) {
				t.Errorf("log %s = %q", k, v)
			}
		}
	}
	t.Logf("log of a pod on a missing node: %q", logs["direct/app"])
	var wantKeys []string
	for _, p := range rsPods {
		wantKeys = append(wantKeys, p.Name+"/app", p.Name+"/setup", p.Name+"/sidecar")
	}
	wantKeys = append(wantKeys, "api-2-x/app", "direct/app")
	if !sameSet(keys, wantKeys) {
		t.Errorf("log keys %v, want %v", keys, wantKeys)
	}
	full := bodySize(t, res)
	if full > lim.MaxTotalBytes {
		t.Errorf("body %d bytes", full)
	}

	// Times are encoded with as many digits as they need: a body, and the note about cut log
	// tails with its two times, may be up to timeJitter bytes shorter or longer than another.
	const timeJitter = 10
	withoutLogs := func(r client.SubmitDiagnosticResult) int {
		r.CollectedAt = time.Time{}
		return bodySize(t, withLogs(r, map[string]string{}))
	}
	// A size limit a little short of the result cuts the log tails to the room left; the
	// note about the cut heads the events, which are kept whole.
	lim.MaxTotalBytes = full - 3*timeJitter
	cut := checkCut(t, insp, id, []string{ns, ns2}, lim, res, ns, true)
	// A limit that leaves no room for the note cuts the log tails further; the events are
	// kept whole, without the note.
	noteCost := withoutLogs(cut) - withoutLogs(res)
	lim.MaxTotalBytes = withoutLogs(res) + noteCost - 3*timeJitter
	checkCut(t, insp, id, []string{ns, ns2}, lim, res, ns, false)

	// A limit no result can meet is an error.
	lim.MaxTotalBytes = 40
	if _, err := insp.Collect(ctx, id, []string{ns}, lim); err == nil {
		t.Error("a 40-byte limit was met")
	}
}

// withLogs returns res with the log tails logs.
func withLogs(res client.SubmitDiagnosticResult, logs map[string]string) client.SubmitDiagnosticResult {
	b, _ := json.Marshal(logs)
	s := string(b)
	res.LogTails = &s
	return res
}

// checkCut collects again under lim, which is too small for the log tails of full (the
// result without a limit): the body fits, the pods are those of full, the events are full's,
// headed by the note about cut log tails (of namespace ns) when note is set, and the log
// tails are full's as fitLogs (see TestFitLogs) cuts them to the room left.
func checkCut(t *testing.T, insp *Inspector, id uuid.UUID, namespaces []string, lim Limits, full client.SubmitDiagnosticResult, ns string, note bool) client.SubmitDiagnosticResult {
	t.Helper()
	cut, err := insp.Collect(context.Background(), id, namespaces, lim)
	if err != nil {
		t.Fatal(err)
	}
	if n := bodySize(t, cut); n > lim.MaxTotalBytes {
		t.Errorf("limit %d: body %d bytes", lim.MaxTotalBytes, n)
	}
	if cut.PodStatuses != full.PodStatuses {
		t.Errorf("limit %d: pod statuses changed", lim.MaxTotalBytes)
	}
	events := decode[[]client.DiagnosticEvent](t, cut.Events)
	if note {
		if len(events) == 0 || *events[0].Reason != NoteLogTailsTruncated || *events[0].EventType != corev1.EventTypeWarning ||
			events[0].InvolvedObject != ns || !strings.Contains(*events[0].Message, fmt.Sprint(lim.MaxTotalBytes)) {
			t.Fatalf("limit %d: events %s, want the note about cut log tails first", lim.MaxTotalBytes, cut.Events)
		}
		events = events[1:]
	}
	if got, _ := json.Marshal(events); string(got) != full.Events {
		t.Errorf("limit %d: events\n got %s\nwant %s", lim.MaxTotalBytes, cut.Events, full.Events)
	}
	logs := decode[map[string]string](t, *full.LogTails)
	want := fitLogs(logs, lim.MaxTotalBytes-bodySize(t, withLogs(cut, map[string]string{})))
	got := decode[map[string]string](t, *cut.LogTails)
	if !reflect.DeepEqual(got, want) || reflect.DeepEqual(got, logs) {
		t.Errorf("limit %d: log tails\n got %q\nwant %q cut from %q", lim.MaxTotalBytes, got, want, logs)
	}
	return cut
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
	gone := f.goneNode()
	for _, n := range []string{"p3", "p1", "p2"} {
		f.pod(n, podOpts{node: gone, labels: idMeta(id)})
	}
	newFixture(t, env.Kube, other).pod("hidden", podOpts{labels: idMeta(id)})

	var rc kubetest.RequestCounter
	insp := newInspector(t, rc.Wrap(env.Config))
	insp.WatchNamespace = ns
	res, err := insp.Collect(context.Background(), id, []string{other, ns}, Limits{MaxPods: 2})
	if err != nil {
		t.Fatal(err)
	}
	pods := decode[[]client.DiagnosticPod](t, res.PodStatuses)
	if len(pods) != 2 || pods[0].Name != "p1" || pods[1].Name != "p2" {
		t.Errorf("pods %+v", pods)
	}
	events := decode[[]client.DiagnosticEvent](t, res.Events)
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
