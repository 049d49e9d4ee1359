package kube_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/agent/kube"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

var fastBackoff = kube.Backoff{Initial: 10 * time.Millisecond, Multiplier: 2, Max: 100 * time.Millisecond, MaxElapsed: 5 * time.Second}

func newCluster(t *testing.T, cfg *rest.Config) *kube.Cluster {
	t.Helper()
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustParse(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := kube.Parse(manifest)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

var cmGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}

func TestParse(t *testing.T) {
	objs, err := kube.Parse(`
---
# only a comment
---
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
null
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}
- {apiVersion: v1, kind: Secret, metadata: {name: c, namespace: x}}
`)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range objs {
		got = append(got, kube.RefOf(o).String())
	}
	want := "v1 ConfigMap a|v1 ConfigMap b|v1 Secret x/c"
	if strings.Join(got, "|") != want {
		t.Fatalf("parsed %q, want %q", strings.Join(got, "|"), want)
	}
	for name, tc := range map[string]struct{ in, err string }{
		"bad yaml":      {"apiVersion: v1\nkind: [", "document 1: invalid YAML"},
		"no kind":       {"apiVersion: v1\nmetadata: {name: a}", "document 1: kind is required"},
		"no apiVersion": {"---\nkind: ConfigMap\nmetadata: {name: a}", "document 1: apiVersion is required"},
		"no name":       {"apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}", "document 1: ConfigMap: metadata.name is required"},
		"generateName":  {"apiVersion: v1\nkind: ConfigMap\nmetadata: {generateName: x-}", "generateName cannot be applied"},
		"bad version":   {"apiVersion: a/b/c\nkind: X\nmetadata: {name: a}", `apiVersion "a/b/c"`},
	} {
		if _, err := kube.Parse(tc.in); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: error %v, want it to contain %q", name, err, tc.err)
		}
	}
	if objs, err := kube.Parse(""); err != nil || len(objs) != 0 {
		t.Fatalf("empty manifest: %v %v", objs, err)
	}
}

func TestRetryable(t *testing.T) {
	gr := schema.GroupResource{Resource: "configmaps"}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewTooManyRequests("slow down", 0), true},
		{apierrors.NewInternalError(errors.New("boom")), true},
		{apierrors.NewServiceUnavailable("later"), true},
		{apierrors.NewTimeoutError("slow", 0), true},
		{apierrors.NewGenericServerResponse(504, "PATCH", gr, "x", "gateway", 0, true), true},
		{apierrors.NewNotFound(gr, "x"), false},
		{apierrors.NewConflict(gr, "x", errors.New("conflict")), false},
		{apierrors.NewBadRequest("bad"), false},
		{apierrors.NewForbidden(gr, "x", errors.New("no")), false},
		{context.Canceled, false},
		{errors.New("plain"), false},
		{nil, false},
	} {
		if got := kube.Retryable(tc.err); got != tc.want {
			t.Errorf("Retryable(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

func TestRetryGivesUp(t *testing.T) {
	calls := 0
	err := kube.Retry(context.Background(), kube.Backoff{Initial: 5 * time.Millisecond, Multiplier: 2, Max: 20 * time.Millisecond, MaxElapsed: 60 * time.Millisecond}, func(context.Context) error {
		calls++
		return apierrors.NewServiceUnavailable("down")
	})
	if !apierrors.IsServiceUnavailable(err) || calls < 3 || calls > 10 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	calls = 0
	err = kube.Retry(context.Background(), fastBackoff, func(context.Context) error { calls++; return apierrors.NewBadRequest("no") })
	if !apierrors.IsBadRequest(err) || calls != 1 {
		t.Fatalf("non-retryable: err %v after %d calls", err, calls)
	}
}

// TestRetryWaits: the waits honour the server's Retry-After up to Max, a wait that would
// outlast MaxElapsed is not begun, and an ended context returns the last error at once.
func TestRetryWaits(t *testing.T) {
	throttled := func(calls *int, failures int) func(context.Context) error {
		return func(context.Context) error {
			if *calls++; *calls <= failures {
				return apierrors.NewTooManyRequests("slow down", 1)
			}
			return nil
		}
	}
	calls, start := 0, time.Now()
	err := kube.Retry(context.Background(), kube.Backoff{Initial: 5 * time.Millisecond, Multiplier: 2, Max: 2 * time.Second, MaxElapsed: 5 * time.Second}, throttled(&calls, 1))
	if took := time.Since(start); err != nil || calls != 2 || took < 900*time.Millisecond {
		t.Fatalf("Retry-After 1 s: err %v after %d calls in %v", err, calls, took)
	}
	calls, start = 0, time.Now()
	err = kube.Retry(context.Background(), kube.Backoff{Initial: 5 * time.Millisecond, Multiplier: 2, Max: 50 * time.Millisecond, MaxElapsed: 5 * time.Second}, throttled(&calls, 2))
	if took := time.Since(start); err != nil || calls != 3 || took > 500*time.Millisecond {
		t.Fatalf("Retry-After above Max: err %v after %d calls in %v", err, calls, took)
	}
	calls, start = 0, time.Now()
	err = kube.Retry(context.Background(), kube.Backoff{Initial: 5 * time.Millisecond, Multiplier: 2, Max: 2 * time.Second, MaxElapsed: 500 * time.Millisecond}, throttled(&calls, 1))
	if took := time.Since(start); !apierrors.IsTooManyRequests(err) || calls != 1 || took > 200*time.Millisecond {
		t.Fatalf("wait beyond MaxElapsed: err %v after %d calls in %v", err, calls, took)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	calls, start = 0, time.Now()
	err = kube.Retry(ctx, kube.Backoff{Initial: time.Second, Multiplier: 2, Max: time.Minute, MaxElapsed: time.Minute}, throttled(&calls, 10))
	if took := time.Since(start); !apierrors.IsTooManyRequests(err) || calls != 1 || took > 500*time.Millisecond {
		t.Fatalf("ended context: err %v after %d calls in %v", err, calls, took)
	}
}

// TestApplyOrdersNamespaceCRDAndCustomResource applies, in one call and in the worst order,
// a custom resource, its CRD and its namespace.
func TestApplyOrdersNamespaceCRDAndCustomResource(t *testing.T) {
	env := kubetest.Get(t)
	c := newCluster(t, env.Config)
	ns := kubetest.UniqueName("ordering")
	group := kubetest.UniqueName("widgets") + ".example.com"
	objs := mustParse(t, fmt.Sprintf(`
apiVersion: %[1]s/v1
kind: Widget
metadata: {name: w1, namespace: %[2]s}
spec: {size: 3}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: widgets.%[1]s}
spec:
  group: %[1]s
  scope: Namespaced
  names: {plural: widgets, singular: widget, kind: Widget}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, x-kubernetes-preserve-unknown-fields: true}
---
apiVersion: v1
kind: Namespace
metadata: {name: %[2]s}
`, group, ns))
	if err := c.Apply(context.Background(), objs, kube.ApplyOptions{Validate: true, Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	w, err := env.Dynamic.Resource(schema.GroupVersionResource{Group: group, Version: "v1", Resource: "widgets"}).Namespace(ns).Get(context.Background(), "w1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if size, _, _ := unstructured.NestedInt64(w.Object, "spec", "size"); size != 3 {
		t.Fatalf("widget spec %v", w.Object["spec"])
	}
	if m := w.GetManagedFields(); len(m) != 1 || m[0].Manager != "brokkr-controller" || m[0].Operation != metav1.ManagedFieldsOperationApply {
		t.Fatalf("managed fields %+v", m)
	}
}

func TestApplyDefaultsNamespaceAndClearsItForClusterScoped(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	c := newCluster(t, env.Config)
	name := kubetest.UniqueName("role")
	objs := mustParse(t, fmt.Sprintf(`
apiVersion: v1
kind: ConfigMap
metadata: {name: nons}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: %s, namespace: ignored}
rules: []
`, name))
	if err := c.Apply(context.Background(), objs, kube.ApplyOptions{DefaultNamespace: ns, Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "nons", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if objs[0].GetNamespace() != ns || objs[1].GetNamespace() != "" {
		t.Fatalf("namespaces as applied: %q %q", objs[0].GetNamespace(), objs[1].GetNamespace())
	}
}

// TestApplyForcesFieldManagerConflict: a field another manager owns is taken over; the
// fields only the other manager sets stay.
func TestApplyForcesFieldManagerConflict(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	other := []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared","namespace":%q},"data":{"a":"theirs","b":"theirs"}}`, ns))
	if _, err := env.Dynamic.Resource(cmGVR).Namespace(ns).Patch(ctx, "shared", types.ApplyPatchType, other, metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatal(err)
	}
	// Without force, the same apply is a conflict: the situation is real.
	mine := []byte(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared","namespace":%q},"data":{"a":"ours"}}`, ns))
	_, err := env.Dynamic.Resource(cmGVR).Namespace(ns).Patch(ctx, "shared", types.ApplyPatchType, mine, metav1.PatchOptions{FieldManager: "brokkr-controller"})
	if !apierrors.IsConflict(err) {
		t.Fatalf("unforced apply: %v, want a conflict", err)
	}
	c := newCluster(t, env.Config)
	objs := mustParse(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: shared, namespace: %s}\ndata: {a: ours}\n", ns))
	if err := c.Apply(ctx, objs, kube.ApplyOptions{Backoff: fastBackoff}); err != nil {
		t.Fatal(err)
	}
	cm, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "shared", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cm.Data["a"] != "ours" || cm.Data["b"] != "theirs" {
		t.Fatalf("data %v", cm.Data)
	}
	managers := map[string]bool{}
	for _, m := range cm.ManagedFields {
		managers[m.Manager] = true
	}
	if !managers["brokkr-controller"] || !managers["kubectl"] {
		t.Fatalf("managers %v", managers)
	}
}

// TestApplyValidatesBeforeWriting: one invalid object keeps every other object of the apply
// out of the cluster, and the namespace the apply created is rolled back.
func TestApplyValidatesBeforeWriting(t *testing.T) {
	env := kubetest.Get(t)
	ctx := context.Background()
	ns := kubetest.UniqueName("validate")
	var rc kubetest.RequestCounter
	c := newCluster(t, rc.Wrap(env.Config))
	objs := mustParse(t, fmt.Sprintf(`
apiVersion: v1
kind: Namespace
metadata: {name: %[1]s}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: good, namespace: %[1]s}
---
apiVersion: v1
kind: Service
metadata: {name: bad, namespace: %[1]s}
spec:
  ports: [{port: 99999}]
`, ns))
	err := c.Apply(ctx, objs, kube.ApplyOptions{Validate: true, RollbackNamespaces: true, Backoff: fastBackoff})
	var oe *kube.ObjectError
	if !errors.As(err, &oe) || oe.Ref.Name != "bad" || !strings.Contains(err.Error(), "99999") {
		t.Fatalf("error %v, want the Service's validation error", err)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(ctx, "good", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("ConfigMap of a rejected apply: %v", err)
	}
	n, err := env.Kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
	if err == nil && n.DeletionTimestamp == nil {
		t.Fatalf("namespace created by the failed apply was not deleted")
	}
}

func TestApplyUnknownKind(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	c := newCluster(t, env.Config)
	objs := mustParse(t, fmt.Sprintf("apiVersion: nowhere.example.com/v1\nkind: Ghost\nmetadata: {name: g, namespace: %s}\n", ns))
	err := c.Apply(context.Background(), objs, kube.ApplyOptions{Backoff: fastBackoff})
	if err == nil || !strings.Contains(err.Error(), "Ghost") {
		t.Fatalf("error %v", err)
	}
}

// faultInjector fails the first n PATCH requests with the given statuses, round robin.
type faultInjector struct {
	mu       sync.Mutex
	statuses []int
	left     int
	patches  atomic.Int64
}

func (f *faultInjector) wrap(cfg *rest.Config) *rest.Config {
	out := rest.CopyConfig(cfg)
	out.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodPatch {
				return rt.RoundTrip(r)
			}
			f.patches.Add(1)
			f.mu.Lock()
			var code int
			if f.left > 0 {
				code = f.statuses[(len(f.statuses)*100-f.left)%len(f.statuses)]
				f.left--
			}
			f.mu.Unlock()
			if code == 0 {
				return rt.RoundTrip(r)
			}
			body := fmt.Sprintf(`{"kind":"Status","apiVersion":"v1","status":"Failure","message":"injected %d","code":%d}`, code, code)
			return &http.Response{StatusCode: code, Header: http.Header{"Content-Type": {"application/json"}},
				Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
		})
	})
	return out
}

type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestApplyRetriesApiserverErrors(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	fi := &faultInjector{statuses: []int{500, 503, 504, 429}, left: 4}
	c := newCluster(t, fi.wrap(env.Config))
	objs := mustParse(t, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: flaky, namespace: %s}\ndata: {k: v}\n", ns))
	var observed []string
	var mu sync.Mutex
	opts := kube.ApplyOptions{Backoff: fastBackoff, Observe: func(op string, _ time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		observed = append(observed, fmt.Sprint(op, " ", err != nil))
	}}
	if err := c.Apply(context.Background(), objs, opts); err != nil {
		t.Fatal(err)
	}
	if got := fi.patches.Load(); got != 5 {
		t.Fatalf("%d PATCH requests, want 4 failures and 1 success", got)
	}
	if strings.Join(observed, ",") != "apply true,apply true,apply true,apply true,apply false" {
		t.Fatalf("observed %v", observed)
	}
	if _, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "flaky", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// A 400 is not retried.
	fi2 := &faultInjector{statuses: []int{400}, left: 1}
	c2 := newCluster(t, fi2.wrap(env.Config))
	if err := c2.Apply(context.Background(), objs, kube.ApplyOptions{Backoff: fastBackoff}); err == nil || fi2.patches.Load() != 1 {
		t.Fatalf("400: err %v after %d requests", err, fi2.patches.Load())
	}
}

func TestApplyConcurrencyAndOwnedListing(t *testing.T) {
	env := kubetest.Get(t)
	ns := env.Namespace(t)
	ctx := context.Background()
	c := newCluster(t, env.Config)
	var b strings.Builder
	for i := range 40 {
		fmt.Fprintf(&b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm-%d, namespace: %s}\n", i, ns)
	}
	objs := mustParse(t, b.String())
	for i, o := range objs {
		owner := "agent-a"
		if i%4 == 0 {
			owner = "agent-b"
		}
		kube.SetAnnotations(o, map[string]string{kube.AnnotationOwner: owner, kube.AnnotationStack: "s1", kube.AnnotationChecksum: "c1"})
	}
	var inFlight, peak atomic.Int64
	opts := kube.ApplyOptions{Concurrency: 4, Backoff: fastBackoff, Observe: func(string, time.Duration, error) {}}
	cfg := rest.CopyConfig(env.Config)
	cfg.Wrap(func(rt http.RoundTripper) http.RoundTripper {
		return rtFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method == http.MethodPatch {
				n := inFlight.Add(1)
				defer inFlight.Add(-1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				time.Sleep(5 * time.Millisecond)
			}
			return rt.RoundTrip(r)
		})
	})
	if err := newCluster(t, cfg).Apply(ctx, objs, opts); err != nil {
		t.Fatal(err)
	}
	if p := peak.Load(); p < 2 || p > 4 {
		t.Fatalf("peak of %d parallel applies, want 2..4", p)
	}
	owned, err := c.ListOwned(ctx, "agent-a", ns)
	if err != nil {
		t.Fatal(err)
	}
	if len(owned) != 30 {
		t.Fatalf("%d objects owned by agent-a, want 30", len(owned))
	}
	for _, o := range owned {
		if o.StackID != "s1" || o.Checksum != "c1" || o.Ref.GVK.Kind != "ConfigMap" || o.Ref.Namespace != ns || o.UID == "" {
			t.Fatalf("owned %+v", o)
		}
	}
	if err := c.Delete(ctx, owned[0].Ref, fastBackoff); err != nil {
		t.Fatal(err)
	}
	if err := c.Delete(ctx, owned[0].Ref, fastBackoff); err != nil {
		t.Fatalf("deleting a deleted object: %v", err)
	}
	after, err := c.ListOwned(ctx, "agent-a", ns)
	if err != nil || len(after) != 29 {
		t.Fatalf("after delete: %d owned, %v", len(after), err)
	}
	ghost := kube.Ref{GVK: schema.GroupVersionKind{Group: "gone.example.com", Version: "v1", Kind: "Gone"}, Namespace: ns, Name: "x"}
	if err := c.Delete(ctx, ghost, fastBackoff); err != nil {
		t.Fatalf("deleting an object of an unknown kind: %v", err)
	}
}

func TestVersion(t *testing.T) {
	env := kubetest.Get(t)
	v, took, err := newCluster(t, env.Config).Version(context.Background())
	if err != nil || !strings.HasPrefix(v, "v1.") || took <= 0 {
		t.Fatalf("version %q in %s: %v", v, took, err)
	}
}
