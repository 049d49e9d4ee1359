package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
)

// AnnotationAdopt on an object of a manifest lets the agent take over an object of that name
// that exists in the cluster without being brokkr's (made by hand, by Helm...). Objects of
// another stack or another agent are never taken over.
const AnnotationAdopt = "brokkr.io/adopt"

// Ownership says on whose behalf an apply writes, so that it writes nothing it does not own.
type Ownership struct {
	// Owner is the agent's id (the brokkr.io/owner-id annotation).
	Owner string
	// Stack is the stack's id (k8s.brokkr.io/stack); "" for objects of no stack (work orders).
	Stack string
	// AllowUnowned lets the apply write over existing objects that carry no brokkr ownership
	// at all (work orders, which create and re-run their own objects). Objects of a stack are
	// refused all the same.
	AllowUnowned bool
}

// OwnershipError is an existing object the apply may not write: another stack's or agent's,
// or one brokkr does not manage that the manifest does not ask to adopt.
type OwnershipError struct {
	Ref Ref
	// OwnerStack and OwnerAgent are the object's brokkr owners ("" when it has none).
	OwnerStack, OwnerAgent string
	// Managers are the field managers of the object, for an object brokkr does not manage.
	Managers []string
}

func (e *OwnershipError) Error() string {
	switch {
	case e.OwnerStack != "" || e.OwnerAgent != "":
		owner := "stack " + orUnknown(e.OwnerStack)
		if e.OwnerAgent != "" {
			owner += " of agent " + e.OwnerAgent
		}
		return fmt.Sprintf("%s exists and belongs to %s; it is not taken over", e.Ref, owner)
	default:
		by := ""
		if len(e.Managers) > 0 {
			by = " (managed by " + strings.Join(e.Managers, ", ") + ")"
		}
		return fmt.Sprintf("%s exists and is not managed by brokkr%s; it is not taken over unless the manifest sets the annotation %s: \"true\" on it",
			e.Ref, by, AnnotationAdopt)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// ownedBy reports whether annotations mark an object as the owner's object of the stack.
// Without an owner nothing is owned.
func ownedBy(ann map[string]string, o Ownership) bool {
	return o.Owner != "" && ann[AnnotationOwner] == o.Owner && ann[AnnotationStack] == o.Stack
}

// brokkrOwned reports whether annotations carry any brokkr ownership.
func brokkrOwned(ann map[string]string) bool {
	return ann[AnnotationOwner] != "" || ann[AnnotationStack] != ""
}

// checkOwnership reads every object of objs that already exists (metadata only) and returns
// an OwnershipError for each one the apply may not write. Objects of kinds that only a CRD of
// this very apply defines cannot exist yet and are not read.
func (c *Cluster) checkOwnership(ctx context.Context, objs []*unstructured.Unstructured, opts ApplyOptions) error {
	newKinds := map[schema.GroupKind]bool{}
	for _, o := range objs {
		if Group(o.GroupVersionKind()) == 1 {
			group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
			kind, _, _ := unstructured.NestedString(o.Object, "spec", "names", "kind")
			newKinds[schema.GroupKind{Group: group, Kind: kind}] = true
		}
	}
	return parallel(ctx, len(objs), opts.Concurrency, func(i int) error { return c.checkOne(ctx, objs[i], opts, newKinds) })
}

func (c *Cluster) checkOne(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions, newKinds map[schema.GroupKind]bool) error {
	gvk := obj.GroupVersionKind()
	m, err := c.Mapping(gvk)
	if err != nil {
		if isNoMatch(err) && newKinds[gvk.GroupKind()] {
			return nil
		}
		return &ObjectError{Ref: RefOf(obj), Err: err}
	}
	ns := ""
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ns = obj.GetNamespace()
		if ns == "" {
			ns = opts.DefaultNamespace
		}
	}
	ref := Ref{GVK: gvk, Namespace: ns, Name: obj.GetName()}
	live, err := c.getMeta(ctx, m, ns, obj.GetName(), opts.Backoff)
	switch {
	case apierrors.IsNotFound(err):
		return nil
	case err != nil:
		return &ObjectError{Ref: ref, Err: fmt.Errorf("reading the object before writing it: %w", err)}
	}
	ann := live.GetAnnotations()
	o := *opts.Ownership
	switch {
	case ownedBy(ann, o):
		return nil
	case brokkrOwned(ann):
		return &OwnershipError{Ref: ref, OwnerStack: ann[AnnotationStack], OwnerAgent: ann[AnnotationOwner]}
	case o.AllowUnowned, obj.GetAnnotations()[AnnotationAdopt] == "true":
		return nil
	}
	var managers []string
	for _, f := range live.GetManagedFields() {
		if f.Manager != "" && !slices.Contains(managers, f.Manager) {
			managers = append(managers, f.Manager)
		}
	}
	return &OwnershipError{Ref: ref, Managers: managers}
}

// getMeta reads an object's metadata.
func (c *Cluster) getMeta(ctx context.Context, m *meta.RESTMapping, ns, name string, b Backoff) (*metav1.PartialObjectMetadata, error) {
	ri := c.Metadata.Resource(m.Resource)
	var live *metav1.PartialObjectMetadata
	err := Retry(ctx, b, func(ctx context.Context) error {
		var err error
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			live, err = ri.Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		} else {
			live, err = ri.Get(ctx, name, metav1.GetOptions{})
		}
		return err
	})
	return live, err
}

// autoCreated are objects Kubernetes itself puts into every namespace.
func autoCreated(gr schema.GroupResource, name string) bool {
	switch {
	case gr == schema.GroupResource{Resource: "serviceaccounts"} && name == "default":
		return true
	case gr == schema.GroupResource{Resource: "configmaps"} && name == "kube-root-ca.crt":
		return true
	}
	return false
}

// listable returns the resources the agent may list and delete, cluster-scoped, namespaced
// or both, without the high-churn kinds no manifest applies (events, leases, endpoints).
func (c *Cluster) listable(namespacedOnly bool) ([]resourceKind, error) {
	c.ResetDiscovery()
	lists, err := c.discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, fmt.Errorf("discovery: %w", err)
	}
	var out []resourceKind
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			if namespacedOnly && !r.Namespaced {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if skipListing[gvr.GroupResource()] {
				continue
			}
			out = append(out, resourceKind{gvr: gvr, kind: r.Kind, namespaced: r.Namespaced})
		}
	}
	return out, nil
}

type resourceKind struct {
	gvr        schema.GroupVersionResource
	kind       string
	namespaced bool
}

// Foreign lists, up to limit, the objects in namespace that are not the owner's objects of
// the stack: what deleting the namespace would destroy besides brokkr's own. Objects
// Kubernetes creates in every namespace and objects that another object owns (a ReplicaSet's
// pods, garbage collected with their owner) do not count.
func (c *Cluster) Foreign(ctx context.Context, namespace string, o Ownership, limit int) ([]Ref, error) {
	kinds, err := c.listable(true)
	if err != nil {
		return nil, err
	}
	found := make([][]Ref, len(kinds))
	err = parallel(ctx, len(kinds), 8, func(i int) error {
		var err error
		found[i], err = c.foreignOf(ctx, kinds[i], namespace, o, limit)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := slices.Concat(found...)
	slices.SortFunc(out, func(a, b Ref) int { return strings.Compare(a.String(), b.String()) })
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// foreignOf lists, up to limit, the objects of kind k (in namespace when set) that are not
// the owner's objects of the stack, nor created by Kubernetes, nor owned by another object.
// A kind that cannot be read may hold anything: the error says so.
func (c *Cluster) foreignOf(ctx context.Context, k resourceKind, namespace string, o Ownership, limit int) ([]Ref, error) {
	var out []Ref
	err := c.eachMeta(ctx, k, namespace, func(m *metav1.PartialObjectMetadata) bool {
		if ownedBy(m.GetAnnotations(), o) || len(m.GetOwnerReferences()) > 0 || autoCreated(k.gvr.GroupResource(), m.GetName()) {
			return true
		}
		out = append(out, Ref{GVK: k.gvr.GroupVersion().WithKind(k.kind), Namespace: m.GetNamespace(), Name: m.GetName()})
		return len(out) < limit
	})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return out, nil
	}
	return out, err
}

// foreignCustomResources lists, up to limit, the custom resources of a CustomResourceDefinition
// (in every namespace) that are not the owner's objects of the stack: what deleting the
// definition would destroy besides brokkr's own.
func (c *Cluster) foreignCustomResources(ctx context.Context, crdName string, o Ownership, limit int) ([]Ref, error) {
	crd, err := c.Dynamic.Resource(crdGVR).Get(ctx, crdName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	group, _, _ := unstructured.NestedString(crd.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural")
	kind, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "kind")
	versions, _, _ := unstructured.NestedSlice(crd.Object, "spec", "versions")
	version := ""
	for _, v := range versions {
		vm, _ := v.(map[string]any)
		if served, _ := vm["served"].(bool); served {
			version, _ = vm["name"].(string)
			break
		}
	}
	if version == "" || plural == "" {
		return nil, nil // nothing served, nothing stored that a client could reach
	}
	k := resourceKind{gvr: schema.GroupVersionResource{Group: group, Version: version, Resource: plural}, kind: kind}
	return c.foreignOf(ctx, k, "", o, limit)
}

// KeptError is a prune the agent refused because the deletion would take objects that are
// not the stack's with it: a namespace holding other objects, a CustomResourceDefinition with
// custom resources of others.
type KeptError struct {
	Ref     Ref
	Foreign []Ref
}

func (e *KeptError) Error() string {
	names := make([]string, 0, len(e.Foreign))
	for _, r := range e.Foreign {
		names = append(names, r.String())
	}
	what := "objects"
	if e.Ref.GVK.Kind == "CustomResourceDefinition" {
		what = "custom resources"
	}
	return fmt.Sprintf("%s kept: deleting it would delete %s that are not the stack's (%s)", e.Ref, what, strings.Join(names, "; "))
}

// deleteGuard returns a KeptError when deleting ref would take foreign objects with it.
func (c *Cluster) deleteGuard(ctx context.Context, ref Ref, o Ownership) error {
	const shown = 5
	var (
		foreign []Ref
		err     error
	)
	switch {
	case ref.GVK.Group == "" && ref.GVK.Kind == "Namespace":
		foreign, err = c.Foreign(ctx, ref.Name, o, shown)
	case ref.GVK.Group == crdGVR.Group && ref.GVK.Kind == "CustomResourceDefinition":
		foreign, err = c.foreignCustomResources(ctx, ref.Name, o, shown)
	default:
		return nil
	}
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("checking what deleting %s would take with it: %w", ref, err)
	}
	if len(foreign) > 0 {
		return &KeptError{Ref: ref, Foreign: foreign}
	}
	return nil
}

// uidPrecondition makes a deletion apply only to the object with that UID.
func uidPrecondition(uid types.UID) *metav1.Preconditions { return &metav1.Preconditions{UID: &uid} }
