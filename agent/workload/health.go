package workload

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// Conditions reported in a health summary besides the container reasons of the pods
// (ImagePullBackOff, OOMKilled, InitContainer:<reason>, ...). Conditions about a workload
// object are "<condition>:<Kind>/<name>".
const (
	CondPodFailed     = "PodFailed"     // a pod is in phase Failed (failing)
	CondPodUnknown    = "PodUnknown"    // a pod is in phase Unknown (unknown)
	CondPodListFailed = "PodListFailed" // the pods could not be listed (unknown)
	CondNoPods        = "NoPods"        // a workload wants pods but none is attributed (unknown)

	CondMissing                  = "Missing"                  // the workload no longer exists (failing)
	CondLookupFailed             = "LookupFailed"             // the workload could not be read (unknown)
	CondUnavailable              = "Unavailable"              // Deployment condition Available=False (degraded)
	CondReplicasNotReady         = "ReplicasNotReady"         // fewer ready replicas than wanted (degraded)
	CondProgressDeadlineExceeded = "ProgressDeadlineExceeded" // Deployment rollout stalled (degraded)
	CondJobFailed                = "JobFailed"                // Job condition Failed=True (failing)
)

// degradedWaitingReasons are the container waiting reasons that make a pod degraded.
var degradedWaitingReasons = map[string]bool{
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"CrashLoopBackOff":           true,
	"CreateContainerConfigError": true,
	"InvalidImageName":           true,
	"RunContainerError":          true,
	"ContainerCannotRun":         true,
}

// degradedTerminatedReasons are the container termination reasons that make a pod degraded.
var degradedTerminatedReasons = map[string]bool{
	"OOMKilled":          true,
	"Error":              true,
	"ContainerCannotRun": true,
}

// rank orders health states: a report carries the worst state found.
func rank(s string) int {
	switch s {
	case client.HealthFailing:
		return 3
	case client.HealthDegraded:
		return 2
	case client.HealthUnknown:
		return 1
	default:
		return 0
	}
}

// worse returns the worse of two health states.
func worse(a, b string) string {
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// assessment is the verdict on one pod or workload object.
type assessment struct {
	status     string
	conditions []string
	messages   []string
}

func (a *assessment) add(status, condition, message string) {
	a.status = worse(a.status, status)
	if condition != "" {
		a.conditions = append(a.conditions, condition)
	}
	if message != "" {
		a.messages = append(a.messages, message)
	}
}

func (a *assessment) healthy() bool { return rank(a.status) == 0 }

// resource returns the resource entry of an unhealthy pod or workload.
func (a *assessment) resource(kind, namespace, name string, ready bool) client.ResourceHealth {
	r := client.ResourceHealth{Kind: kind, Name: name, Namespace: namespace, Ready: ready}
	if len(a.messages) > 0 {
		m := strings.Join(a.messages, "; ")
		r.Message = &m
	}
	return r
}

// reasonText joins a reason and a message, either of which may be empty.
func reasonText(reason, message string) string {
	switch {
	case message == "":
		return reason
	case reason == "":
		return message
	}
	return reason + ": " + message
}

// labelled prefixes text with label, separated by ": " when text is not empty.
func labelled(label, text string) string {
	if text == "" {
		return label
	}
	return label + ": " + text
}

// podReady reports whether pod has condition Ready=True.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// assessPod judges one pod: a container waiting with a reason of degradedWaitingReasons, a
// container terminated with a reason of degradedTerminatedReasons, a container whose last
// termination was OOMKilled, or an init container waiting with a degraded reason (condition
// "InitContainer:<reason>") make it degraded; phase Failed makes it failing (PodFailed) and
// phase Unknown unknown (PodUnknown). The worst verdict wins.
func assessPod(pod *corev1.Pod) assessment {
	a := assessment{status: client.HealthHealthy}
	for _, cs := range pod.Status.ContainerStatuses {
		if w := cs.State.Waiting; w != nil && degradedWaitingReasons[w.Reason] {
			a.add(client.HealthDegraded, w.Reason, fmt.Sprintf("container %s waiting: %s", cs.Name, reasonText(w.Reason, w.Message)))
		}
		if t := cs.State.Terminated; t != nil && degradedTerminatedReasons[t.Reason] {
			a.add(client.HealthDegraded, t.Reason, fmt.Sprintf("container %s terminated: %s (exit code %d)", cs.Name, reasonText(t.Reason, t.Message), t.ExitCode))
		}
		if t := cs.LastTerminationState.Terminated; t != nil && t.Reason == "OOMKilled" {
			a.add(client.HealthDegraded, "OOMKilled", fmt.Sprintf("container %s was OOMKilled (%d restarts)", cs.Name, cs.RestartCount))
		}
	}
	for _, cs := range pod.Status.InitContainerStatuses {
		if w := cs.State.Waiting; w != nil && degradedWaitingReasons[w.Reason] {
			a.add(client.HealthDegraded, "InitContainer:"+w.Reason, fmt.Sprintf("init container %s waiting: %s", cs.Name, reasonText(w.Reason, w.Message)))
		}
	}
	switch pod.Status.Phase {
	case corev1.PodFailed:
		a.add(client.HealthFailing, CondPodFailed, "pod failed: "+reasonText(orDefault(pod.Status.Reason, "Failed"), pod.Status.Message))
	case corev1.PodUnknown:
		a.add(client.HealthUnknown, CondPodUnknown, labelled("pod phase Unknown", reasonText(pod.Status.Reason, pod.Status.Message)))
	}
	return a
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// workloadKinds are the kinds whose status Health reads.
var workloadKinds = map[schema.GroupKind]bool{
	{Group: "apps", Kind: "Deployment"}:  true,
	{Group: "apps", Kind: "StatefulSet"}: true,
	{Group: "apps", Kind: "DaemonSet"}:   true,
	{Group: "batch", Kind: "Job"}:        true,
	{Group: "", Kind: "Pod"}:             true,
}

// workloadKey names one workload object of the cluster.
type workloadKey struct {
	kind      string // Deployment, StatefulSet, DaemonSet, Job or Pod
	namespace string
	name      string
}

func (k workloadKey) String() string { return k.kind + "/" + k.name }

// workloadVerdict is the judgement on a workload object; wantsPods tells whether it should
// have pods running now.
type workloadVerdict struct {
	assessment
	exists    bool
	wantsPods bool
}

func verdict() workloadVerdict {
	return workloadVerdict{assessment: assessment{status: client.HealthHealthy}, exists: true}
}

func (k workloadKey) cond(c string) string { return c + ":" + k.String() }

// assessDeployment: condition Available=False, fewer ready replicas than spec.replicas, or
// condition Progressing=False with reason ProgressDeadlineExceeded make it degraded.
func assessDeployment(d *appsv1.Deployment) workloadVerdict {
	k := workloadKey{kind: "Deployment", namespace: d.Namespace, name: d.Name}
	v := verdict()
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	v.wantsPods = want > 0
	for _, c := range d.Status.Conditions {
		switch {
		case c.Type == appsv1.DeploymentAvailable && c.Status == corev1.ConditionFalse:
			v.add(client.HealthDegraded, k.cond(CondUnavailable), "not available: "+reasonText(c.Reason, c.Message))
		case c.Type == appsv1.DeploymentProgressing && c.Status == corev1.ConditionFalse && c.Reason == "ProgressDeadlineExceeded":
			v.add(client.HealthDegraded, k.cond(CondProgressDeadlineExceeded), reasonText(c.Reason, c.Message))
		}
	}
	if d.Status.ReadyReplicas < want {
		v.add(client.HealthDegraded, k.cond(CondReplicasNotReady), fmt.Sprintf("%d/%d replicas ready", d.Status.ReadyReplicas, want))
	}
	return v
}

// assessStatefulSet: fewer ready replicas than spec.replicas make it degraded.
func assessStatefulSet(s *appsv1.StatefulSet) workloadVerdict {
	k := workloadKey{kind: "StatefulSet", namespace: s.Namespace, name: s.Name}
	v := verdict()
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	v.wantsPods = want > 0
	if s.Status.ReadyReplicas < want {
		v.add(client.HealthDegraded, k.cond(CondReplicasNotReady), fmt.Sprintf("%d/%d replicas ready", s.Status.ReadyReplicas, want))
	}
	return v
}

// assessDaemonSet: fewer ready pods than desiredNumberScheduled make it degraded.
func assessDaemonSet(d *appsv1.DaemonSet) workloadVerdict {
	k := workloadKey{kind: "DaemonSet", namespace: d.Namespace, name: d.Name}
	v := verdict()
	want := d.Status.DesiredNumberScheduled
	v.wantsPods = want > 0
	if d.Status.NumberReady < want {
		v.add(client.HealthDegraded, k.cond(CondReplicasNotReady), fmt.Sprintf("%d/%d pods ready", d.Status.NumberReady, want))
	}
	return v
}

// assessJob: condition Failed=True makes it failing. A Job wants pods while it is neither
// finished nor suspended.
func assessJob(j *batchv1.Job) workloadVerdict {
	k := workloadKey{kind: "Job", namespace: j.Namespace, name: j.Name}
	v := verdict()
	finished := false
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobFailed:
			finished = true
			v.add(client.HealthFailing, k.cond(CondJobFailed), "failed: "+reasonText(c.Reason, c.Message))
		case batchv1.JobComplete:
			finished = true
		}
	}
	suspended := j.Spec.Suspend != nil && *j.Spec.Suspend
	parallel := j.Spec.Parallelism == nil || *j.Spec.Parallelism > 0
	v.wantsPods = !finished && !suspended && parallel
	return v
}

func missing(k workloadKey) workloadVerdict {
	v := verdict()
	v.exists = false
	v.add(client.HealthFailing, k.cond(CondMissing), "not found")
	return v
}

// fetchWorkload reads one workload object and judges it.
func (i *Inspector) fetchWorkload(ctx context.Context, k workloadKey) workloadVerdict {
	var (
		v   workloadVerdict
		err error
	)
	switch k.kind {
	case "Deployment":
		var d *appsv1.Deployment
		if d, err = i.Kube.AppsV1().Deployments(k.namespace).Get(ctx, k.name, metav1.GetOptions{}); err == nil {
			v = assessDeployment(d)
		}
	case "StatefulSet":
		var s *appsv1.StatefulSet
		if s, err = i.Kube.AppsV1().StatefulSets(k.namespace).Get(ctx, k.name, metav1.GetOptions{}); err == nil {
			v = assessStatefulSet(s)
		}
	case "DaemonSet":
		var d *appsv1.DaemonSet
		if d, err = i.Kube.AppsV1().DaemonSets(k.namespace).Get(ctx, k.name, metav1.GetOptions{}); err == nil {
			v = assessDaemonSet(d)
		}
	case "Job":
		var j *batchv1.Job
		if j, err = i.Kube.BatchV1().Jobs(k.namespace).Get(ctx, k.name, metav1.GetOptions{}); err == nil {
			v = assessJob(j)
		}
	default:
		return verdict()
	}
	switch {
	case err == nil:
		return v
	case apierrors.IsNotFound(err):
		return missing(k)
	default:
		i.log().Warn("workload lookup failed", "kind", k.kind, "namespace", k.namespace, "name", k.name, logx.Err(err))
		v = verdict()
		v.add(client.HealthUnknown, k.cond(CondLookupFailed), err.Error())
		return v
	}
}

// workloadFetchConcurrency bounds the concurrent workload GETs of one health pass.
const workloadFetchConcurrency = 4

// Health returns one report per tracked deployment object, in the order of tracked, computed
// in one pass: one list of pods (cluster-wide, or of WatchNamespace), owner lookups memoized
// for the pass, and one GET per workload object.
//
// Pods are attributed as described in the package documentation. Owner walks are limited to
// the namespaces holding the tracked objects when every tracked object lists its objects
// (the owners the agent annotates live there). A Pod listed among an object's Objects counts
// for it even when it carries no attribution.
//
// Per object the report counts pods_total and pods_ready (condition Ready=True) and starts
// healthy; each pod is judged by assessPod. Beyond the pods, the workload objects among the
// object's Objects are read (apps/v1 Deployment, StatefulSet, DaemonSet, batch/v1 Job; v1 Pods
// are taken from the pod list):
//   - a Deployment with condition Available=False, fewer ready replicas than spec.replicas, or
//     Progressing=False with reason ProgressDeadlineExceeded is degraded;
//   - a StatefulSet with fewer ready replicas than spec.replicas is degraded;
//   - a DaemonSet with fewer ready pods than desiredNumberScheduled is degraded;
//   - a Job with condition Failed=True is failing (JobFailed);
//   - a workload object that no longer exists is failing (Missing:<Kind>/<name>);
//   - one that cannot be read is unknown (LookupFailed:<Kind>/<name>).
//
// Zero pods: an object whose Objects hold no workload (only ConfigMaps, Services, ...) is
// healthy without pods; one with a workload that wants pods (desired replicas > 0, a Job that
// is still running) but no attributed pod is unknown (NoPods), unless something worse was
// found; an object whose Objects are not known (empty) is unknown without pods, as in the
// reference agent. The worst verdict wins: failing > degraded > unknown > healthy.
//
// When the pods cannot be listed, every object is unknown (PodListFailed). Conditions are
// deduplicated in order of discovery; Resources lists the unhealthy pods and workload objects.
// Workload objects outside WatchNamespace are not read.
func (i *Inspector) Health(ctx context.Context, tracked []Tracked) []client.DeploymentObjectHealthUpdate {
	if len(tracked) == 0 {
		return nil
	}
	now := time.Now().UTC()
	out := make([]client.DeploymentObjectHealthUpdate, len(tracked))

	pods, err := i.Kube.CoreV1().Pods(i.WatchNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		i.log().Warn("health: list pods failed", "namespace", i.WatchNamespace, logx.Err(err))
		for n, t := range tracked {
			out[n] = client.DeploymentObjectHealthUpdate{ID: t.ID, Status: client.HealthUnknown, CheckedAt: now,
				Summary: &client.HealthSummary{Conditions: []string{CondPodListFailed}}}
		}
		return out
	}

	// Which tracked objects each id stands for, the namespaces for owner walks and the
	// workload objects to read.
	byID := map[uuid.UUID][]int{}
	walk := map[string]bool{}
	allKnown := true
	workloads := map[workloadKey]*workloadVerdict{}
	objWorkloads := make([][]workloadKey, len(tracked))
	for n, t := range tracked {
		byID[t.ID] = append(byID[t.ID], n)
		if len(t.Objects) == 0 {
			allKnown = false
		}
		seen := map[workloadKey]bool{}
		for _, o := range t.Objects {
			ns := i.objectNamespace(o)
			if ns != "" {
				walk[ns] = true
			}
			if !workloadKinds[o.GVK.GroupKind()] || ns == "" || !i.watches(ns) {
				continue
			}
			k := workloadKey{kind: o.GVK.Kind, namespace: ns, name: o.Name}
			if !seen[k] {
				seen[k] = true
				objWorkloads[n] = append(objWorkloads[n], k)
				workloads[k] = nil
			}
		}
	}
	if !allKnown {
		walk = nil
	}

	attr := i.newAttributor(walk)
	objPods := make([][]*corev1.Pod, len(tracked))
	attributed := map[workloadKey]bool{}
	podsByKey := map[workloadKey]*corev1.Pod{}
	for n := range pods.Items {
		pod := &pods.Items[n]
		pk := workloadKey{kind: "Pod", namespace: pod.Namespace, name: pod.Name}
		podsByKey[pk] = pod
		id, ok := attr.objectID(ctx, pod)
		if !ok {
			continue
		}
		for _, idx := range byID[id] {
			objPods[idx] = append(objPods[idx], pod)
			attributed[pk] = true
		}
	}

	// Pods named among the objects come from the list; the other workloads are read.
	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, workloadFetchConcurrency)
	)
	keys := make([]workloadKey, 0, len(workloads))
	for k := range workloads {
		keys = append(keys, k)
	}
	for _, k := range keys {
		if k.kind == "Pod" {
			v := verdict()
			if _, ok := podsByKey[k]; !ok {
				v = missing(k)
			}
			workloads[k] = &v
		}
	}
	for _, k := range keys {
		if k.kind == "Pod" {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			v := i.fetchWorkload(ctx, k)
			mu.Lock()
			workloads[k] = &v
			mu.Unlock()
		}()
	}
	wg.Wait()

	for n, t := range tracked {
		// A Pod among the objects that nothing attributed counts for this object.
		for _, k := range objWorkloads[n] {
			if pod, ok := podsByKey[k]; ok && k.kind == "Pod" && !attributed[k] {
				objPods[n] = append(objPods[n], pod)
			}
		}
		out[n] = client.DeploymentObjectHealthUpdate{ID: t.ID, CheckedAt: now}
		out[n].Status, out[n].Summary = summarize(t, objPods[n], objWorkloads[n], workloads)
	}
	return out
}

// summarize computes one object's status and summary from its pods and workload verdicts.
func summarize(t Tracked, pods []*corev1.Pod, keys []workloadKey, workloads map[workloadKey]*workloadVerdict) (string, *client.HealthSummary) {
	status := client.HealthHealthy
	sum := &client.HealthSummary{Conditions: []string{}}
	seen := map[string]bool{}
	addConds := func(cs []string) {
		for _, c := range cs {
			if !seen[c] {
				seen[c] = true
				sum.Conditions = append(sum.Conditions, c)
			}
		}
	}
	for _, pod := range pods {
		ready := podReady(pod)
		sum.PodsTotal++
		if ready {
			sum.PodsReady++
		}
		a := assessPod(pod)
		status = worse(status, a.status)
		addConds(a.conditions)
		if !a.healthy() {
			sum.Resources = append(sum.Resources, a.resource("Pod", pod.Namespace, pod.Name, ready))
		}
	}
	wantsPods := len(t.Objects) == 0 // nothing known about the object: pods are expected
	for _, k := range keys {
		v := workloads[k]
		if v == nil {
			continue
		}
		if v.exists && v.wantsPods && k.kind != "Pod" {
			wantsPods = true
		}
		status = worse(status, v.status)
		addConds(v.conditions)
		if !v.healthy() {
			sum.Resources = append(sum.Resources, v.resource(k.kind, k.namespace, k.name, false))
		}
	}
	if sum.PodsTotal == 0 && wantsPods {
		status = worse(status, client.HealthUnknown)
		addConds([]string{CondNoPods})
	}
	return status, sum
}
