package kube

import (
	"context"
	"errors"
	"fmt"

	"golang.org/x/sync/errgroup"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// parallel runs fn for 0..n-1, at most concurrency at a time, and joins the errors in index
// order. Indexes not started when ctx ends fail with its error.
func parallel(ctx context.Context, n, concurrency int, fn func(i int) error) error {
	errs := make([]error, n)
	var g errgroup.Group
	g.SetLimit(max(concurrency, 1))
	for i := range n {
		g.Go(func() error {
			if errs[i] = ctx.Err(); errs[i] == nil {
				errs[i] = fn(i)
			}
			return nil
		})
	}
	_ = g.Wait()
	return errors.Join(errs...)
}

// eachMeta calls fn with the metadata of every object of kind k (in namespace, when the kind
// is namespaced and namespace is set), 500 per request, until fn returns false.
func (c *Cluster) eachMeta(ctx context.Context, k resourceKind, namespace string, fn func(*metav1.PartialObjectMetadata) bool) error {
	ri := c.Metadata.Resource(k.gvr)
	var list interface {
		List(context.Context, metav1.ListOptions) (*metav1.PartialObjectMetadataList, error)
	} = ri
	if k.namespaced && namespace != "" {
		list = ri.Namespace(namespace)
	}
	opts := metav1.ListOptions{Limit: 500}
	for {
		page, err := list.List(ctx, opts)
		if err != nil {
			return fmt.Errorf("list %s: %w", k.gvr, err)
		}
		for i := range page.Items {
			if !fn(&page.Items[i]) {
				return nil
			}
		}
		if page.Continue == "" {
			return nil
		}
		opts.Continue = page.Continue
	}
}
