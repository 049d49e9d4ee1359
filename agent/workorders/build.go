package workorders

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/brokkr/brokkr/agent/kube"
	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/logx"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
)

// Labels the agent puts on the BuildRuns it creates.
const (
	LabelWorkOrderID = "brokkr.io/work-order-id"
	LabelBuild       = "shipwright.io/build"
)

// BuildRunGVK is the Shipwright kind a build order creates.
var BuildRunGVK = schema.GroupVersionKind{Group: "shipwright.io", Version: "v1beta1", Kind: "BuildRun"}

// NoShipwrightMessage is the result of a build order on a cluster without Shipwright.
const NoShipwrightMessage = "build work orders need Shipwright: the cluster has no shipwright.io/v1beta1 BuildRun kind"

// buildSpec is what a build order's manifest asks for.
type buildSpec struct {
	builds    []*unstructured.Unstructured // shipwright.io Build documents, to apply
	name      string                       // the Build to run
	namespace string
}

// parseBuild reads a build order's manifest: the shipwright.io Build documents, and, when
// there is none, a brokkr.io WorkOrder document naming the Build in spec.buildRef.name.
// Other documents are ignored.
func parseBuild(manifest string) (buildSpec, error) {
	var spec buildSpec
	var refName, refNamespace string
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for doc := 1; ; doc++ {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return spec, fmt.Errorf("work order manifest: document %d: invalid YAML: %w", doc, err)
		}
		if len(raw) == 0 {
			continue
		}
		o := &unstructured.Unstructured{Object: raw}
		switch {
		case strings.HasPrefix(o.GetAPIVersion(), "shipwright.io/") && o.GetKind() == "Build":
			if o.GetName() == "" {
				return spec, fmt.Errorf("work order manifest: document %d: Build: metadata.name is required", doc)
			}
			if o.GetNamespace() == "" {
				o.SetNamespace("default")
			}
			spec.builds = append(spec.builds, o)
		case strings.HasPrefix(o.GetAPIVersion(), "brokkr.io/") && o.GetKind() == "WorkOrder" && refName == "":
			refName, _, _ = unstructured.NestedString(raw, "spec", "buildRef", "name")
			refNamespace = o.GetNamespace()
		}
	}
	switch {
	case len(spec.builds) > 0:
		spec.name, spec.namespace = spec.builds[0].GetName(), spec.builds[0].GetNamespace()
	case refName != "":
		spec.name, spec.namespace = refName, refNamespace
		if spec.namespace == "" {
			spec.namespace = "default"
		}
	default:
		return spec, errors.New("work order manifest names no build: it needs a shipwright.io Build document or a brokkr.io WorkOrder document with spec.buildRef.name")
	}
	return spec, nil
}

// executeBuild applies the order's Shipwright Build, starts a BuildRun of it and waits for
// the run to finish.
func (r *Runner) executeBuild(ctx context.Context, wo client.WorkOrder, budget time.Duration, deadline time.Time) Result {
	m, err := r.Cluster.Mapping(BuildRunGVK)
	if meta.IsNoMatchError(err) {
		return finalFailure(NoShipwrightMessage)
	}
	if err != nil {
		return failure(fmt.Errorf("look up the BuildRun kind: %w", err))
	}
	spec, err := parseBuild(wo.YAMLContent)
	if err != nil {
		return finalFailure("%v", err)
	}
	opts := r.applyOptions(budget)
	if len(spec.builds) > 0 {
		if err := r.Cluster.Apply(ctx, spec.builds, opts); err != nil {
			return failure(fmt.Errorf("apply: %w", err))
		}
	}
	runs := r.Cluster.Dynamic.Resource(m.Resource).Namespace(spec.namespace)
	name, err := r.createBuildRun(ctx, runs, wo, spec, opts.Backoff)
	if err != nil {
		return failure(err)
	}
	limit := r.buildTimeout()
	runDeadline := time.Now().Add(limit)
	if deadline.Before(runDeadline) {
		runDeadline, limit = deadline, budget
	}
	return r.waitBuildRun(ctx, runs, nsName(spec.namespace, name), name, limit, runDeadline)
}

// createBuildRun creates the order's BuildRun, `<build>-<first 8 characters of the order
// id>`; one left by an earlier attempt of the same order is used as it is.
func (r *Runner) createBuildRun(ctx context.Context, runs dynamic.ResourceInterface, wo client.WorkOrder, spec buildSpec, b kube.Backoff) (string, error) {
	name := spec.name + "-" + wo.ID.String()[:8]
	run := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": BuildRunGVK.GroupVersion().String(),
		"kind":       BuildRunGVK.Kind,
		"metadata": map[string]any{
			"name":      name,
			"namespace": spec.namespace,
			"labels": map[string]any{
				LabelWorkOrderID: wo.ID.String(),
				LabelBuild:       spec.name,
			},
		},
		"spec": map[string]any{"build": map[string]any{"name": spec.name}},
	}}
	err := kube.Retry(ctx, b, func(ctx context.Context) error {
		_, err := runs.Create(ctx, run, metav1.CreateOptions{FieldManager: FieldManager})
		return err
	})
	switch {
	case apierrors.IsAlreadyExists(err):
		r.log().Info("reusing the BuildRun of an earlier attempt", logx.WorkOrderID(wo.ID),
			slog.String("buildrun", nsName(spec.namespace, name)))
	case err != nil:
		return "", fmt.Errorf("create buildrun %s: %w", nsName(spec.namespace, name), err)
	}
	return name, nil
}

// waitBuildRun polls the BuildRun until its Succeeded condition is set or the deadline.
func (r *Runner) waitBuildRun(ctx context.Context, runs dynamic.ResourceInterface, ref, name string, limit time.Duration, deadline time.Time) Result {
	ticker := time.NewTicker(r.pollInterval())
	defer ticker.Stop()
	for {
		run, err := runs.Get(ctx, name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err):
			return finalFailure("buildrun %s was deleted before it finished", ref)
		case err == nil:
			if res, done := buildRunOutcome(run); done {
				return res
			}
		case ctx.Err() != nil:
			return failure(fmt.Errorf("buildrun %s: %w", ref, ctx.Err()))
		case !kube.Retryable(err):
			return failure(fmt.Errorf("read buildrun %s: %w", ref, err))
		}
		if !time.Now().Before(deadline) {
			return finalFailure("buildrun %s did not finish within %s", ref, limit)
		}
		timer := time.NewTimer(time.Until(deadline))
		select {
		case <-ctx.Done():
			timer.Stop()
			return failure(fmt.Errorf("buildrun %s: %w", ref, ctx.Err()))
		case <-ticker.C:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// buildRunOutcome judges a BuildRun by its Succeeded condition.
func buildRunOutcome(run *unstructured.Unstructured) (Result, bool) {
	conds, _, _ := unstructured.NestedSlice(run.Object, "status", "conditions")
	for _, c := range conds {
		cond, ok := c.(map[string]any)
		if !ok || cond["type"] != "Succeeded" {
			continue
		}
		switch cond["status"] {
		case "True":
			digest, _, _ := unstructured.NestedString(run.Object, "status", "output", "digest")
			if digest == "" {
				digest = "build succeeded"
			}
			return Result{Success: true, Message: digest}, true
		case "False":
			reason, _, _ := unstructured.NestedString(run.Object, "status", "failureDetails", "reason")
			message, _, _ := unstructured.NestedString(run.Object, "status", "failureDetails", "message")
			if reason == "" && message == "" {
				reason, _ = cond["reason"].(string)
				message, _ = cond["message"].(string)
			}
			text := reasonMessage(reason, message)
			if text == "" {
				text = "build failed"
			}
			return failure(errors.New(text)), true
		}
	}
	return Result{}, false
}
