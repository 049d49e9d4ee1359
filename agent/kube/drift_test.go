package kube_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
)

// TestDriftPaths: a Service's port found by its two keys, a port removed (one path for the
// element), a removed label the manifest sets, a deleted object; defaulted fields (clusterIP, sessionAffinity, ...) are never
// drift.
func TestDriftPaths(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := newCluster(t, env.Config)
	opts := kube.ApplyOptions{FieldManager: "brokkr-controller", Backoff: fastBackoff}
	svc := fmt.Sprintf(`apiVersion: v1
kind: Service
metadata: {name: web, namespace: %s, labels: {app: web}}
spec:
  selector: {app: web}
  ports: [{name: http, port: 80, protocol: TCP, targetPort: 8080}, {name: https, port: 443, protocol: TCP}]
`, ns)
	if err := c.Apply(ctx, mustParse(t, svc), opts); err != nil {
		t.Fatal(err)
	}
	drift := func() []string {
		t.Helper()
		paths, err := c.Drift(ctx, mustParse(t, svc)[0], opts)
		if err != nil {
			t.Fatal(err)
		}
		return paths
	}
	if got := drift(); len(got) != 0 {
		t.Fatalf("right after the apply: %v", got)
	}
	patch := `{"metadata":{"labels":{"app":null}},"spec":{"ports":[{"port":80,"protocol":"TCP","targetPort":9090},{"port":443,"$patch":"delete"}]}}`
	if _, err := env.Kube.CoreV1().Services(ns).Patch(ctx, "web", types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{FieldManager: "kubectl-edit"}); err != nil {
		t.Fatal(err)
	}
	want := []string{"metadata.labels.app", "spec.ports[port=443,protocol=TCP]", "spec.ports[port=80,protocol=TCP].targetPort"}
	if got := drift(); !slices.Equal(got, want) {
		t.Fatalf("drift %q, want %q", got, want)
	}
	if err := env.Kube.CoreV1().Services(ns).Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := drift(); !slices.Equal(got, []string{kube.PathDeleted}) {
		t.Fatalf("deleted: %q", got)
	}
}
