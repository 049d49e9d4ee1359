package agent

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strings"

	"github.com/google/uuid"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/agent/workload"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
)

// driftState is the drift last reported for a stack's deployment object: DRIFTED or
// CORRECTED with the drifted objects, until a check finds them matching again (CLEARED).
type driftState struct {
	objectID uuid.UUID
	status   string
	key      string // the reported objects and paths
}

// DriftResult counts what one drift check found.
type DriftResult struct {
	Checked   int // deployment objects compared with the cluster
	Drifted   int // of them, with drifted objects
	Corrected int // of them, applied again (policy correct)
}

// driftJob is one deployment object to check.
type driftJob struct {
	stackID uuid.UUID
	obj     client.DeploymentObject
	policy  string
}

// noteCurrent remembers, per stack, the latest deployment object when the cluster has it:
// those are the objects drift checks compare the cluster with.
func (r *Reconciler) noteCurrent(target []client.DeploymentObject) {
	current := make(map[uuid.UUID]client.DeploymentObject, len(target))
	for _, obj := range target {
		st := r.stacks[obj.StackID]
		if st != nil && !obj.IsDeletionMarker && st.objectID == obj.ID && st.checksum == obj.YAMLChecksum && !st.unverified {
			current[obj.StackID] = obj
		}
	}
	r.current = current
}

// trackedOf is what the health checks need of a stack's applied objects.
func trackedOf(st *stackState) workload.Tracked {
	t := workload.Tracked{ID: st.objectID}
	for ref := range st.objects {
		t.Objects = append(t.Objects, workload.Object{GVK: ref.GVK, Namespace: ref.Namespace, Name: ref.Name})
	}
	slices.SortFunc(t.Objects, func(a, b workload.Object) int {
		return strings.Compare(a.Namespace+"/"+a.Name+a.GVK.String(), b.Namespace+"/"+b.Name+b.GVK.String())
	})
	return t
}

// CheckDrift compares every applied object of the stacks whose latest deployment object the
// cluster has with what its manifest sets (kube.Cluster.Drift: only the fields the agent's
// field manager owns), after the stack's drift policy: report sends DRIFTED, correct applies
// the drifted objects again and sends CORRECTED, ignore checks nothing. Each distinct drift
// is reported once; CLEARED follows once the objects match again. The policies are read
// from the broker first.
func (r *Reconciler) CheckDrift(ctx context.Context) (DriftResult, error) {
	r.driftMu.Lock()
	defer r.driftMu.Unlock()
	var res DriftResult
	r.mu.Lock()
	r.refreshSettings(ctx)
	jobs := make([]driftJob, 0, len(r.current))
	for stackID, obj := range r.current {
		jobs = append(jobs, driftJob{stackID: stackID, obj: obj, policy: r.policy(stackID)})
	}
	r.mu.Unlock()
	if r.drifts == nil {
		r.drifts = map[uuid.UUID]driftState{}
	}
	checked := make(map[uuid.UUID]bool, len(jobs))
	for _, job := range jobs {
		checked[job.stackID] = true
		if job.policy == client.DriftPolicyIgnore {
			delete(r.drifts, job.stackID)
			continue
		}
		drifted, objs, ok := r.driftOf(ctx, job)
		if !ok {
			continue // an object could not be compared: nothing is concluded this time
		}
		res.Checked++
		if len(drifted) > 0 {
			res.Drifted++
		}
		if r.settleDrift(ctx, job, drifted, objs) {
			res.Corrected++
		}
	}
	for stackID := range r.drifts {
		if !checked[stackID] {
			delete(r.drifts, stackID) // a new version, or the stack left: its events start over
		}
	}
	return res, nil
}

// driftOf compares the objects of one deployment object with the cluster; it returns the
// drifted ones (sorted), their manifests, and false when an object could not be compared.
func (r *Reconciler) driftOf(ctx context.Context, job driftJob) ([]client.DriftedObject, []*unstructured.Unstructured, bool) {
	objs, err := kube.Parse(job.obj.YAMLContent)
	if err != nil {
		return nil, nil, false
	}
	var (
		drifted []client.DriftedObject
		redo    []*unstructured.Unstructured
	)
	for _, o := range objs {
		kube.SetAnnotations(o, r.annotations(job.obj))
		paths, err := r.Cluster.Drift(ctx, o, r.Apply)
		if err != nil {
			r.log().Warn("drift check", logx.StackID(job.stackID), logx.Object(kube.RefOf(o)), logx.Err(err))
			return nil, nil, false
		}
		if len(paths) == 0 {
			continue
		}
		ns := o.GetNamespace()
		if ns == "" {
			if refs, err := r.Cluster.Resolve([]*unstructured.Unstructured{o}, r.Apply.DefaultNamespace); err == nil {
				ns = refs[0].Namespace
			}
		}
		drifted = append(drifted, client.DriftedObject{APIVersion: o.GetAPIVersion(), Kind: o.GetKind(), Namespace: ns, Name: o.GetName(), Paths: paths})
		redo = append(redo, o)
	}
	slices.SortFunc(drifted, func(a, b client.DriftedObject) int {
		return cmp.Or(cmp.Compare(a.APIVersion, b.APIVersion), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	return drifted, redo, true
}

// settleDrift acts on one deployment object's drift after its policy and reports what
// changed since the last report; it returns whether the objects were applied again.
func (r *Reconciler) settleDrift(ctx context.Context, job driftJob, drifted []client.DriftedObject, objs []*unstructured.Unstructured) bool {
	last := r.drifts[job.stackID]
	if last.objectID != job.obj.ID {
		last = driftState{}
	}
	if len(drifted) == 0 {
		if last.status != "" {
			r.sendDrift(ctx, job, client.DriftCleared, nil)
		}
		delete(r.drifts, job.stackID)
		return false
	}
	body, _ := json.Marshal(drifted)
	key := string(body)
	status := client.DriftDrifted
	corrected := job.policy == client.DriftPolicyCorrect && r.correct(ctx, job, objs)
	if corrected {
		status = client.DriftCorrected
	}
	if last.status == status && last.key == key {
		return corrected // reported already
	}
	r.drifts[job.stackID] = driftState{objectID: job.obj.ID, status: status, key: key}
	r.sendDrift(ctx, job, status, drifted)
	return corrected
}

// correct applies drifted objects again, as long as their stack's applied version is still
// the one checked.
func (r *Reconciler) correct(ctx context.Context, job driftJob, objs []*unstructured.Unstructured) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if st := r.stacks[job.stackID]; st == nil || st.objectID != job.obj.ID {
		return false
	}
	opts := r.Apply
	opts.Ownership = &kube.Ownership{Owner: r.AgentID.String(), Stack: job.stackID.String()}
	if err := r.Cluster.Apply(ctx, objs, opts); err != nil {
		r.log().Warn("correcting drift", logx.StackID(job.stackID), logx.DeploymentObjectID(job.obj.ID), logx.Err(err))
		return false
	}
	return true
}

func (r *Reconciler) sendDrift(ctx context.Context, job driftJob, status string, drifted []client.DriftedObject) {
	if drifted == nil {
		drifted = []client.DriftedObject{}
	}
	body, _ := json.Marshal(client.DriftReport{Objects: drifted})
	r.log().Info("drift", logx.StackID(job.stackID), logx.DeploymentObjectID(job.obj.ID), "status", status, "objects", len(drifted))
	r.event(ctx, job.obj.ID, client.EventTypeDrift, status, string(body))
}
