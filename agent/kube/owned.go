package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Owned is an object that carries the agent's ownership annotations.
type Owned struct {
	Ref                Ref
	UID                string
	StackID            string
	Checksum           string
	DeploymentObjectID string
	// HasOwnerReferences is set for objects that another object owns (garbage collected
	// with it); the agent never deletes those itself.
	HasOwnerReferences bool
}

// skipListing are kinds never applied from manifests whose lists are large and churn.
var skipListing = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:                         true,
	{Group: "events.k8s.io", Resource: "events"}:            true,
	{Group: "coordination.k8s.io", Resource: "leases"}:      true,
	{Group: "discovery.k8s.io", Resource: "endpointslices"}: true,
	{Group: "", Resource: "endpoints"}:                      true,
}

// ListOwned lists every object in the cluster (or, when namespace is set, in that namespace
// plus the cluster-scoped kinds it may read) annotated as owned by ownerID. It reads only
// metadata, one list per resource type, several types at a time. Types the agent may not
// list are skipped.
func (c *Cluster) ListOwned(ctx context.Context, ownerID, namespace string) ([]Owned, error) {
	targets, err := c.listable(false)
	if err != nil {
		return nil, err
	}
	found := make([][]Owned, len(targets))
	err = parallel(ctx, len(targets), 8, func(i int) error {
		t := targets[i]
		err := c.eachMeta(ctx, t, namespace, func(m *metav1.PartialObjectMetadata) bool {
			ann := m.GetAnnotations()
			if ann[AnnotationOwner] == ownerID {
				found[i] = append(found[i], Owned{
					Ref:                Ref{GVK: t.gvr.GroupVersion().WithKind(t.kind), Namespace: m.GetNamespace(), Name: m.GetName()},
					UID:                string(m.GetUID()),
					StackID:            ann[AnnotationStack],
					Checksum:           ann[AnnotationChecksum],
					DeploymentObjectID: ann[AnnotationDeploymentObject],
					HasOwnerReferences: len(m.GetOwnerReferences()) > 0,
				})
			}
			return true
		})
		if apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
			return nil // a kind the agent may not list holds nothing it applied
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	out := slices.Concat(found...)
	slices.SortFunc(out, func(a, b Owned) int { return strings.Compare(a.Ref.String(), b.Ref.String()) })
	return out, nil
}

// release removes the agent's ownership annotations from an object, on the condition that it
// is unchanged since it was read.
func (c *Cluster) release(ctx context.Context, m *meta.RESTMapping, ref Ref, live *metav1.PartialObjectMetadata, b Backoff) error {
	remove := map[string]any{}
	for _, k := range []string{AnnotationStack, AnnotationChecksum, AnnotationDeploymentObject, AnnotationLastApplied, AnnotationOwner} {
		remove[k] = nil
	}
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{"resourceVersion": live.GetResourceVersion(), "annotations": remove}})
	if err != nil {
		return err
	}
	ri := c.Metadata.Resource(m.Resource)
	return Retry(ctx, b, func(ctx context.Context) error {
		var err error
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			_, err = ri.Namespace(ref.Namespace).Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		} else {
			_, err = ri.Patch(ctx, ref.Name, types.MergePatchType, patch, metav1.PatchOptions{})
		}
		return err
	})
}

// Delete deletes the object, retrying transient failures; an object already gone is not an
// error. Dependents are deleted in the background by the garbage collector.
func (c *Cluster) Delete(ctx context.Context, ref Ref, b Backoff) error {
	ri, _, err := c.resource(ref)
	if err != nil {
		if isNoMatch(err) {
			return nil // the kind itself is gone (its CRD was deleted), so is the object
		}
		return err
	}
	policy := metav1.DeletePropagationBackground
	return Retry(ctx, b, func(ctx context.Context) error {
		err := ri.Delete(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return err
	})
}

// DeleteOwned deletes the object only while it is still this owner's object of this stack:
// it carries both annotations and no ownerReferences. An object another agent or stack took
// over, or that another object owns, is left alone (deleted=false, no error), as is an object
// already gone. The deletion is conditional on the UID read, so a re-created object of the
// same name is not deleted by mistake. A namespace that holds objects which are not the
// stack's, and a CustomResourceDefinition with custom resources that are not the stack's, are
// kept: the error is a *KeptError naming some of them.
func (c *Cluster) DeleteOwned(ctx context.Context, ref Ref, ownerID, stackID string, b Backoff) (bool, error) {
	m, err := c.Mapping(ref.GVK)
	if err != nil {
		if isNoMatch(err) {
			return false, nil
		}
		return false, err
	}
	ri := c.Metadata.Resource(m.Resource)
	var (
		get func(context.Context, string, metav1.GetOptions, ...string) (*metav1.PartialObjectMetadata, error)
		del func(context.Context, string, metav1.DeleteOptions, ...string) error
	)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		nri := ri.Namespace(ref.Namespace)
		get, del = nri.Get, nri.Delete
	} else {
		get, del = ri.Get, ri.Delete
	}
	var live *metav1.PartialObjectMetadata
	err = Retry(ctx, b, func(ctx context.Context) error {
		var err error
		live, err = get(ctx, ref.Name, metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	ann := live.GetAnnotations()
	if ann[AnnotationOwner] != ownerID || ann[AnnotationStack] != stackID || len(live.GetOwnerReferences()) > 0 {
		return false, nil
	}
	if live.GetDeletionTimestamp() != nil {
		return true, nil
	}
	if err := c.deleteGuard(ctx, ref, Ownership{Owner: ownerID, Stack: stackID}); err != nil {
		var kept *KeptError
		if errors.As(err, &kept) {
			// Brokkr lets go of it: without its ownership annotations the object is nobody's
			// to prune, and a stack that wants it again has to adopt it.
			if rerr := c.release(ctx, m, ref, live, b); rerr != nil {
				return false, fmt.Errorf("%w; releasing it failed: %w", err, rerr)
			}
		}
		return false, err
	}
	policy := metav1.DeletePropagationBackground
	err = Retry(ctx, b, func(ctx context.Context) error {
		return del(ctx, ref.Name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: uidPrecondition(live.GetUID())})
	})
	switch {
	case apierrors.IsNotFound(err):
		return false, nil
	case apierrors.IsConflict(err):
		return false, nil // replaced by a new object of the same name meanwhile
	case err != nil:
		return false, err
	}
	return true, nil
}
