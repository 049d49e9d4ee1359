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
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"
	"sigs.k8s.io/structured-merge-diff/v6/value"
)

// PathDeleted is the only path of a drifted object that no longer exists.
const PathDeleted = "(deleted)"

// Drift compares the live object with what applying obj would make of it, and returns the
// paths (readable, like "spec.template.spec.containers[web].image") where they differ; none
// when the object matches. The comparison is a server-side apply dry run of obj with the
// field manager of opts, so defaulting and mutating admission shape the expected object as
// they shaped the live one, and only the fields that manager owns after the dry run (the
// fields obj sets) are compared: defaulted fields, status and fields set by others alone
// never count. A field another manager took over through a subresource (an autoscaler
// setting replicas through /scale) is that manager's and not compared. An object that does
// not exist any more has the single path PathDeleted.
func (c *Cluster) Drift(ctx context.Context, obj *unstructured.Unstructured, opts ApplyOptions) ([]string, error) {
	opts = opts.withDefaults()
	obj = obj.DeepCopy()
	m, err := c.Mapping(obj.GroupVersionKind())
	if err != nil {
		return nil, err
	}
	ri := c.Dynamic.Resource(m.Resource)
	var res interface {
		Get(context.Context, string, metav1.GetOptions, ...string) (*unstructured.Unstructured, error)
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
	var live *unstructured.Unstructured
	err = Retry(ctx, opts.Backoff, func(ctx context.Context) error {
		live, err = res.Get(ctx, obj.GetName(), metav1.GetOptions{})
		return err
	})
	if apierrors.IsNotFound(err) {
		return []string{PathDeleted}, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := encode(obj)
	if err != nil {
		return nil, err
	}
	var want *unstructured.Unstructured
	po := metav1.PatchOptions{FieldManager: opts.FieldManager, Force: ptr.To(true), DryRun: []string{metav1.DryRunAll}}
	err = Retry(ctx, opts.Backoff, func(ctx context.Context) error {
		want, err = res.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, po)
		return err
	})
	if err != nil {
		return nil, err
	}
	ours, err := managedSet(want, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == opts.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == ""
	})
	if err != nil {
		return nil, err
	}
	theirs, err := managedSet(live, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager != opts.FieldManager && e.Subresource != ""
	})
	if err != nil {
		return nil, err
	}
	return diffPaths(ours.Leaves(), theirs, want.Object, live.Object), nil
}

// managedSet is the union of the field sets of obj's managedFields entries that keep selects.
func managedSet(obj *unstructured.Unstructured, keep func(metav1.ManagedFieldsEntry) bool) (*fieldpath.Set, error) {
	set := &fieldpath.Set{}
	for _, e := range obj.GetManagedFields() {
		if !keep(e) || e.FieldsV1 == nil {
			continue
		}
		s := &fieldpath.Set{}
		if err := s.FromJSON(e.FieldsV1.GetRawReader()); err != nil {
			return nil, fmt.Errorf("managed fields of %s: %w", e.Manager, err)
		}
		set = set.Union(s)
	}
	return set, nil
}

// diffPaths returns the readable paths of leaves whose values differ between want and live,
// skipping those in skip. A list element that exists on one side only is reported once
// instead of every leaf below it.
func diffPaths(leaves, skip *fieldpath.Set, want, live any) []string {
	seen := map[string]bool{}
	var out []string
	leaves.Iterate(func(p fieldpath.Path) {
		if skip.Has(p) {
			return
		}
		p, differ := differs(want, live, p)
		if !differ {
			return
		}
		if s := readable(p); !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	})
	slices.Sort(out)
	return out
}

// differs walks p on both sides and reports whether they differ there. Where something
// exists on one side only, the path returned ends at the first list element from there on
// (a missing container is one path, not one per field), if any.
func differs(want, live any, p fieldpath.Path) (fieldpath.Path, bool) {
	w, l := want, live
	for i, pe := range p {
		var wok, lok bool
		w, wok = step(w, pe)
		l, lok = step(l, pe)
		if wok != lok {
			for j := i; j < len(p); j++ {
				if p[j].FieldName == nil {
					return p[:j+1], true // a list element: named once for all its fields
				}
			}
			return p, true
		}
		if !wok {
			return p, false // absent on both sides
		}
	}
	return p, !value.Equals(value.NewValueInterface(w), value.NewValueInterface(l))
}

// step selects one path element of v: a field of a map, or the element of a list chosen by
// its key fields, its value or its index.
func step(v any, pe fieldpath.PathElement) (any, bool) {
	switch {
	case pe.FieldName != nil:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		child, ok := m[*pe.FieldName]
		return child, ok
	case pe.Index != nil:
		l, ok := v.([]any)
		if !ok || *pe.Index < 0 || *pe.Index >= len(l) {
			return nil, false
		}
		return l[*pe.Index], true
	}
	l, ok := v.([]any)
	if !ok {
		return nil, false
	}
	for _, item := range l {
		if pe.Value != nil && value.Equals(*pe.Value, value.NewValueInterface(item)) {
			return item, true
		}
		if pe.Key != nil && keyMatches(item, *pe.Key) {
			return item, true
		}
	}
	return nil, false
}

func keyMatches(item any, key value.FieldList) bool {
	m, ok := item.(map[string]any)
	if !ok {
		return false
	}
	for _, f := range key {
		v, ok := m[f.Name]
		if !ok || !value.Equals(f.Value, value.NewValueInterface(v)) {
			return false
		}
	}
	return true
}

// readable renders a field path like "spec.template.spec.containers[web].image": list
// elements by their key value ("[k=v,k2=v2]" for several keys), set members by value and
// atomic list elements by index.
func readable(p fieldpath.Path) string {
	var b strings.Builder
	for _, pe := range p {
		switch {
		case pe.FieldName != nil:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(*pe.FieldName)
		case pe.Key != nil && len(*pe.Key) == 1:
			fmt.Fprintf(&b, "[%s]", text((*pe.Key)[0].Value))
		case pe.Key != nil:
			parts := make([]string, len(*pe.Key))
			for i, f := range *pe.Key {
				parts[i] = f.Name + "=" + text(f.Value)
			}
			fmt.Fprintf(&b, "[%s]", strings.Join(parts, ","))
		case pe.Value != nil:
			fmt.Fprintf(&b, "[%s]", text(*pe.Value))
		case pe.Index != nil:
			fmt.Fprintf(&b, "[%d]", *pe.Index)
		}
	}
	return b.String()
}

func text(v value.Value) string {
	if v.IsString() {
		return v.AsString()
	}
	return value.ToString(v)
}
