package client

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// Templates is the handle for stack templates. Reading a template is open to the admin and,
// for its own and system templates, to a generator; changing one to the admin and its
// owning generator (system templates are admin-only).
type Templates struct{ c *Client }

// Templates returns the template handle.
func (c *Client) Templates() *Templates { return &Templates{c: c} }

// List returns the live templates the caller may read, reading every page (admin,
// generator).
func (t *Templates) List(ctx context.Context) ([]StackTemplate, error) {
	return listAll[StackTemplate](ctx, t.c, request{method: http.MethodGet, path: "/templates"}, 0)
}

// ListPage returns one page of the templates the caller may read, oldest first.
func (t *Templates) ListPage(ctx context.Context, opts *ListOptions) (Page[StackTemplate], error) {
	return listPage[StackTemplate](ctx, t.c, request{method: http.MethodGet, path: "/templates"}, opts)
}

// Create adds version 1 (or the next version) of a template; the admin creates system
// templates, a generator its own (admin, generator).
func (t *Templates) Create(ctx context.Context, req CreateTemplateRequest) (StackTemplate, error) {
	return call[StackTemplate](ctx, t.c, request{method: http.MethodPost, path: "/templates", body: req})
}

// Get returns one template version (read access).
func (t *Templates) Get(ctx context.Context, id uuid.UUID) (StackTemplate, error) {
	return call[StackTemplate](ctx, t.c, request{method: http.MethodGet, path: path("templates", id)})
}

// Update stores a new version of the template under a new id and returns it; the old
// version, with its labels and annotations, stays (modify access).
func (t *Templates) Update(ctx context.Context, id uuid.UUID, req UpdateTemplateRequest) (StackTemplate, error) {
	return call[StackTemplate](ctx, t.c, request{method: http.MethodPut, path: path("templates", id), body: req})
}

// Delete soft-deletes one template version (modify access).
func (t *Templates) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := t.c.do(ctx, request{method: http.MethodDelete, path: path("templates", id)}, nil)
	return err
}

// Labels returns the labels a stack must carry for the template (read access).
func (t *Templates) Labels(ctx context.Context, id uuid.UUID) ([]TemplateLabel, error) {
	return call[[]TemplateLabel](ctx, t.c, request{method: http.MethodGet, path: path("templates", id, "labels")})
}

// AddLabel adds a required label: non-blank, at most 64 bytes, no whitespace (modify
// access).
func (t *Templates) AddLabel(ctx context.Context, id uuid.UUID, label string) (TemplateLabel, error) {
	return call[TemplateLabel](ctx, t.c, request{method: http.MethodPost, path: path("templates", id, "labels"), body: label})
}

// RemoveLabel removes a required label (modify access).
func (t *Templates) RemoveLabel(ctx context.Context, id uuid.UUID, label string) error {
	_, err := t.c.do(ctx, request{method: http.MethodDelete, path: path("templates", id, "labels", label)}, nil)
	return err
}

// Annotations returns the annotations a stack must carry for the template (read access).
func (t *Templates) Annotations(ctx context.Context, id uuid.UUID) ([]TemplateAnnotation, error) {
	return call[[]TemplateAnnotation](ctx, t.c, request{method: http.MethodGet, path: path("templates", id, "annotations")})
}

// AddAnnotation adds a required annotation; key and value are non-blank, at most 64 bytes,
// without whitespace (modify access).
func (t *Templates) AddAnnotation(ctx context.Context, id uuid.UUID, key, value string) (TemplateAnnotation, error) {
	return call[TemplateAnnotation](ctx, t.c, request{method: http.MethodPost, path: path("templates", id, "annotations"),
		body: NewTemplateAnnotation{Key: key, Value: value}})
}

// RemoveAnnotation removes the required annotation with this key (modify access).
func (t *Templates) RemoveAnnotation(ctx context.Context, id uuid.UUID, key string) error {
	_, err := t.c.do(ctx, request{method: http.MethodDelete, path: path("templates", id, "annotations", key)}, nil)
	return err
}
