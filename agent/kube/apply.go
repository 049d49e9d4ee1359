package kube

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
)

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// FieldManager owns the applied fields; conflicts with other managers are forced.
	FieldManager string
	// DefaultNamespace receives namespaced objects that name none ("default" when empty).
	DefaultNamespace string
	// Concurrency bounds the parallel requests within one group (8 when 0).
	Concurrency int
	// Validate runs a server-side dry run of every object after the namespaces and CRDs
	// are in place and applies nothing else when any of them is rejected.
	Validate bool
	// Ownership, when set, is checked before anything is written: every object that already
	// exists must be the owner's object of the stack (or, for an object brokkr does not
	// manage, carry the adopt annotation); otherwise the apply writes nothing and fails with
	// an *OwnershipError per object.
	Ownership *Ownership
	// RollbackNamespaces deletes, when the apply fails, the namespaces it created itself, as
	// long as they hold nothing but the apply's own objects.
	RollbackNamespaces bool
	// Backoff retries transient failures of every request (DefaultBackoff when zero).
	Backoff Backoff
	// CRDTimeout bounds the wait for new CustomResourceDefinitions to be established (60 s).
	CRDTimeout time.Duration
	// Observe, when set, is told how long each apply request took.
	Observe func(op string, d time.Duration, err error)
}

func (o ApplyOptions) withDefaults() ApplyOptions {
	if o.FieldManager == "" {
		o.FieldManager = "brokkr-controller"
	}
	if o.DefaultNamespace == "" {
		o.DefaultNamespace = "default"
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	o.Backoff = o.Backoff.OrDefault()
	if o.CRDTimeout == 0 {
		o.CRDTimeout = time.Minute
	}
	return o
}

// ObjectError is the failure of one object.
type ObjectError struct {
	Ref Ref
	Err error
}

func (e *ObjectError) Error() string { return fmt.Sprintf("%s: %v", e.Ref, e.Err) }
func (e *ObjectError) Unwrap() error { return e.Err }

// Group is the apply stage of a kind: namespaces first, then CRDs, then everything else.
func Group(gvk schema.GroupVersionKind) int {
	switch {
	case gvk.Group == "" && gvk.Kind == "Namespace":
		return 0
	case gvk.Group == "apiextensions.k8s.io" && gvk.Kind == "CustomResourceDefinition":
		return 1
	}
	return 2
}

// Apply applies objs with server-side apply in stages — namespaces, then
// CustomResourceDefinitions (waiting until they are established), then the rest — with up to
// Concurrency requests in flight within a stage. Namespaced objects without a namespace get
// DefaultNamespace; cluster-scoped objects lose any namespace they name. objs are updated in
// place (namespace, as applied). A stage with failures stops the apply; the error joins one
// ObjectError (or OwnershipError) per failed object.
func (c *Cluster) Apply(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	opts = opts.withDefaults()
	if opts.Ownership != nil {
		if err := c.checkOwnership(ctx, objs, opts); err != nil {
			return err // nothing written
		}
	}
	groups := make([][]*unstructured.Unstructured, 3)
	for _, o := range objs {
		g := Group(o.GroupVersionKind())
		groups[g] = append(groups[g], o)
	}
	var created []string
	if len(groups[0]) > 0 && opts.RollbackNamespaces {
		var err error
		if created, err = c.missingNamespaces(ctx, groups[0], opts); err != nil {
			return err
		}
	}
	err := c.applyStages(ctx, groups, opts)
	if err != nil && len(created) > 0 {
		// Only a failed apply rolls back, and only what it created itself.
		c.rollbackNamespaces(context.WithoutCancel(ctx), created, opts)
	}
	return err
}

func (c *Cluster) applyStages(ctx context.Context, groups [][]*unstructured.Unstructured, opts ApplyOptions) error {
	if len(groups[0]) > 0 {
		if err := c.applyGroup(ctx, groups[0], opts, false); err != nil {
			return err
		}
	}
	if len(groups[1]) > 0 {
		if err := c.applyGroup(ctx, groups[1], opts, false); err != nil {
			return err
		}
		if err := c.waitEstablished(ctx, groups[1], opts.CRDTimeout); err != nil {
			return err
		}
		c.ResetDiscovery()
	}
	if len(groups[2]) == 0 {
		return nil
	}
	if opts.Validate {
		if err := c.applyGroup(ctx, groups[2], opts, true); err != nil {
			return err
		}
	}
	return c.applyGroup(ctx, groups[2], opts, false)
}

// applyGroup applies (or dry-runs) objs, Concurrency at a time; it returns the joined
// per-object errors in the order of objs.
func (c *Cluster) applyGroup(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions, dryRun bool) error {
	return parallel(ctx, len(objs), opts.Concurrency, func(i int) error {
		if err := c.applyOne(ctx, objs[i], opts, dryRun); err != nil {
			return &ObjectError{Ref: RefOf(objs[i]), Err: err}
		}
		return nil
	})
}

// Resolve returns the references objs are applied under: namespaced objects without a
// namespace get defaultNamespace ("default" when empty), cluster-scoped ones lose any
// namespace. It reads discovery only (cached). A kind the cluster does not know is an error.
func (c *Cluster) Resolve(objs []*unstructured.Unstructured, defaultNamespace string) ([]Ref, error) {
	if defaultNamespace == "" {
		defaultNamespace = "default"
	}
	refs := make([]Ref, 0, len(objs))
	for _, o := range objs {
		m, err := c.Mapping(o.GroupVersionKind())
		if err != nil {
			return nil, err
		}
		ref := RefOf(o)
		switch {
		case m.Scope.Name() != meta.RESTScopeNameNamespace:
			ref.Namespace = ""
		case ref.Namespace == "":
			ref.Namespace = defaultNamespace
		}
		refs = append(refs, ref)
	}
	return refs, nil
}

func (c *Cluster) applyOne(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions, dryRun bool) error {
	m, err := c.Mapping(obj.GroupVersionKind())
	if err != nil {
		return err
	}
	var ri = c.Dynamic.Resource(m.Resource)
	var res interface {
		Patch(context.Context, string, types.PatchType, []byte, metav1.PatchOptions, ...string) (*unstructured.Unstructured, error)
	} = ri
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		if obj.GetNamespace() == "" {
			obj.SetNamespace(opts.DefaultNamespace)
		}
		res = ri.Namespace(obj.GetNamespace())
	} else {
		obj.SetNamespace("")
	}
	body, err := encode(obj)
	if err != nil {
		return err
	}
	po := metav1.PatchOptions{FieldManager: opts.FieldManager, Force: ptr.To(true)}
	op := "apply"
	if dryRun {
		po.DryRun = []string{metav1.DryRunAll}
		op = "dry_run"
	}
	return Retry(ctx, opts.Backoff, func(ctx context.Context) error {
		start := time.Now()
		_, err := res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, po)
		if opts.Observe != nil {
			opts.Observe(op, time.Since(start), err)
		}
		return err
	})
}

// missingNamespaces returns the names of the namespaces among objs that do not exist yet.
func (c *Cluster) missingNamespaces(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) ([]string, error) {
	var missing []string
	for _, o := range objs {
		err := Retry(ctx, opts.Backoff, func(ctx context.Context) error {
			_, err := c.Kube.CoreV1().Namespaces().Get(ctx, o.GetName(), metav1.GetOptions{})
			return err
		})
		switch {
		case apierrors.IsNotFound(err):
			missing = append(missing, o.GetName())
		case err != nil:
			return nil, &ObjectError{Ref: RefOf(o), Err: err}
		}
	}
	return missing, nil
}

// rollbackNamespaces deletes the namespaces a failed apply created, each only while it is
// still the one created (same UID, and the apply's own when the apply has an owner) and holds
// nothing but the apply's objects; a namespace that cannot be checked is kept.
func (c *Cluster) rollbackNamespaces(ctx context.Context, names []string, opts ApplyOptions) {
	owner := Ownership{}
	if opts.Ownership != nil {
		owner = *opts.Ownership
	}
	for _, n := range names {
		var live *corev1.Namespace
		err := Retry(ctx, opts.Backoff, func(ctx context.Context) error {
			var err error
			live, err = c.Kube.CoreV1().Namespaces().Get(ctx, n, metav1.GetOptions{})
			return err
		})
		if err != nil || live.DeletionTimestamp != nil {
			continue
		}
		if opts.Ownership != nil && !ownedBy(live.Annotations, owner) {
			continue
		}
		if foreign, err := c.Foreign(ctx, n, owner, 1); err != nil || len(foreign) > 0 {
			continue
		}
		_ = Retry(ctx, opts.Backoff, func(ctx context.Context) error {
			err := c.Kube.CoreV1().Namespaces().Delete(ctx, n, metav1.DeleteOptions{Preconditions: uidPrecondition(live.UID)})
			if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
				return nil
			}
			return err
		})
	}
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// establishedPolls are the waits between the reads of new CustomResourceDefinitions: 50 ms
// doubling to 1.6 s.
var establishedPolls = wait.Backoff{Duration: 50 * time.Millisecond, Factor: 2, Steps: 5}

// waitEstablished waits until every CRD among objs reports Established=True.
func (c *Cluster) waitEstablished(ctx context.Context, crds []*unstructured.Unstructured, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	pending := make(map[string]*unstructured.Unstructured, len(crds))
	for _, o := range crds {
		pending[o.GetName()] = o
	}
	err := establishedPolls.DelayFunc().Until(ctx, true, true, func(ctx context.Context) (bool, error) {
		for name, o := range pending {
			live, err := c.Dynamic.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
			if err == nil && conditionTrue(live, "Established") {
				delete(pending, name)
				continue
			}
			if err == nil && conditionFalse(live, "NamesAccepted") {
				return false, &ObjectError{Ref: RefOf(o), Err: fmt.Errorf("names not accepted: %s", conditionMessage(live, "NamesAccepted"))}
			}
		}
		return len(pending) == 0, nil
	})
	if !wait.Interrupted(err) {
		return err
	}
	names := slices.Sorted(maps.Keys(pending))
	return fmt.Errorf("CustomResourceDefinitions not established within %s: %v", timeout, names)
}

func condition(obj *unstructured.Unstructured, typ string) (map[string]any, bool) {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if ok && m["type"] == typ {
			return m, true
		}
	}
	return nil, false
}

func conditionTrue(obj *unstructured.Unstructured, typ string) bool {
	m, ok := condition(obj, typ)
	return ok && m["status"] == "True"
}

func conditionFalse(obj *unstructured.Unstructured, typ string) bool {
	m, ok := condition(obj, typ)
	return ok && m["status"] == "False"
}

func conditionMessage(obj *unstructured.Unstructured, typ string) string {
	m, _ := condition(obj, typ)
	s, _ := m["message"].(string)
	return s
}
