package db

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// StackTemplate is a row of stack_templates. A nil GeneratorID marks a system template.
type StackTemplate struct {
	ID               uuid.UUID  `db:"id"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
	DeletedAt        *time.Time `db:"deleted_at"`
	GeneratorID      *uuid.UUID `db:"generator_id"`
	Name             string     `db:"name"`
	Description      *string    `db:"description"`
	Version          int32      `db:"version"`
	TemplateContent  string     `db:"template_content"`
	ParametersSchema string     `db:"parameters_schema"`
	Checksum         string     `db:"checksum"`
}

const templateColumns = `id, created_at, updated_at, deleted_at, generator_id, name, description, version,
	template_content, parameters_schema, checksum`

// TemplateLabel is a row of template_labels.
type TemplateLabel struct {
	ID         uuid.UUID `db:"id"`
	TemplateID uuid.UUID `db:"template_id"`
	Label      string    `db:"label"`
	CreatedAt  time.Time `db:"created_at"`
}

// TemplateAnnotation is a row of template_annotations.
type TemplateAnnotation struct {
	ID         uuid.UUID `db:"id"`
	TemplateID uuid.UUID `db:"template_id"`
	Key        string    `db:"key"`
	Value      string    `db:"value"`
	CreatedAt  time.Time `db:"created_at"`
}

// NewTemplateVersion holds the content of a template version to insert.
type NewTemplateVersion struct {
	GeneratorID      *uuid.UUID // nil: a system template
	Name             string
	Description      *string
	TemplateContent  string
	ParametersSchema string
	Checksum         string
}

// ListTemplates returns one page of the live templates, oldest first, and whether more
// follow: all of them when visibleTo is nil, otherwise the system templates and those of
// generator *visibleTo. p.MaxBytes bounds the template content of the page.
func ListTemplates(ctx context.Context, q Queryer, visibleTo *uuid.UUID, p Page) ([]StackTemplate, bool, error) {
	args := []any{visibleTo}
	inner := `SELECT ` + templateColumns + `, octet_length(template_content) AS row_bytes FROM stack_templates
		WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR generator_id IS NULL OR generator_id = $1)
			AND ` + byCreatedAsc.after("", p, &args) + `
		ORDER BY ` + byCreatedAsc.by("") + ` LIMIT ` + limitArg(p, &args)
	var rows []pagedTemplate
	if err := q.SelectContext(ctx, &rows, budgeted(templateColumns, inner, byCreatedAsc, p, &args), args...); err != nil {
		return nil, false, Wrap(err)
	}
	out, fetched := unwrap(rows, func(r pagedTemplate) (StackTemplate, int) { return r.StackTemplate, r.Fetched })
	out, more := budgetTrim(out, fetched, p)
	return out, more, nil
}

// pagedTemplate is a row of a budgeted template page.
type pagedTemplate struct {
	StackTemplate
	Fetched int `db:"fetched"`
}

// GetTemplate returns a live template.
func GetTemplate(ctx context.Context, q Queryer, id uuid.UUID) (StackTemplate, error) {
	var t StackTemplate
	err := q.GetContext(ctx, &t, `SELECT `+templateColumns+` FROM stack_templates
		WHERE id = $1 AND deleted_at IS NULL`, id)
	return t, Wrap(err)
}

// templateLockClass is the first key of the advisory locks that serialise version numbering
// per (owner, name); the second key is a hash of the owner and the name.
const templateLockClass = 0x62746d70 // "btmp"

// CreateTemplateVersion inserts the next version of the template (owner, name): one more than
// the highest live version, 1 for a new name. It must run inside a transaction: a
// transaction-scoped advisory lock on (owner, name) serialises concurrent creations, so two
// of them never compute the same version.
func CreateTemplateVersion(ctx context.Context, q Queryer, n NewTemplateVersion) (StackTemplate, error) {
	owner := ""
	if n.GeneratorID != nil {
		owner = n.GeneratorID.String()
	}
	if _, err := q.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))`,
		templateLockClass, owner+"/"+n.Name); err != nil {
		return StackTemplate{}, fmt.Errorf("lock template name: %w", Wrap(err))
	}
	var t StackTemplate
	err := q.GetContext(ctx, &t, `INSERT INTO stack_templates
		(generator_id, name, description, version, template_content, parameters_schema, checksum)
		SELECT $1::uuid, $2::text, $3::text, COALESCE(MAX(version), 0) + 1, $4::text, $5::text, $6::text
		FROM stack_templates WHERE generator_id IS NOT DISTINCT FROM $1::uuid AND name = $2::text AND deleted_at IS NULL
		RETURNING `+templateColumns,
		n.GeneratorID, n.Name, n.Description, n.TemplateContent, n.ParametersSchema, n.Checksum)
	return t, Wrap(err)
}

// SoftDeleteTemplate marks a live template version deleted.
func SoftDeleteTemplate(ctx context.Context, q Queryer, id uuid.UUID) (StackTemplate, error) {
	var t StackTemplate
	err := q.GetContext(ctx, &t, `UPDATE stack_templates SET deleted_at = now()
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+templateColumns, id)
	return t, Wrap(err)
}

// ListTemplateLabels returns a template's labels, sorted.
func ListTemplateLabels(ctx context.Context, q Queryer, templateID uuid.UUID) ([]TemplateLabel, error) {
	var out []TemplateLabel
	err := q.SelectContext(ctx, &out, `SELECT id, template_id, label, created_at FROM template_labels
		WHERE template_id = $1 ORDER BY label`, templateID)
	return out, Wrap(err)
}

// AddTemplateLabel attaches a label to a template.
func AddTemplateLabel(ctx context.Context, q Queryer, templateID uuid.UUID, label string) (TemplateLabel, error) {
	var l TemplateLabel
	err := q.GetContext(ctx, &l, `INSERT INTO template_labels (template_id, label) VALUES ($1, $2)
		RETURNING id, template_id, label, created_at`, templateID, label)
	return l, Wrap(err)
}

// RemoveTemplateLabel detaches a label; ErrNotFound when there was none.
func RemoveTemplateLabel(ctx context.Context, q Queryer, templateID uuid.UUID, label string) error {
	return execOne(ctx, q, `DELETE FROM template_labels WHERE template_id = $1 AND label = $2`, templateID, label)
}

// ListTemplateAnnotations returns a template's annotations, sorted by key.
func ListTemplateAnnotations(ctx context.Context, q Queryer, templateID uuid.UUID) ([]TemplateAnnotation, error) {
	var out []TemplateAnnotation
	err := q.SelectContext(ctx, &out, `SELECT id, template_id, key, value, created_at FROM template_annotations
		WHERE template_id = $1 ORDER BY key`, templateID)
	return out, Wrap(err)
}

// AddTemplateAnnotation attaches an annotation to a template.
func AddTemplateAnnotation(ctx context.Context, q Queryer, templateID uuid.UUID, key, value string) (TemplateAnnotation, error) {
	var a TemplateAnnotation
	err := q.GetContext(ctx, &a, `INSERT INTO template_annotations (template_id, key, value) VALUES ($1, $2, $3)
		RETURNING id, template_id, key, value, created_at`, templateID, key, value)
	return a, Wrap(err)
}

// RemoveTemplateAnnotation detaches an annotation by key; ErrNotFound when there was none.
func RemoveTemplateAnnotation(ctx context.Context, q Queryer, templateID uuid.UUID, key string) error {
	return execOne(ctx, q, `DELETE FROM template_annotations WHERE template_id = $1 AND key = $2`, templateID, key)
}

// RenderedObject is the provenance of a deployment object rendered from a template.
type RenderedObject struct {
	DeploymentObjectID uuid.UUID
	TemplateID         uuid.UUID
	TemplateVersion    int32
	Parameters         string // JSON text
}

// RecordRenderedObject stores where a deployment object was rendered from.
func RecordRenderedObject(ctx context.Context, q Queryer, r RenderedObject) error {
	_, err := q.ExecContext(ctx, `INSERT INTO rendered_deployment_objects
		(deployment_object_id, template_id, template_version, template_parameters) VALUES ($1, $2, $3, $4)`,
		r.DeploymentObjectID, r.TemplateID, r.TemplateVersion, r.Parameters)
	return Wrap(err)
}
