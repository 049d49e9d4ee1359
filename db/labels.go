package db

import (
	"context"

	"github.com/google/uuid"
)

// Label is a row of one of the label tables; OwnerID is the agent or stack it belongs to.
type Label struct {
	ID      uuid.UUID `db:"id"`
	OwnerID uuid.UUID `db:"owner_id"`
	Label   string    `db:"label"`
}

// Annotation is a row of one of the annotation tables.
type Annotation struct {
	ID      uuid.UUID `db:"id"`
	OwnerID uuid.UUID `db:"owner_id"`
	Key     string    `db:"key"`
	Value   string    `db:"value"`
}

// LabelTable is a table of labels attached to owner rows.
type LabelTable struct{ table, owner string }

// AnnotationTable is a table of key/value annotations attached to owner rows.
type AnnotationTable struct{ table, owner string }

// The label and annotation tables. Their names are constants, never input.
var (
	AgentLabels      = LabelTable{"agent_labels", "agent_id"}
	StackLabels      = LabelTable{"stack_labels", "stack_id"}
	AgentAnnotations = AnnotationTable{"agent_annotations", "agent_id"}
	StackAnnotations = AnnotationTable{"stack_annotations", "stack_id"}
)

// List returns an owner's labels, sorted.
func (t LabelTable) List(ctx context.Context, q Queryer, owner uuid.UUID) ([]Label, error) {
	var out []Label
	err := q.SelectContext(ctx, &out, `SELECT id, `+t.owner+` AS owner_id, label FROM `+t.table+`
		WHERE `+t.owner+` = $1 ORDER BY label`, owner)
	return out, Wrap(err)
}

// Add attaches a label.
func (t LabelTable) Add(ctx context.Context, q Queryer, owner uuid.UUID, label string) (Label, error) {
	var l Label
	err := q.GetContext(ctx, &l, `INSERT INTO `+t.table+` (`+t.owner+`, label) VALUES ($1, $2)
		RETURNING id, `+t.owner+` AS owner_id, label`, owner, label)
	return l, Wrap(err)
}

// Remove detaches a label; ErrNotFound when there was none.
func (t LabelTable) Remove(ctx context.Context, q Queryer, owner uuid.UUID, label string) error {
	return execOne(ctx, q, `DELETE FROM `+t.table+` WHERE `+t.owner+` = $1 AND label = $2`, owner, label)
}

// List returns an owner's annotations, sorted by key.
func (t AnnotationTable) List(ctx context.Context, q Queryer, owner uuid.UUID) ([]Annotation, error) {
	var out []Annotation
	err := q.SelectContext(ctx, &out, `SELECT id, `+t.owner+` AS owner_id, key, value FROM `+t.table+`
		WHERE `+t.owner+` = $1 ORDER BY key`, owner)
	return out, Wrap(err)
}

// Add attaches an annotation.
func (t AnnotationTable) Add(ctx context.Context, q Queryer, owner uuid.UUID, key, value string) (Annotation, error) {
	var a Annotation
	err := q.GetContext(ctx, &a, `INSERT INTO `+t.table+` (`+t.owner+`, key, value) VALUES ($1, $2, $3)
		RETURNING id, `+t.owner+` AS owner_id, key, value`, owner, key, value)
	return a, Wrap(err)
}

// Remove detaches an annotation by key; ErrNotFound when there was none.
func (t AnnotationTable) Remove(ctx context.Context, q Queryer, owner uuid.UUID, key string) error {
	return execOne(ctx, q, `DELETE FROM `+t.table+` WHERE `+t.owner+` = $1 AND key = $2`, owner, key)
}
