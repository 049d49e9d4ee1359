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

	gone := f.goneNode()

	// web: Deployment (annotated) → its ReplicaSet → two pods that no scheduler places. The
	// test binds one to a kwok node, which runs it (ready); the other shows ImagePullBackOff.
	// The Deployment controller then reports 1 of 2 replicas ready and not available. A
	// third pod points at the ReplicaSet's name with another uid and does not belong (the
	// garbage collector deletes it, but bound to a node without a kubelet it stays
	// terminating while the test runs).
	web := f.deployment("web", ids["web"], 2, podTemplate("web", false))
	rs := f.replicaSetOf(web)
	webPods := f.controlledPods(rs.UID, 2)
	webReady, webPulling := webPods[0].Name, webPods[1].Name
	f.bind(webReady, fakeNode)
	f.setPodStatus(webPulling, running(false, waitingContainer("app", "ImagePullBackOff", "Back-off pulling image")))
	imposter := controllerRef("apps/v1", "ReplicaSet", rs.Name, types.UID(uuid.NewString()))
	f.pod("web-imposter", podOpts{owner: &imposter, node: gone, status: running(true, runningContainer("app", true))})

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
	// job: a Job whose one try failed (backoffLimit 0): its pod is never scheduled and the
	// test fails it as a kubelet would; the Job controller then fails the Job.
	noRetry := int32(0)
	job, err := env.Kube.BatchV1().Jobs(ns).Create(ctx, &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "batch", Namespace: ns, Annotations: idMeta(ids["job"])},
		Spec: batchv1.JobSpec{BackoffLimit: &noRetry, Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever, SchedulerName: unscheduled,
			Containers: []corev1.Container{{Name: "run", Image: "example.invalid/run:1"}},
		}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	jobPod := f.controlledPods(job.UID, 1)[0].Name
	f.setPodStatus(jobPod, func(s *corev1.PodStatus) {
		s.Phase = corev1.PodFailed
		s.ContainerStatuses = []corev1.ContainerStatus{terminatedContainer("run", "Error", 1)}
	})
	// ok: a healthy Deployment whose pod the scheduler places and kwok runs.
	f.deployment("ok", ids["ok"], 1, podTemplate("ok", true))
	// ghost: a Deployment with its replica ready but no pod attributed to it (its pod
	// template labels the pods as another object's).
	ghost := podTemplate("ghost", true)
	ghost.Labels[DeploymentObjectIDKey] = uuid.NewString()
	f.deployment("ghost", ids["ghost"], 1, ghost)
	// mixed: a ready pod that was OOMKilled before, and a pod in phase Unknown.
	f.pod("mixed-restarted", podOpts{labels: idMeta(ids["mixed"]), status: func(s *corev1.PodStatus) {
		running(true, runningContainer("app", true))(s)
		s.ContainerStatuses[0].RestartCount = 2
		s.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{Reason: "OOMKilled", ExitCode: 137}}
	}})
	f.pod("mixed-lost", podOpts{labels: idMeta(ids["mixed"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodUnknown }})
	f.pod("lost", podOpts{labels: idMeta(ids["phase-unknown"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodUnknown }})
	// sts / ds: a StatefulSet and a DaemonSet short of ready pods. The StatefulSet's pod is
	// never scheduled (and the StatefulSet carries no id: no pod is attributed to it); of the
	// DaemonSet's pods, one per node, the test binds one to its node, where kwok runs it.
	_, err = env.Kube.AppsV1().StatefulSets(ns).Create(ctx, &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec:       appsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}, Template: podTemplate("db", false)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := env.Kube.AppsV1().DaemonSets(ns).Create(ctx, &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: ns, Annotations: idMeta(ids["ds"])},
		Spec:       appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}}, Template: podTemplate("agent", false)},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dsBound := ""
	for _, p := range f.controlledPods(ds.UID, kubetest.FakeNodes) {
		if daemonTarget(p) == fakeNode {
			dsBound = p.Name
		}
	}
	if dsBound == "" {
		t.Fatalf("no pod of daemonset agent for node %s", fakeNode)
	}
	f.bind(dsBound, fakeNode)
	// A pod of an id nobody tracks.
	f.pod("stranger", podOpts{labels: idMeta(ids["untracked"]), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed }})

	// The controllers' verdicts.
	f.waitPod(webReady, runningReady)
	f.waitDeployment("web", func(s appsv1.DeploymentStatus) bool {
		c := deploymentCondition(s, appsv1.DeploymentAvailable)
		return s.Replicas == 2 && s.ReadyReplicas == 1 && c != nil && c.Status == corev1.ConditionFalse
	})
	f.waitDeployment("ok", readyDeployment(1))
	f.waitDeployment("ghost", readyDeployment(1))
	eventually(t, "job batch failed", func() (bool, error) {
		j, err := env.Kube.BatchV1().Jobs(ns).Get(ctx, "batch", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, c := range j.Status.Conditions {
			if c.Type == batchv1.JobFailed && c.Status == corev1.ConditionTrue {
				return true, nil
			}
		}
		return false, fmt.Errorf("status %+v", j.Status)
	})
	eventually(t, "daemonset agent: one pod ready", func() (bool, error) {
		d, err := env.Kube.AppsV1().DaemonSets(ns).Get(ctx, "agent", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return d.Status.ObservedGeneration >= d.Generation && d.Status.DesiredNumberScheduled == kubetest.FakeNodes &&
			d.Status.NumberReady == 1, fmt.Errorf("status %+v", d.Status)
	})

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
				"Pod/" + webPulling + ": container app waiting: ImagePullBackOff: Back-off pulling image",
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
		{status: client.HealthFailing, total: 1, conditions: []string{"Error", "PodFailed", "JobFailed:Job/batch"},
			resources: []string{
				"Pod/" + jobPod + ": container run terminated: Error (exit code 1); pod failed: Failed",
				"Job/batch: failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
			}},
		{status: client.HealthHealthy, total: 1, ready: 1},
		{status: client.HealthUnknown, conditions: []string{"NoPods"}},
		{status: client.HealthUnknown, conditions: []string{"NoPods"}},
		{status: client.HealthDegraded, total: 2, ready: 1, conditions: []string{"PodUnknown", "OOMKilled"},
			resources: []string{"Pod/mixed-lost: pod phase Unknown", "Pod/mixed-restarted ready: container app was OOMKilled (2 restarts)"}},
		{status: client.HealthUnknown, total: 1, conditions: []string{"PodUnknown"},
			resources: []string{"Pod/lost: pod phase Unknown"}},
		{status: client.HealthDegraded, conditions: []string{"ReplicasNotReady:StatefulSet/db", "NoPods"},
			resources: []string{"StatefulSet/db: 0/1 replicas ready"}},
		{status: client.HealthDegraded, total: kubetest.FakeNodes, ready: 1, conditions: []string{"ReplicasNotReady:DaemonSet/agent"},
			resources: []string{fmt.Sprintf("DaemonSet/agent: 1/%d pods ready", kubetest.FakeNodes)}},
	}
	names := []string{"web", "oom", "failed", "init", "config", "gone", "job", "ok", "ghost", "unknown-objects", "mixed", "phase-unknown", "sts", "ds"}
	for n, w := range wants {
		checkReport(t, names[n], got[n], tracked[n].ID, ns, w)
	}

	// One pod list, each owner read once although three pods point at web's ReplicaSet, no
	// writes.
	counts := map[string]int{}
	for _, r := range rc.Requests() {
		counts[r]++
	}
	if counts["GET /api/v1/pods"] != 1 {
		t.Errorf("pod lists: %d, requests %v", counts["GET /api/v1/pods"], rc.Requests())
	}
	if c := counts["GET /apis/apps/v1/namespaces/"+ns+"/replicasets/"+rs.Name]; c != 1 {
		t.Errorf("replicaset %s read %d times", rs.Name, c)
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
	// The scheduler places the pods and kwok runs them.
	f.pod("four", podOpts{owner: chain("four", 4, four), scheduled: true})
	f.pod("five", podOpts{owner: chain("five", 5, five), scheduled: true})
	f.waitPod("four", runningReady)
	f.waitPod("five", runningReady)

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
	fin.deployment("app", id, 1, podTemplate("app", true))
	fout.pod("elsewhere", podOpts{labels: idMeta(id), status: func(s *corev1.PodStatus) { s.Phase = corev1.PodFailed }})
	fin.waitDeployment("app", readyDeployment(1))

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

// deploymentCondition returns the condition of type typ of a Deployment status, or nil.
func deploymentCondition(s appsv1.DeploymentStatus, typ appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for n := range s.Conditions {
		if s.Conditions[n].Type == typ {
			return &s.Conditions[n]
		}
	}
	return nil
}

// daemonTarget returns the node a DaemonSet pod is made for (its required node affinity).
func daemonTarget(p corev1.Pod) string {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return ""
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, m := range term.MatchFields {
			if m.Key == "metadata.name" && len(m.Values) == 1 {
				return m.Values[0]
			}
		}
	}
	return ""
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
