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
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

var (
	gvkDeployment  = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	gvkStatefulSet = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "StatefulSet"}
	gvkDaemonSet   = schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "DaemonSet"}
	gvkJob         = schema.GroupVersionKind{Group: "batch", Version: "v1", Kind: "Job"}
	gvkPod         = schema.GroupVersionKind{Version: "v1", Kind: "Pod"}
	gvkConfigMap   = schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
)

// want is the expected report of one tracked object.
type want struct {
	status     string
	total      int32
	ready      int32
	conditions []string
	resources  []string // "Kind/name ready=<bool>: <message>"
}

func resourceStrings(rs []client.ResourceHealth) []string {
	var out []string
	for _, r := range rs {
		s := r.Kind + "/" + r.Namespace + "/" + r.Name
		if r.Ready {
			s += " ready"
		}
		if r.Message != nil {
			s += ": " + *r.Message
		}
		out = append(out, s)
	}
	return out
}

func checkReport(t *testing.T, name string, got client.DeploymentObjectHealthUpdate, id uuid.UUID, ns string, w want) {
	t.Helper()
	if got.ID != id {
		t.Errorf("%s: id %s, want %s", name, got.ID, id)
	}
	if got.Status != w.status {
		t.Errorf("%s: status %q, want %q", name, got.Status, w.status)
	}
	if got.Summary == nil {
		t.Fatalf("%s: no summary", name)
	}
	if got.Summary.PodsTotal != w.total || got.Summary.PodsReady != w.ready {
		t.Errorf("%s: pods %d/%d, want %d/%d", name, got.Summary.PodsReady, got.Summary.PodsTotal, w.ready, w.total)
	}
	if w.conditions == nil {
		w.conditions = []string{}
	}
	if !reflect.DeepEqual(got.Summary.Conditions, w.conditions) {
		t.Errorf("%s: conditions %q, want %q", name, got.Summary.Conditions, w.conditions)
	}
	var wantRes []string
	for _, r := range w.resources {
		k, rest, _ := strings.Cut(r, "/")
		wantRes = append(wantRes, k+"/"+ns+"/"+rest)
	}
	if gotRes := resourceStrings(got.Summary.Resources); !reflect.DeepEqual(gotRes, wantRes) {
		t.Errorf("%s: resources\n got %q\nwant %q", name, gotRes, wantRes)
	}
	if time.Since(got.CheckedAt) > time.Minute || got.CheckedAt.Location() != time.UTC {
		t.Errorf("%s: checked_at %v", name, got.CheckedAt)
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	f := newFixture(t, env.Kube, ns)
	ctx := context.Background()
	ids := map[string]uuid.UUID{}
	for _, k := range []string{"web", "oom", "failed", "init", "config", "gone", "job", "ok", "ghost", "unknown-objects", "mixed", "phase-unknown", "sts", "ds", "untracked"} {
		ids[k] = uuid.New()
	}

	// web: Deployment (annotated) → ReplicaSet → two pods, one ready, one in ImagePullBackOff;
	// the Deployment reports 1 of 2 replicas ready and is not available. A third pod points
	// at the ReplicaSet's name with another uid and does not belong.
	web := f.deployment("web", ids["web"], 2, &appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 1, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionFalse, Reason: "MinimumReplicasUnavailable", Message: "Deployment does not have minimum availability."},
	}})
	rs := f.replicaSet("web-1", web)
	rsRef := controllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)
	f.pod("web-1-a", podOpts{owner: &rsRef, status: running(true, runningContainer("app", true))})
	f.pod("web-1-b", podOpts{owner: &rsRef, status: running(false, waitingContainer("app", "ImagePullBackOff", "Back-off pulling image"))})
	imposter := controllerRef("apps/v1", "ReplicaSet", rs.Name, types.UID(uuid.NewString()))
	f.pod("web-1-imposter", podOpts{owner: &imposter, status: running(true, runningContainer("app", true))})

	// oom: labelled pod whose container was OOMKilled.
	f.pod("oom", podOpts{labels: idMeta(ids["oom"]), status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodRunning
		s.ContainerStatuses = []corev1.ContainerStatus{terminatedContainer("app", "OOMKilled", 137)}
	}})
	// failed: annotated pod in phase Failed.
	f.pod("failed", podOpts{annotations: idMeta(ids["failed"]), status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.Reason, s.Message = "Evicted", "The node was low on resource: memory."
	}})
	// init: an init container in CrashLoopBackOff.
	f.pod("init", podOpts{labels: idMeta(ids["init"]), initContainers: []string{"setup"}, status: func(s *corev1.PodStatus) {
		s.Phase = corev1.PodPending
		s.InitContainerStatuses = []corev1.ContainerStatus{waitingContainer("setup", "CrashLoopBackOff", "back-off 5m0s restarting failed container")}
		s.ContainerStatuses = []corev1.ContainerStatus{waitingContainer("app", "PodInitializing", "")}
	}})
	// job: a Job that failed.
	job, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: ns, Annotations: idMeta(ids["job"])},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "run", Image: "example.invalid/run:1"}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	start := metav1.NewTime(time.Now().Add(-time.Minute))
	now := metav1.Now()
	job.Status = batchv1.JobStatus{StartTime: &start, Failed: 1, Conditions: []batchv1.JobCondition{
		{Type: batchv1.JobFailureTarget, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
		{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded", Message: "Job has reached the specified backoff limit", LastTransitionTime: now},
	}}
	if _, err := env.Kube.BatchV1().Jobs(ns).UpdateStatus(ctx, job, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("job status: %v", err)
	}
	// ok: a healthy Deployment with its ready pod.
	okDep := f.deployment("ok", ids["ok"], 1, &appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1, Conditions: []appsv1.DeploymentCondition{
		{Type: appsv1.DeploymentAvailable, Status: corev1.ConditionTrue, Reason: "MinimumReplicasAvailable"},
	}})
	okRS := f.replicaSet("ok-1", okDep)
	okRef := controllerRef("apps/v1", "ReplicaSet", okRS.Name, okRS.UID)
	f.pod("ok-1-a", podOpts{owner: &okRef, status: running(true, runningContainer("app", true))})
	// ghost: a Deployment that claims to be ready but whose pods are nowhere.
	f.deployment("ghost", ids["ghost"], 1, &appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1})
	// mixed: a ready pod that was OOMKilled before, and a pod in phase Unknown.
	f.pod("mixed-restarted", podOpts{labels: idMeta(ids["mixed"]), status: func(s *corev1.PodStatus) {
		running(true, runningContainer("app", true))(s)
		s.ContainerStatuses[0].RestartCount = 2
		s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}
	}})
	f.pod("mixed-lost", podOpts{labels: idMeta(ids["mixed"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodUnknown }})
	f.pod("lost", podOpts{labels: idMeta(ids["phase-unknown"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodUnknown }})
	// sts / ds: a StatefulSet and a DaemonSet short of ready pods.
	_, err = env.Kube.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := env.Kube.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns, Annotations: idMeta(ids["ds"])},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent")},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds.Status = appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, CurrentNumberScheduled: 2, NumberReady: 1}
	if _, err := env.Kube.AppsV1().DaemonSets(ns).UpdateStatus(ctx, ds, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	dsPodOwner := controllerRef("apps/v1", "DaemonSet", ds.Name, ds.UID)
	f.pod("agent-x", podOpts{owner: &dsPodOwner, status: running(true, runningContainer("app", true))})
	// A pod of an id nobody tracks.
	f.pod("stranger", podOpts{labels: idMeta(ids["untracked"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed }})

	obj := func(gvk schema.GroupVersionKind, name string) Object {
		return Object{GVK: gvk, Namespace: ns, Name: name}
	}
	tracked := []Tracked{
		{ID: ids["web"], Objects: []Object{obj(gvkDeployment, "web")}},
		{ID: ids["oom"], Objects: []Object{obj(gvkPod, "oom")}},
		{ID: ids["failed"], Objects: []Object{obj(gvkPod, "failed")}},
		{ID: ids["init"], Objects: []Object{obj(gvkConfigMap, "settings"), obj(gvkPod, "init")}},
		{ID: ids["config"], Objects: []Object{obj(gvkConfigMap, "settings")}},
		{ID: ids["gone"], Objects: []Object{obj(gvkDeployment, "gone"), obj(gvkPod, "vanished"), obj(gvkConfigMap, "x")}},
		{ID: ids["job"], Objects: []Object{obj(gvkJob, "batch")}},
		{ID: ids["ok"], Objects: []Object{obj(gvkDeployment, "ok")}},
		{ID: ids["ghost"], Objects: []Object{obj(gvkDeployment, "ghost")}},
		{ID: ids["unknown-objects"]},
		{ID: ids["mixed"], Objects: []Object{obj(gvkConfigMap, "c")}},
		{ID: ids["phase-unknown"], Objects: []Object{obj(gvkConfigMap, "c")}},
		{ID: ids["sts"], Objects: []Object{obj(gvkStatefulSet, "db")}},
		{ID: ids["ds"], Objects: []Object{obj(gvkDaemonSet, "agent")}},
	}

	var rc kubetest.RequestCounter
	insp := newInspector(t, rc.Wrap(env.Config))
	// The mapper's discovery requests are not part of a pass.
	if _, err := insp.Mapper.RESTMapping(schema.GroupKind{Group: "apps", Kind: "ReplicaSet"}); err != nil {
		t.Fatal(err)
	}
	rc.Reset()
	got := insp.Health(ctx, tracked)
	if len(got) != len(tracked) {
		t.Fatalf("%d reports for %d objects", len(got), len(tracked))
	}

	wants := []want{
		{status: client.HealthDegraded, total: 2, ready: 1,
			conditions: []string{"ImagePullBackOff", "Unavailable:Deployment/web", "ReplicasNotReady:Deployment/web"},
			resources: []string{
				"Pod/web-1-b: container app waiting: ImagePullBackOff: Back-off pulling image",
				"Deployment/web: not available: MinimumReplicasUnavailable: Deployment does not have minimum availability.; 1/2 replicas ready",
			}},
		{status: client.HealthDegraded, total: 1, conditions: []string{"OOMKilled"},
			resources: []string{"Pod/oom: container app terminated: OOMKilled (exit code 137)"}},
		{status: client.HealthFailing, total: 1, conditions: []string{"PodFailed"},
			resources: []string{"Pod/failed: pod failed: Evicted: The node was low on resource: memory."}},
		{status: client.HealthDegraded, total: 1, conditions: []string{"InitContainer:CrashLoopBackOff"},
			resources: []string{"Pod/init: init container setup waiting: CrashLoopBackOff: back-off 5m0s restarting failed container"}},
		{status: client.HealthHealthy},
		{status: client.HealthFailing, conditions: []string{"Missing:Deployment/gone", "Missing:Pod/vanished"},
			resources: []string{"Deployment/gone: not found", "Pod/vanished: not found"}},
		{status: client.HealthFailing, conditions: []string{"JobFailed:Job/batch"},
			resources: []string{"Job/batch: failed: BackoffLimitExceeded: Job has reached the specified backoff limit"}},
		{status: client.HealthHealthy, total: 1, ready: 1},
		{status: client.HealthUnknown, conditions: []string{"NoPods"}},
		{status: client.HealthUnknown, conditions: []string{"NoPods"}},
		{status: client.HealthDegraded, total: 2, ready: 1, conditions: []string{"PodUnknown", "OOMKilled"},
			resources: []string{"Pod/mixed-lost: pod phase Unknown", "Pod/mixed-restarted ready: container app was OOMKilled (2 restarts)"}},
		{status: client.HealthUnknown, total: 1, conditions: []string{"PodUnknown"},
			resources: []string{"Pod/lost: pod phase Unknown"}},
		{status: client.HealthDegraded, conditions: []string{"ReplicasNotReady:StatefulSet/db", "NoPods"},
			resources: []string{"StatefulSet/db: 0/1 replicas ready"}},
		{status: client.HealthDegraded, total: 1, ready: 1, conditions: []string{"ReplicasNotReady:DaemonSet/agent"},
			resources: []string{"DaemonSet/agent: 1/2 pods ready"}},
	}
	names := []string{"web", "oom", "failed", "init", "config", "gone", "job", "ok", "ghost", "unknown-objects", "mixed", "phase-unknown", "sts", "ds"}
	for n, w := range wants {
		checkReport(t, names[n], got[n], tracked[n].ID, ns, w)
	}

	// One pod list, each owner read once although three pods point at web-1, no writes.
	counts := map[string]int{}
	for _, r := range rc.Requests() {
		counts[r]++
	}
	if counts["GET /api/v1/pods"] != 1 {
		t.Errorf("pod lists: %d, requests %v", counts["GET /api/v1/pods"], rc.Requests())
	}
	if c := counts["GET /apis/apps/v1/namespaces/"+ns+"/replicasets/web-1"]; c != 1 {
		t.Errorf("replicaset web-1 read %d times", c)
	}
	if rc.Writes() != 0 {
		t.Errorf("health pass wrote: %v", rc.Requests())
	}

	// The report encodes as the wire expects.
	b, err := json.Marshal(got[4])
	if err != nil {
		t.Fatal(err)
	}
	var wire map[string]any
	if err := json.Unmarshal(b, &wire); err != nil {
		t.Fatal(err)
	}
	sum, _ := wire["summary"].(map[string]any)
	if _, ok := sum["resources"]; ok || sum["conditions"] == nil {
		t.Errorf("healthy summary on the wire: %s", b)
	}
}

// TestHealthOwnerHops attributes through owners of any kind, at most four hops up.
func TestHealthOwnerHops(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	f := newFixture(t, env.Kube, ns)
	ctx := context.Background()
	chain := func(prefix string, links int, id uuid.UUID) *metav1.OwnerReference {
		var ref *metav1.OwnerReference
		for n := links; n >= 1; n-- {
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: prefix + "-" + string(rune('0'+n)), Namespace: ns}}
			if n == links {
				cm.Annotations = idMeta(id)
			}
			if ref != nil {
				cm.OwnerReferences = []metav1.OwnerReference{*ref}
			}
			cm, err := env.Kube.CoreV1().ConfigMaps(ns).Create(ctx, cm, metav1.CreateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			r := controllerRef("v1", "ConfigMap", cm.Name, cm.UID)
			ref = &r
		}
		return ref
	}
	four, five := uuid.New(), uuid.New()
	f.pod("four", podOpts{owner: chain("four", 4, four), status: running(true, runningContainer("app", true))})
	f.pod("five", podOpts{owner: chain("five", 5, five), status: running(true, runningContainer("app", true))})

	insp := newInspector(t, env.Config)
	got := insp.Health(ctx, []Tracked{{ID: four}, {ID: five}})
	if got[0].Status != client.HealthHealthy || got[0].Summary.PodsTotal != 1 {
		t.Errorf("four hops: %s %+v", got[0].Status, got[0].Summary)
	}
	if got[1].Status != client.HealthUnknown || got[1].Summary.PodsTotal != 0 {
		t.Errorf("five hops: %s %+v", got[1].Status, got[1].Summary)
	}
}

// TestHealthWatchNamespace lists pods of the watch namespace only, reads no workload outside
// it and walks owners without a mapper.
func TestHealthWatchNamespace(t *testing.T) {
	t.Parallel()
	env := kubetest.Get(t)
	inside, outside := env.Namespace(t), env.Namespace(t)
	ctx := context.Background()
	id := uuid.New()
	fin, fout := newFixture(t, env.Kube, inside), newFixture(t, env.Kube, outside)
	dep := fin.deployment("app", id, 1, &appsv1.DeploymentStatus{Replicas: 1, ReadyReplicas: 1, AvailableReplicas: 1})
	rs := fin.replicaSet("app-1", dep)
	ref := controllerRef("apps/v1", "ReplicaSet", rs.Name, rs.UID)
	fin.pod("app-1-a", podOpts{owner: &ref, status: running(true, runningContainer("app", true))})
	fout.pod("elsewhere", podOpts{labels: idMeta(id), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed }})

	var rc kubetest.RequestCounter
	insp := newInspector(t, rc.Wrap(env.Config))
	insp.Mapper = nil
	insp.WatchNamespace = inside
	got := insp.Health(ctx, []Tracked{{ID: id, Objects: []Object{
		{GVK: gvkDeployment, Name: "app"}, // no namespace: the watch namespace
		{GVK: gvkDeployment, Namespace: outside, Name: "not-there"},
	}}})
	checkReport(t, "watch", got[0], id, inside, want{status: client.HealthHealthy, total: 1, ready: 1})
	for _, r := range rc.Requests() {
		if strings.Contains(r, outside) || r == "GET /api/v1/pods" {
			t.Errorf("request outside the watch namespace: %s", r)
		}
	}
	if !contains(rc.Requests(), "GET /api/v1/namespaces/"+inside+"/pods") {
		t.Errorf("no pod list of %s: %v", inside, rc.Requests())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestHealthPodListFails reports every object unknown when the pods cannot be listed.
func TestHealthPodListFails(t *testing.T) {
	t.Parallel()
	kc := unreachable(t)
	a, b := uuid.New(), uuid.New()
	got := (&Inspector{Kube: kc}).Health(context.Background(), []Tracked{{ID: a}, {ID: b, Objects: []Object{{GVK: gvkDeployment, Name: "x"}}}})
	if len(got) != 2 {
		t.Fatalf("reports: %+v", got)
	}
	for n, id := range []uuid.UUID{a, b} {
		if got[n].ID != id || got[n].Status != client.HealthUnknown || got[n].Summary == nil ||
			!reflect.DeepEqual(got[n].Summary.Conditions, []string{CondPodListFailed}) {
			t.Errorf("report %d: %+v", n, got[n])
		}
	}
	if got := (&Inspector{Kube: kc}).Health(context.Background(), nil); got != nil {
		t.Errorf("no tracked objects: %+v", got)
	}
}
