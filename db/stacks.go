package db

import (
	"context"

	"github.com/google/uuid"
)

// ListStacks returns one page of the live stacks, oldest first, and whether more follow;
// with generatorID set, only that generator's.
func ListStacks(ctx context.Context, q Queryer, generatorID *uuid.UUID, p Page) ([]Stack, bool, error) {
	args := []any{generatorID}
	var out []Stack
	err := q.SelectContext(ctx, &out, `SELECT `+stackColumns+` FROM stacks
		WHERE deleted_at IS NULL AND ($1::uuid IS NULL OR generator_id = $1) AND `+byCreatedAsc.after("", p, &args)+`
		ORDER BY `+byCreatedAsc.by("")+` LIMIT `+limitArg(p, &args), args...)
	out, more := trim(out, p)
	return out, more, Wrap(err)
}

// GetStack returns a live stack.
func GetStack(ctx context.Context, q Queryer, id uuid.UUID) (Stack, error) {
	var s Stack
	err := q.GetContext(ctx, &s, `SELECT `+stackColumns+` FROM stacks WHERE id = $1 AND deleted_at IS NULL`, id)
	return s, Wrap(err)
}

// CreateStack inserts a stack.
func CreateStack(ctx context.Context, q Queryer, name string, description *string, generatorID uuid.UUID) (Stack, error) {
	var s Stack
	err := q.GetContext(ctx, &s, `INSERT INTO stacks (name, description, generator_id) VALUES ($1, $2, $3)
		RETURNING `+stackColumns, name, description, generatorID)
	return s, Wrap(err)
}

// UpdateStack changes a live stack's name, description and owner (nil description is skipped).
func UpdateStack(ctx context.Context, q Queryer, id uuid.UUID, name string, description *string, generatorID uuid.UUID) (Stack, error) {
	var s Stack
	err := q.GetContext(ctx, &s, `UPDATE stacks SET name = $2, description = COALESCE($3, description), generator_id = $4
		WHERE id = $1 AND deleted_at IS NULL RETURNING `+stackColumns, id, name, description, generatorID)
	return s, Wrap(err)
}

// SoftDeleteStack marks a live stack deleted; the database inserts its deletion marker.
func SoftDeleteStack(ctx context.Context, q Queryer, id uuid.UUID) (Stack, error) {
	var s Stack
	err := q.GetContext(ctx, &s, `UPDATE stacks SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL
		RETURNING `+stackColumns, id)
	return s, Wrap(err)
}

// ListDeploymentObjects returns one page of a stack's live objects, newest sequence first,
// and whether more follow. Without withYAML, yaml_content is returned empty (and costs
// nothing to read); with it, p.MaxBytes bounds the YAML of the page.
func ListDeploymentObjects(ctx context.Context, q Queryer, stackID uuid.UUID, withYAML bool, p Page) ([]DeploymentObject, bool, error) {
	args := []any{stackID, withYAML}
	inner := `SELECT id, created_at, updated_at, deleted_at, sequence_id, stack_id,
			CASE WHEN $2 THEN yaml_content ELSE '' END AS yaml_content, yaml_checksum, submitted_at, is_deletion_marker, urgent,
			CASE WHEN $2 THEN octet_length(yaml_content) ELSE 0 END AS row_bytes
		FROM deployment_objects
		WHERE stack_id = $1 AND deleted_at IS NULL AND ` + bySequenceDesc.after("", p, &args) + `
		ORDER BY ` + bySequenceDesc.by("") + ` LIMIT ` + limitArg(p, &args)
	var rows []pagedObject
	if err := q.SelectContext(ctx, &rows, budgeted(deploymentObjectColumns, inner, bySequenceDesc, p, &args), args...); err != nil {
		return nil, false, Wrap(err)
	}
	out, fetched := unwrap(rows, func(r pagedObject) (DeploymentObject, int) { return r.DeploymentObject, r.Fetched })
	out, more := budgetTrim(out, fetched, p)
	return out, more, nil
}

// pagedObject is a row of a budgeted deployment object page.
type pagedObject struct {
	DeploymentObject
	Fetched int `db:"fetched"`
}

// GetDeploymentObject returns a live deployment object.
func GetDeploymentObject(ctx context.Context, q Queryer, id uuid.UUID) (DeploymentObject, error) {
	var o DeploymentObject
	err := q.GetContext(ctx, &o, `SELECT `+deploymentObjectColumns+` FROM deployment_objects WHERE id = $1 AND deleted_at IS NULL`, id)
	return o, Wrap(err)
}

// CreateDeploymentObject inserts an immutable object; an urgent one passes through apply
// windows.
func CreateDeploymentObject(ctx context.Context, q Queryer, stackID uuid.UUID, yaml, checksum string, marker, urgent bool) (DeploymentObject, error) {
	var o DeploymentObject
	err := q.GetContext(ctx, &o, `INSERT INTO deployment_objects (stack_id, yaml_content, yaml_checksum, is_deletion_marker, urgent)
		VALUES ($1, $2, $3, $4, $5) RETURNING `+deploymentObjectColumns, stackID, yaml, checksum, marker, urgent)
	return o, Wrap(err)
}

// AgentsTargetingStack returns the ids of agents holding an explicit target on the stack.
func AgentsTargetingStack(ctx context.Context, q Queryer, stackID uuid.UUID) ([]uuid.UUID, error) {
	var out []uuid.UUID
	err := q.SelectContext(ctx, &out, `SELECT agent_id FROM agent_targets WHERE stack_id = $1`, stackID)
	return out, Wrap(err)
}
