package deploytest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"

	"github.com/brokkr/brokkr/agent/internal/kubetest"
)

func TestMain(m *testing.M) { kubetest.Main(m) }

const fieldManager = "brokkr-chart-test"

// cluster is the test control plane, with the ServiceMonitor CRD installed and a RESTMapper
// that knows it.
type cluster struct {
	env    *kubetest.Env
	mapper meta.RESTMapper
}

var shared struct {
	sync.Once
	c   *cluster
	err error
}

// getCluster returns the package's control plane, ready for the charts' objects.
func getCluster(t *testing.T) *cluster {
	t.Helper()
	env := kubetest.Get(t)
	shared.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := installServiceMonitorCRD(ctx, env); err != nil {
			shared.err = err
			return
		}
		mapper, err := waitForMapping(ctx, env, schema.GroupKind{Group: "monitoring.coreos.com", Kind: "ServiceMonitor"})
		shared.c, shared.err = &cluster{env: env, mapper: mapper}, err
	})
	if shared.err != nil {
		t.Fatalf("prepare the control plane: %v", shared.err)
	}
	return shared.c
}

// installServiceMonitorCRD installs the Prometheus Operator's ServiceMonitor kind, with a
// schema covering the fields the charts set (names, types and patterns as upstream), so that
// strict field validation catches a misspelt or misplaced field.
func installServiceMonitorCRD(ctx context.Context, env *kubetest.Env) error {
	duration := map[string]any{"type": "string", "pattern": `^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$`}
	stringMap := map[string]any{"type": "object", "additionalProperties": map[string]any{"type": "string"}}
	schemaDoc := map[string]any{
		"type": "object",
		"properties": map[string]any{
			"apiVersion": map[string]any{"type": "string"},
			"kind":       map[string]any{"type": "string"},
			"metadata":   map[string]any{"type": "object"},
			"spec": map[string]any{
				"type":     "object",
				"required": []any{"selector", "endpoints"},
				"properties": map[string]any{
					"jobLabel": map[string]any{"type": "string"},
					"selector": map[string]any{
						"type": "object",
						"properties": map[string]any{
							"matchLabels": stringMap,
							"matchExpressions": map[string]any{
								"type": "array",
								"items": map[string]any{
									"type":                                 "object",
									"x-kubernetes-preserve-unknown-fields": true,
								},
							},
						},
					},
					"namespaceSelector": map[string]any{"type": "object", "x-kubernetes-preserve-unknown-fields": true},
					"endpoints": map[string]any{
						"type": "array",
						"items": map[string]any{
							"type": "object",
							"properties": map[string]any{
								"port":          map[string]any{"type": "string"},
								"targetPort":    map[string]any{"x-kubernetes-int-or-string": true},
								"path":          map[string]any{"type": "string"},
								"scheme":        map[string]any{"type": "string", "enum": []any{"http", "https"}},
								"interval":      duration,
								"scrapeTimeout": duration,
								"honorLabels":   map[string]any{"type": "boolean"},
							},
						},
					},
				},
			},
		},
	}
	crd := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apiextensions.k8s.io/v1",
		"kind":       "CustomResourceDefinition",
		"metadata":   map[string]any{"name": "servicemonitors.monitoring.coreos.com"},
		"spec": map[string]any{
			"group": "monitoring.coreos.com",
			"scope": "Namespaced",
			"names": map[string]any{
				"plural": "servicemonitors", "singular": "servicemonitor",
				"kind": "ServiceMonitor", "listKind": "ServiceMonitorList",
			},
			"versions": []any{map[string]any{
				"name": "v1", "served": true, "storage": true,
				"schema": map[string]any{"openAPIV3Schema": schemaDoc},
			}},
		},
	}}
	data, err := json.Marshal(crd.Object)
	if err != nil {
		return fmt.Errorf("encode CRD: %w", err)
	}
	gvr := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	force := true
	if _, err := env.Dynamic.Resource(gvr).Patch(ctx, crd.GetName(), types.ApplyPatchType, data,
		metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
		return fmt.Errorf("install the ServiceMonitor CRD: %w", err)
	}
	return nil
}

// waitForMapping builds a RESTMapper from discovery once it knows gk.
func waitForMapping(ctx context.Context, env *kubetest.Env, gk schema.GroupKind) (meta.RESTMapper, error) {
	for {
		groups, err := restmapper.GetAPIGroupResources(env.Kube.Discovery())
		if err == nil {
			mapper := restmapper.NewDiscoveryRESTMapper(groups)
			if _, err = mapper.RESTMapping(gk); err == nil {
				return mapper, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("discovery does not serve %s: %w (last error: %w)", gk, ctx.Err(), err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// restrictedNamespace creates a namespace that enforces, and warns about, the "restricted" Pod
// Security Standard.
func (c *cluster) restrictedNamespace(t *testing.T) string {
	t.Helper()
	ns := c.env.Namespace(t)
	patch := []byte(`{"metadata":{"labels":{` +
		`"pod-security.kubernetes.io/enforce":"restricted",` +
		`"pod-security.kubernetes.io/warn":"restricted",` +
		`"pod-security.kubernetes.io/audit":"restricted"}}}`)
	if _, err := c.env.Kube.CoreV1().Namespaces().Patch(context.Background(), ns, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatalf("label namespace %s: %v", ns, err)
	}
	return ns
}

// warnings collects the Warning headers of API responses.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// resource returns the client for o's resource, in o's namespace when the kind is namespaced.
// It checks that o carries a namespace exactly when its kind is namespaced, and that the
// namespace is ns: the charts set metadata.namespace on every namespaced object.
func (c *cluster) resource(t *testing.T, client dynamic.Interface, o *unstructured.Unstructured, ns string) dynamic.ResourceInterface {
	t.Helper()
	gvk := o.GroupVersionKind()
	m, err := c.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s %s: the API server does not serve this kind: %v", gvk, o.GetName(), err)
	}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if o.GetNamespace() != ns {
			t.Errorf("%s %s: metadata.namespace = %q, want the release namespace %q", o.GetKind(), o.GetName(), o.GetNamespace(), ns)
		}
		return client.Resource(m.Resource).Namespace(ns)
	}
	if o.GetNamespace() != "" {
		t.Errorf("cluster-scoped %s %s has metadata.namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
	}
	return client.Resource(m.Resource)
}

// dryRunApply server-side applies every object as a dry run with strict field validation and
// fails the test for any object the API server rejects or warns about (with ns labelled
// restricted, a Deployment whose pods break the Pod Security Standard draws a warning).
func (c *cluster) dryRunApply(t *testing.T, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	for _, err := range c.dryRunApplyErrors(t, objs, ns) {
		t.Error(err)
	}
}

// dryRunApplyErrors is dryRunApply returning the rejections and warnings as errors.
func (c *cluster) dryRunApplyErrors(t *testing.T, objs []*unstructured.Unstructured, ns string) []error {
	t.Helper()
	var w warnings
	cfg := rest.CopyConfig(c.env.Config)
	cfg.WarningHandler = &w
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	force := true
	var errs []error
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatalf("encode %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		got, err := c.resource(t, client, o, ns).Patch(context.Background(), o.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{
			FieldManager:    fieldManager,
			Force:           &force,
			DryRun:          []string{metav1.DryRunAll},
			FieldValidation: metav1.FieldValidationStrict,
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("server-side apply (dry run) of %s %s rejected: %w", o.GetKind(), o.GetName(), err))
			continue
		}
		if got.GetKind() != o.GetKind() || got.GetName() != o.GetName() {
			errs = append(errs, fmt.Errorf("dry-run apply of %s %s returned %s %s", o.GetKind(), o.GetName(), got.GetKind(), got.GetName()))
		}
		if ws := w.take(); len(ws) > 0 {
			errs = append(errs, fmt.Errorf("server-side apply (dry run) of %s %s drew warnings: %q", o.GetKind(), o.GetName(), ws))
		}
	}
	return errs
}

// apply server-side applies the objects for real.
func (c *cluster) apply(t *testing.T, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	force := true
	for _, o := range objs {
		data, err := o.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.resource(t, c.env.Dynamic, o, ns).Patch(context.Background(), o.GetName(), types.ApplyPatchType, data,
			metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			t.Fatalf("server-side apply of %s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}
}

// admitPods creates, as a dry run, the pod each Deployment's template describes, in a
// namespace that enforces the restricted Pod Security Standard: the admission chain
// (PodSecurity, ServiceAccount, ...) must accept it. The pods' service accounts must exist.
func (c *cluster) admitPods(t *testing.T, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	for _, err := range c.admitPodsErrors(t, objs, ns) {
		t.Error(err)
	}
}

// admitPodsErrors is admitPods returning the rejections as errors.
func (c *cluster) admitPodsErrors(t *testing.T, objs []*unstructured.Unstructured, ns string) []error {
	t.Helper()
	deps := ofKind(objs, "Deployment")
	if len(deps) == 0 {
		t.Fatal("no Deployment rendered")
	}
	var errs []error
	for _, u := range deps {
		d := convert[appsv1.Deployment](t, u)
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Name:        d.Name + "-admission",
				Namespace:   ns,
				Labels:      d.Spec.Template.Labels,
				Annotations: d.Spec.Template.Annotations,
			},
			Spec: d.Spec.Template.Spec,
		}
		if _, err := c.env.Kube.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{
			DryRun:          []string{metav1.DryRunAll},
			FieldValidation: metav1.FieldValidationStrict,
		}); err != nil {
			errs = append(errs, fmt.Errorf("the pod of Deployment %s is not admitted in namespace %s: %w", d.Name, ns, err))
		}
	}
	return errs
}

// access describes one request a service account may or may not make.
type access struct {
	verb, group, resource, subresource, namespace string
}

func (a access) String() string {
	r := a.resource
	if a.group != "" {
		r += "." + a.group
	}
	if a.subresource != "" {
		r += "/" + a.subresource
	}
	where := "cluster-wide"
	if a.namespace != "" {
		where = "in " + a.namespace
	}
	return fmt.Sprintf("%s %s %s", a.verb, r, where)
}

// allowed asks the API server's authorizer whether service account ns/sa may make request a.
func (c *cluster) allowed(t *testing.T, ns, sa string, a access) bool {
	t.Helper()
	review := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User:   "system:serviceaccount:" + ns + ":" + sa,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
		ResourceAttributes: &authorizationv1.ResourceAttributes{
			Verb: a.verb, Group: a.group, Resource: a.resource, Subresource: a.subresource, Namespace: a.namespace,
		},
	}}
	got, err := c.env.Kube.AuthorizationV1().SubjectAccessReviews().Create(context.Background(), review, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("SubjectAccessReview %s: %v", a, err)
	}
	return got.Status.Allowed
}

// checkAccess asserts what service account ns/sa may do. The authorizer learns of new RBAC
// objects through an informer, so an allowed request is retried for a while first.
func (c *cluster) checkAccess(t *testing.T, ns, sa string, allow, deny []access) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, a := range allow {
		for !c.allowed(t, ns, sa, a) {
			if time.Now().After(deadline) {
				t.Fatalf("service account %s/%s may not %s; the chart's RBAC must allow it", ns, sa, a)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	for _, a := range deny {
		if c.allowed(t, ns, sa, a) {
			t.Errorf("service account %s/%s may %s; the chart's RBAC must not allow it", ns, sa, a)
		}
	}
}
