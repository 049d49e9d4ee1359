package workload

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/client"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"
)

func TestNamespaces(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, manifest, fallback string
		want                     []string
	}{
		{"empty manifest", "", "", []string{"default"}},
		{"empty manifest with fallback", "", "team-a", []string{"team-a"}},
		{"no namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", "", []string{"default"}},
		{"no namespace with fallback", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n", "watched", []string{"watched"}},
		{"distinct in order", `
apiVersion: v1
kind: ConfigMap
metadata: {name: a, namespace: beta}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: b, namespace: alpha}
---
apiVersion: v1
kind: Service
metadata: {name: c, namespace: beta}
---
---
apiVersion: v1
kind: Secret
metadata: {name: d}
`, "", []string{"beta", "alpha", "default"}},
		{"cluster-scoped kinds contribute nothing", `
apiVersion: v1
kind: Namespace
metadata: {name: apps}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.example.com}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: reader}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: reader, namespace: apps}
`, "", []string{"apps"}},
		{"only cluster-scoped", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: x\n", "fb", []string{"fb"}},
		{"list items", `
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: a, namespace: one}
- apiVersion: v1
  kind: Namespace
  metadata: {name: two}
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: b}
`, "", []string{"one", "default"}},
		{"blank namespace", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  namespace: \"  \"\n", "", []string{"default"}},
		{"invalid yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: x}\n---\nkind: [unclosed\n", "fb", []string{"fb"}},
		{"invalid yaml without fallback", "a: b: c\n", "", []string{"default"}},
		{"scalar document", "just text\n", "", []string{"default"}},
	}
	for _, c := range cases {
		if got := Namespaces(c.manifest, c.fallback, nil); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
}

// TestNamespacesWithMapper asks the cluster which kinds are cluster-scoped.
func TestNamespacesWithMapper(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(env.Kube.Discovery()))
	manifest := `
apiVersion: authentication.k8s.io/v1
kind: TokenReview
metadata: {name: a, namespace: not-a-namespace}
---
apiVersion: example.com/v1
kind: Widget
metadata: {name: w, namespace: widgets}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: r}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: c}
`
	// TokenReview is cluster-scoped only by the mapper's account; Widget is unknown to both
	// and taken as namespaced.
	if got, want := Namespaces(manifest, "", mapper), []string{"widgets", "default"}; !reflect.DeepEqual(got, want) {
		t.Errorf("with mapper %q, want %q", got, want)
	}
	if got, want := Namespaces(manifest, "", nil), []string{"not-a-namespace", "widgets", "default"}; !reflect.DeepEqual(got, want) {
		t.Errorf("without mapper %q, want %q", got, want)
	}
}

func TestAssessPod(t *testing.T) {
	t.Parallel()
	pod := func(set func(*corev1.PodStatus)) *corev1.Pod {
		p := &corev1.Pod{}
		set(&p.Status)
		return p
	}
	cases := []struct {
		name       string
		pod        *corev1.Pod
		status     string
		conditions []string
	}{
		{"running", pod(running(true, runningContainer("a", true))), client.HealthHealthy, nil},
		{"pending without reasons", pod(func(s *corev1.PodStatus) {
			s.Phase = corev1.PodPending
			s.ContainerStatuses = []corev1.ContainerStatus{waitingContainer("a", "ContainerCreating", "")}
		}), client.HealthHealthy, nil},
		{"each degraded waiting reason", pod(func(s *corev1.PodStatus) {
			for _, r := range []string{"ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError", "InvalidImageName", "RunContainerError", "ContainerCannotRun"} {
				s.ContainerStatuses = append(s.ContainerStatuses, waitingContainer(r, r, ""))
			}
		}), client.HealthDegraded, []string{"ImagePullBackOff", "ErrImagePull", "CrashLoopBackOff", "CreateContainerConfigError", "InvalidImageName", "RunContainerError", "ContainerCannotRun"}},
		{"terminated reasons", pod(func(s *corev1.PodStatus) {
			s.ContainerStatuses = []corev1.ContainerStatus{terminatedContainer("a", "Error", 1), terminatedContainer("b", "Completed", 0), terminatedContainer("c", "ContainerCannotRun", 128)}
		}), client.HealthDegraded, []string{"Error", "ContainerCannotRun"}},
		{"init container", pod(func(s *corev1.PodStatus) {
			s.InitContainerStatuses = []corev1.ContainerStatus{waitingContainer("i", "ErrImagePull", "")}
		}), client.HealthDegraded, []string{"InitContainer:ErrImagePull"}},
		{"failed wins over degraded", pod(func(s *corev1.PodStatus) {
			s.Phase = corev1.PodFailed
			s.ContainerStatuses = []corev1.ContainerStatus{waitingContainer("a", "CrashLoopBackOff", "")}
		}), client.HealthFailing, []string{"CrashLoopBackOff", "PodFailed"}},
		{"degraded wins over unknown", pod(func(s *corev1.PodStatus) {
			s.Phase = corev1.PodUnknown
			s.ContainerStatuses = []corev1.ContainerStatus{waitingContainer("a", "ImagePullBackOff", "")}
		}), client.HealthDegraded, []string{"ImagePullBackOff", "PodUnknown"}},
		{"unknown", pod(func(s *corev1.PodStatus) { s.Phase = corev1.PodUnknown }), client.HealthUnknown, []string{"PodUnknown"}},
	}
	for _, c := range cases {
		a := assessPod(c.pod)
		if a.status != c.status || !reflect.DeepEqual(a.conditions, c.conditions) {
			t.Errorf("%s: %s %q, want %s %q", c.name, a.status, a.conditions, c.status, c.conditions)
		}
	}
}

func TestAssessWorkloads(t *testing.T) {
	t.Parallel()
	i32 := func(n int32) *int32 { return &n }
	yes := true
	meta := metav1.ObjectMeta{Name: "w", Namespace: "ns"}
	cases := []struct {
		name       string
		v          workloadVerdict
		status     string
		conditions []string
		wantsPods  bool
	}{
		{"deployment ready", assessDeployment(&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: i32(2)},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 2}}), client.HealthHealthy, nil, true},
		{"deployment scaled to zero", assessDeployment(&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: i32(0)}}),
			client.HealthHealthy, nil, false},
		{"deployment default replicas", assessDeployment(&appsv1.Deployment{ObjectMeta: meta}), client.HealthDegraded, []string{"ReplicasNotReady:Deployment/w"}, true},
		{"deployment stalled", assessDeployment(&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: i32(1)},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 1, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded"},
			}}}), client.HealthDegraded, []string{"ProgressDeadlineExceeded:Deployment/w"}, true},
		{"deployment progressing", assessDeployment(&appsv1.Deployment{ObjectMeta: meta, Spec: appsv1.DeploymentSpec{Replicas: i32(1)},
			Status: appsv1.DeploymentStatus{ReadyReplicas: 1, Conditions: []appsv1.DeploymentCondition{
				{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionTrue, Reason: "NewReplicaSetAvailable"},
				{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue},
			}}}), client.HealthHealthy, nil, true},
		{"statefulset", assessStatefulSet(&appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Replicas: i32(3)},
			Status: appsv1.StatefulSetStatus{ReadyReplicas: 3}}), client.HealthHealthy, nil, true},
		{"daemonset nowhere to run", assessDaemonSet(&appsv1.DaemonSet{ObjectMeta: meta}), client.HealthHealthy, nil, false},
		{"job running", assessJob(&batchv1.Job{ObjectMeta: meta}), client.HealthHealthy, nil, true},
		{"job suspended", assessJob(&batchv1.Job{ObjectMeta: meta, Spec: batchv1.JobSpec{Suspend: &yes}}), client.HealthHealthy, nil, false},
		{"job complete", assessJob(&batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}}}), client.HealthHealthy, nil, false},
		{"job failed", assessJob(&batchv1.Job{ObjectMeta: meta, Status: batchv1.JobStatus{Conditions: []batchv1.JobCondition{
			{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "DeadlineExceeded"}}}}), client.HealthFailing, []string{"JobFailed:Job/w"}, false},
	}
	for _, c := range cases {
		if c.v.status != c.status || !reflect.DeepEqual(c.v.conditions, c.conditions) || c.v.wantsPods != c.wantsPods {
			t.Errorf("%s: %s %q wantsPods=%v, want %s %q %v", c.name, c.v.status, c.v.conditions, c.v.wantsPods, c.status, c.conditions, c.wantsPods)
		}
	}
	if w := worse(client.HealthUnknown, client.HealthDegraded); w != client.HealthDegraded {
		t.Errorf("worse(unknown, degraded) = %s", w)
	}
	if w := worse(client.HealthFailing, client.HealthUnknown); w != client.HealthFailing {
		t.Errorf("worse(failing, unknown) = %s", w)
	}
}

func TestEventTimes(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(m int) metav1.Time { return metav1.NewTime(t0.Add(time.Duration(m) * time.Minute)) }
	cases := []struct {
		name        string
		ev          corev1.Event
		first, last time.Time
		count       int32
	}{
		{"legacy", corev1.Event{FirstTimestamp: at(1), LastTimestamp: at(5), Count: 3}, t0.Add(time.Minute), t0.Add(5 * time.Minute), 3},
		{"event time with series", corev1.Event{EventTime: metav1.NewMicroTime(t0.Add(2 * time.Minute)),
			Series: &corev1.EventSeries{Count: 7, LastObservedTime: metav1.NewMicroTime(t0.Add(9 * time.Minute))}},
			t0.Add(2 * time.Minute), t0.Add(9 * time.Minute), 7},
		{"first only", corev1.Event{FirstTimestamp: at(4)}, t0.Add(4 * time.Minute), t0.Add(4 * time.Minute), 1},
		{"creation only", corev1.Event{ObjectMeta: metav1.ObjectMeta{CreationTimestamp: at(8)}}, t0.Add(8 * time.Minute), t0.Add(8 * time.Minute), 1},
	}
	for _, c := range cases {
		info, last := eventInfo(&c.ev)
		if !last.Equal(c.last) || !info.LastTimestamp.Equal(c.last) || !info.FirstTimestamp.Equal(c.first) || *info.Count != c.count {
			t.Errorf("%s: first %v last %v (%v) count %d", c.name, info.FirstTimestamp, info.LastTimestamp, last, *info.Count)
		}
		if info.InvolvedObject != "unknown" || info.EventType != nil {
			t.Errorf("%s: %+v", c.name, info)
		}
	}
}

// tricky holds characters that JSON escapes, once or twice.
const tricky = "line \"quoted\" <b>&amp;</b> \\ tab\t ü € \u2028 \x01\n"

func testLogs() map[string]string {
	return map[string]string{
		"small/app":  "ok\n",
		"medium/app": strings.Repeat("medium "+tricky, 60),
		"large/app":  strings.Repeat("large line "+tricky, 800),
		"bad/utf8":   strings.Repeat("a\xffb\xc3", 500) + "\n",
		"<html>/&":   strings.Repeat("x", 2000),
	}
}

// TestEntryCostIsExact checks the size model fitLogs relies on against encoding/json.
func TestEntryCostIsExact(t *testing.T) {
	t.Parallel()
	logs := testLogs()
	at := time.Now().UTC()
	_, base, err := encodeResult(nil, nil, map[string]string{}, at)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= len(logs); n++ {
		sub := map[string]string{}
		sum := 0
		for k, v := range logs {
			if len(sub) == n {
				break
			}
			sub[k] = v
			sum += entryCost(k, v)
		}
		_, size, err := encodeResult(nil, nil, sub, at)
		if err != nil {
			t.Fatal(err)
		}
		if want := base + sum + len(sub) - 1; size != want {
			t.Errorf("%d entries: body %d bytes, model %d", n, size, want)
		}
	}
}

func TestFitLogs(t *testing.T) {
	t.Parallel()
	logs := testLogs()
	total := len(logs) - 1
	for k, v := range logs {
		total += entryCost(k, v)
	}
	if got := fitLogs(logs, total); !reflect.DeepEqual(got, logs) {
		t.Error("logs that fit were changed")
	}
	for _, budget := range []int{total - 1, total / 2, total / 5, 20000, 5000, 1200, 600, 300, 100, 10, 0, -5} {
		got := fitLogs(logs, budget)
		used := len(got) - 1
		for k, v := range got {
			used += entryCost(k, v)
			orig := logs[k]
			switch {
			case v == orig, v == "":
			case strings.HasPrefix(v, "[truncated: the last "):
				marker, tail, _ := strings.Cut(v, "]\n")
				var kept, of int
				if _, err := fmt.Sscanf(marker, "[truncated: the last %d of %d bytes", &kept, &of); err != nil || kept != len(tail) || of != len(orig) {
					t.Errorf("budget %d, %s: marker %q for %d of %d bytes", budget, k, marker, len(tail), len(orig))
				}
				if !strings.HasSuffix(orig, tail) {
					t.Errorf("budget %d, %s: kept text is not the end of the log", budget, k)
				}
			default:
				t.Errorf("budget %d, %s: changed without a mark: %.60q", budget, k, v)
			}
		}
		if len(got) > 0 && used > budget {
			t.Errorf("budget %d: entries use %d bytes", budget, used)
		}
	}
	// Fair shares: the small and the medium entries stay whole while the large one is cut.
	medium := entryCost("medium/app", logs["medium/app"])
	got := fitLogs(logs, 5*medium+6000)
	if got["small/app"] != logs["small/app"] || got["medium/app"] != logs["medium/app"] {
		t.Error("small entries were cut")
	}
	if !strings.HasPrefix(got["large/app"], "[truncated: ") || len(got["large/app"]) < medium {
		t.Errorf("large entry: %d bytes", len(got["large/app"]))
	}
	// A cut starts on a line when that keeps at least half.
	lines := map[string]string{"k": strings.Repeat("0123456789abcdefghi\n", 100)}
	cut := fitLogs(lines, 500)["k"]
	if _, tail, _ := strings.Cut(cut, "]\n"); !strings.HasPrefix(tail, "0123") {
		t.Errorf("cut mid-line: %q", cut)
	}
}

func TestFitResult(t *testing.T) {
	t.Parallel()
	at := time.Now().UTC()
	pods := []client.DiagnosticPod{{Name: "p", Namespace: "ns", Phase: "Running", Conditions: []client.DiagnosticPodCondition{}, Containers: []client.DiagnosticContainer{{Name: "app", State: client.ContainerRunning}}}}
	var events []client.DiagnosticEvent
	for n := 0; n < 20; n++ {
		events = append(events, note("Reason"+fmt.Sprint(n), "ns", strings.Repeat("event message ", 10), at))
	}
	logNote := note(NoteLogTailsTruncated, "ns", "cut", at)
	logs := testLogs()
	full, fullSize, err := encodeResult(pods, events, logs, at)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fitResult(pods, events, logs, logNote, at, fullSize)
	if err != nil || !reflect.DeepEqual(res, full) {
		t.Errorf("a result that fits was changed: %v", err)
	}
	_, roomy, err := encodeResult(pods, append([]client.DiagnosticEvent{logNote}, events...), map[string]string{}, at)
	if err != nil {
		t.Fatal(err)
	}
	for _, max := range []int{fullSize - 1, fullSize / 2, fullSize / 4, roomy + 2000, roomy, roomy - 1, 3000, 1000, 400} {
		res, err := fitResult(pods, events, logs, logNote, at, max)
		if err != nil {
			t.Errorf("max %d: %v", max, err)
			continue
		}
		b, _ := json.Marshal(res)
		if len(b) > max {
			t.Errorf("max %d: body of %d bytes", max, len(b))
		}
		var evs []client.DiagnosticEvent
		if err := json.Unmarshal([]byte(res.Events), &evs); err != nil {
			t.Fatal(err)
		}
		switch {
		case max > roomy:
			// Room for everything but the logs: events all kept, the note first, logs marked.
			if len(evs) != len(events)+1 || *evs[0].Reason != NoteLogTailsTruncated || res.PodStatuses != full.PodStatuses {
				t.Errorf("max %d: %d events, first %v", max, len(evs), *evs[0].Reason)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(*res.LogTails), &got); err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(got["large/app"], "[truncated: the last ") || got["small/app"] != "ok\n" {
				t.Errorf("max %d: logs %.80q / %q", max, got["large/app"], got["small/app"])
			}
		case max == roomy-1:
			// No room for the note: the events are kept without it.
			if len(evs) != len(events) || *evs[0].Reason != "Reason0" {
				t.Errorf("max %d: %d events, first %v", max, len(evs), *evs[0].Reason)
			}
		case max < 3000:
			// Events go, oldest first.
			if len(evs) >= len(events) || (len(evs) > 0 && *evs[0].Reason != "Reason0") {
				t.Errorf("max %d: %d events", max, len(evs))
			}
		}
	}
	if _, err := fitResult(pods, events, logs, logNote, at, 50); err == nil {
		t.Error("a 50-byte limit was met")
	}
}
