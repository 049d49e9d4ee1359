package workorders_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/workorders"
	"github.com/brokkr/brokkr/client"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/util/retry"
)

var (
	buildGVR    = schema.GroupVersionResource{Group: "shipwright.io", Version: "v1beta1", Resource: "builds"}
	buildRunGVR = schema.GroupVersionResource{Group: "shipwright.io", Version: "v1beta1", Resource: "buildruns"}
)

func buildYAML(ns, name string) string {
	return fmt.Sprintf(`apiVersion: shipwright.io/v1beta1
kind: Build
metadata:
  name: %s
  namespace: %s
spec:
  source:
    type: Git
    git: {url: "https://example.com/app.git"}
  strategy: {name: buildah, kind: ClusterBuildStrategy}
  output: {image: registry.example.com/app}
`, name, ns)
}

func workOrderRefYAML(ns, build string) string {
	return fmt.Sprintf(`apiVersion: brokkr.io/v1
kind: WorkOrder
metadata:
  namespace: %s
spec:
  buildRef:
    name: %s
`, ns, build)
}

func buildRunName(build string, wo client.WorkOrder) string { return build + "-" + wo.ID.String()[:8] }

// setBuildRunStatus waits until the BuildRun exists and sets its status (the test plays
// the Shipwright controller). It returns the BuildRun as it was created.
func setBuildRunStatus(t *testing.T, dyn dynamic.Interface, ns, name string, status map[string]any) (*unstructured.Unstructured, error) {
	t.Helper()
	ctx := context.Background()
	runs := dyn.Resource(buildRunGVR).Namespace(ns)
	var created *unstructured.Unstructured
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		created, err = runs.Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			break
		}
		if !apierrors.IsNotFound(err) || time.Now().After(deadline) {
			return nil, fmt.Errorf("buildrun %s/%s: %w", ns, name, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return created, retry.RetryOnConflict(retry.DefaultRetry, func() error {
		run, err := runs.Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		run.Object["status"] = status
		_, err = runs.UpdateStatus(ctx, run, metav1.UpdateOptions{})
		return err
	})
}

func succeeded(status, reason, message string) map[string]any {
	return map[string]any{"conditions": []any{map[string]any{
		"type": "Succeeded", "status": status, "reason": reason, "message": message,
		"lastTransitionTime": time.Now().UTC().Format(time.RFC3339),
	}}}
}

// Runs first (file order): the Shipwright definitions are not installed yet.
func TestBuildWithoutShipwright(t *testing.T) {
	f := setup(t)
	removeShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, buildYAML(f.ns, "app"), 0)
	wait(t, f.runOnce(t))
	l := f.finished(t, wo.ID) // in the log despite retries left: not retryable
	if l.Success || message(l) != workorders.NoShipwrightMessage {
		t.Fatalf("log success=%t message %q, want %q", l.Success, message(l), workorders.NoShipwrightMessage)
	}
}

func TestBuildSucceeds(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, docs(buildYAML(f.ns, "app"), workOrderRefYAML(f.ns, "other")), 0)
	done := f.runOnce(t)
	status := succeeded("True", "Succeeded", "All Steps have completed executing")
	status["output"] = map[string]any{"digest": "sha256:0123abcd", "size": int64(1234)}
	run, err := setBuildRunStatus(t, f.env.Dynamic, f.ns, buildRunName("app", wo), status)
	if err != nil {
		t.Fatal(err)
	}
	wait(t, done)

	l := f.finished(t, wo.ID)
	if !l.Success || message(l) != "sha256:0123abcd" {
		t.Fatalf("log success=%t message %q, want the digest", l.Success, message(l))
	}
	labels := run.GetLabels()
	buildName, _, _ := unstructured.NestedString(run.Object, "spec", "build", "name")
	if run.GetAPIVersion() != "shipwright.io/v1beta1" || labels[workorders.LabelWorkOrderID] != wo.ID.String() ||
		labels[workorders.LabelBuild] != "app" || buildName != "app" {
		t.Fatalf("buildrun %s labels %v spec.build.name %q", run.GetAPIVersion(), labels, buildName)
	}
	// The Build document was applied by the agent's field manager (the WorkOrder document
	// named another build but the Build document wins).
	b, err := f.env.Dynamic.Resource(buildGVR).Namespace(f.ns).Get(context.Background(), "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var managers []string
	for _, m := range b.GetManagedFields() {
		managers = append(managers, m.Manager)
	}
	if !slices.Contains(managers, workorders.FieldManager) {
		t.Fatalf("build managers %v", managers)
	}
}

func TestBuildSucceedsWithoutDigest(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, workOrderRefYAML(f.ns, "prebuilt"), 0)
	done := f.runOnce(t)
	if _, err := setBuildRunStatus(t, f.env.Dynamic, f.ns, buildRunName("prebuilt", wo), succeeded("True", "Succeeded", "")); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	if l := f.finished(t, wo.ID); !l.Success || message(l) != "build succeeded" {
		t.Fatalf("log success=%t message %q", l.Success, message(l))
	}
}

func TestBuildFails(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, buildYAML(f.ns, "app"), 0)
	done := f.runOnce(t)
	status := succeeded("False", "Failed", "BuildRun failed")
	status["failureDetails"] = map[string]any{"reason": "BuildStepFailed", "message": "step-build exited with code 1"}
	if _, err := setBuildRunStatus(t, f.env.Dynamic, f.ns, buildRunName("app", wo), status); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	l := f.finished(t, wo.ID)
	if want := "BuildStepFailed: step-build exited with code 1"; l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want failure %q", l.Success, message(l), want)
	}
}

// A failure whose text says it is transient is reported as retryable: the broker schedules
// another attempt.
func TestBuildTransientFailureIsRetried(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, buildYAML(f.ns, "app"), 0)
	done := f.runOnce(t)
	status := succeeded("False", "BuildRunTimeout", "BuildRun exceeded its timeout")
	if _, err := setBuildRunStatus(t, f.env.Dynamic, f.ns, buildRunName("app", wo), status); err != nil {
		t.Fatal(err)
	}
	wait(t, done)
	got, err := f.broker.Admin.WorkOrders().Get(context.Background(), wo.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := "BuildRunTimeout: BuildRun exceeded its timeout"
	if got.Status != client.WorkOrderRetryPending || got.LastError == nil || *got.LastError != want {
		t.Fatalf("order status %s last_error %v, want RETRY_PENDING with %q", got.Status, got.LastError, want)
	}
}

// A BuildRun left by an earlier attempt of the same order is used, not an error.
func TestBuildReusesBuildRun(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, buildYAML(f.ns, "app"), 0)
	runs := f.env.Dynamic.Resource(buildRunGVR).Namespace(f.ns)
	earlier := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "shipwright.io/v1beta1", "kind": "BuildRun",
		"metadata": map[string]any{"name": buildRunName("app", wo)},
		"spec":     map[string]any{"build": map[string]any{"name": "app"}},
	}}
	if _, err := runs.Create(context.Background(), earlier, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	status := succeeded("True", "Succeeded", "")
	status["output"] = map[string]any{"digest": "sha256:feed"}
	if _, err := setBuildRunStatus(t, f.env.Dynamic, f.ns, buildRunName("app", wo), status); err != nil {
		t.Fatal(err)
	}
	wait(t, f.runOnce(t))
	if l := f.finished(t, wo.ID); !l.Success || message(l) != "sha256:feed" {
		t.Fatalf("log success=%t message %q", l.Success, message(l))
	}
}

func TestBuildTimesOut(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	f.runner.BuildTimeout = 500 * time.Millisecond
	wo := f.order(t, workorders.TypeBuild, buildYAML(f.ns, "app"), 0)
	wait(t, f.runOnce(t))
	l := f.finished(t, wo.ID)
	want := fmt.Sprintf("buildrun %s/%s did not finish within 500ms", f.ns, buildRunName("app", wo))
	if l.Success || message(l) != want {
		t.Fatalf("log success=%t message %q, want failure %q", l.Success, message(l), want)
	}
}

func TestBuildWithoutBuildName(t *testing.T) {
	f := setup(t)
	installShipwright(t, f.env)
	wo := f.order(t, workorders.TypeBuild, configMapYAML(f.ns, "not-a-build"), 0)
	wait(t, f.runOnce(t))
	l := f.finished(t, wo.ID)
	if l.Success || !strings.Contains(message(l), "names no build") {
		t.Fatalf("log success=%t message %q", l.Success, message(l))
	}
	list, err := f.env.Dynamic.Resource(buildRunGVR).Namespace(f.ns).List(context.Background(), metav1.ListOptions{})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("buildruns %v, %v: want none", list, err)
	}
}
