package workorders

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
)

// maxListed bounds the objects named in a success message.
const maxListed = 10

// jobFailure is a Job outcome that ends the order for good.
type jobFailure struct{ msg string }

func (e *jobFailure) Error() string { return e.msg }

func isJob(o *unstructured.Unstructured) bool {
	gvk := o.GroupVersionKind()
	return gvk.Group == "batch" && gvk.Version == "v1" && gvk.Kind == "Job"
}

// executeCustom applies the order's manifests and waits for every batch/v1 Job among them
// to complete.
func (r *Runner) executeCustom(ctx context.Context, wo client.WorkOrder, budget time.Duration, deadline time.Time) Result {
	objs, err := kube.Parse(wo.YAMLContent)
	if err != nil {
		return failure(fmt.Errorf("work order manifest: %w", err))
	}
	if len(objs) == 0 {
		return finalFailure("work order manifest contains no Kubernetes objects")
	}
	if err := r.Cluster.Apply(ctx, objs, r.applyOptions(budget)); err != nil {
		return failure(fmt.Errorf("apply: %w", err))
	}
	var jobs []*unstructured.Unstructured
	var others []string
	for _, o := range objs {
		if isJob(o) {
			jobs = append(jobs, o)
		} else {
			others = append(others, o.GetKind()+" "+nsName(o.GetNamespace(), o.GetName()))
		}
	}
	msg := fmt.Sprintf("applied %d object%s", len(objs), plural(len(objs)))
	if len(others) > 0 {
		msg += " (" + listed(others) + ")"
	}
	if len(jobs) == 0 {
		return Result{Success: true, Message: msg + "; no jobs to watch"}
	}
	if err := r.waitJobs(ctx, jobs, budget, deadline); err != nil {
		var jf *jobFailure
		if errors.As(err, &jf) {
			return Result{Message: jf.msg}
		}
		return failure(err)
	}
	names := make([]string, len(jobs))
	for i, j := range jobs {
		names[i] = nsName(j.GetNamespace(), j.GetName())
	}
	return Result{Success: true, Message: msg + "; jobs completed: " + listed(names)}
}

// waitJobs waits for all jobs at once; the first failure ends the wait.
func (r *Runner) waitJobs(ctx context.Context, jobs []*unstructured.Unstructured, budget time.Duration, deadline time.Time) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(jobs))
	for _, j := range jobs {
		go func() { errs <- r.waitJob(ctx, j.GetNamespace(), j.GetName(), budget, deadline) }()
	}
	var first error
	for range jobs {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel()
		}
	}
	return first
}

// waitJob follows one Job until it completes (nil), fails, disappears or outlives the
// deadline (*jobFailure). It watches the Job and, every poll interval, reads it again in
// case the watch missed something or broke.
func (r *Runner) waitJob(ctx context.Context, ns, name string, budget time.Duration, deadline time.Time) error {
	ref := nsName(ns, name)
	jobs := r.Cluster.Kube.BatchV1().Jobs(ns)
	var uid types.UID
	// judge reports whether j has finished and, if so, the outcome (nil: complete).
	judge := func(j *batchv1.Job) (bool, error) {
		if uid == "" {
			uid = j.UID
		}
		if j.UID != uid || j.DeletionTimestamp != nil {
			return true, &jobFailure{fmt.Sprintf("job %s was deleted before it finished", ref)}
		}
		for _, c := range j.Status.Conditions {
			if c.Status != corev1.ConditionTrue {
				continue
			}
			switch c.Type {
			case batchv1.JobComplete:
				return true, nil
			case batchv1.JobFailed:
				return true, &jobFailure{fmt.Sprintf("job %s ran and failed: %s", ref, reasonMessage(c.Reason, c.Message))}
			}
		}
		return false, nil
	}
	// get reads the Job and judges it. A read that failed for a transient reason returns
	// a nil Job and done=false: the next tick tries again.
	get := func(ctx context.Context) (j *batchv1.Job, done bool, outcome error) {
		j, err := jobs.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return nil, true, &jobFailure{fmt.Sprintf("job %s was deleted before it finished", ref)}
		case err != nil && (kube.Retryable(err) || ctx.Err() != nil):
			return nil, false, nil
		case err != nil:
			return nil, true, fmt.Errorf("read job %s: %w", ref, err)
		}
		done, outcome = judge(j)
		return j, done, outcome
	}

	// The first read ignores the deadline, so even a zero budget sees a finished Job.
	j, done, outcome := get(ctx)
	if done {
		return outcome
	}
	wctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	var w watch.Interface
	defer func() {
		if w != nil {
			w.Stop()
		}
	}()
	openWatch := func(rv string) {
		var err error
		w, err = jobs.Watch(wctx, metav1.ListOptions{
			FieldSelector:   fields.OneTermEqualSelector("metadata.name", name).String(),
			ResourceVersion: rv,
		})
		if err != nil {
			w = nil // the next resync tries again
		}
	}
	if j != nil {
		openWatch(j.ResourceVersion)
	}
	ticker := time.NewTicker(r.pollInterval())
	defer ticker.Stop()
	for {
		var events <-chan watch.Event
		if w != nil {
			events = w.ResultChan()
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return &jobFailure{fmt.Sprintf("job %s did not finish within %s", ref, budget)}
		case <-ticker.C:
			j, done, outcome := get(wctx)
			if done {
				return outcome
			}
			if j != nil && w == nil {
				openWatch(j.ResourceVersion)
			}
		case ev, ok := <-events:
			if !ok {
				w.Stop()
				w = nil
				continue
			}
			switch ev.Type {
			case watch.Added, watch.Modified:
				if j, ok := ev.Object.(*batchv1.Job); ok {
					if done, outcome := judge(j); done {
						return outcome
					}
				}
			case watch.Deleted:
				if j, ok := ev.Object.(*batchv1.Job); ok && (uid == "" || j.UID == uid) {
					return &jobFailure{fmt.Sprintf("job %s was deleted before it finished", ref)}
				}
			case watch.Error:
				// E.g. the resource version expired: read again at the next tick.
				w.Stop()
				w = nil
			}
		}
	}
}

func reasonMessage(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

func nsName(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// listed joins names, naming at most maxListed of them.
func listed(names []string) string {
	if len(names) <= maxListed {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxListed], ", "), len(names)-maxListed)
}
