package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// ApplyWindow is a row of apply_windows: a recurring window in which the agents it selects
// may (allow) or may not (deny) receive new deployment objects.
type ApplyWindow struct {
	ID          uuid.UUID
	Name        string
	Description string // "" = NULL
	Schedule    string
	Duration    time.Duration // whole seconds (duration_seconds)
	TimeZone    string
	Kind        string
	// Labels and Annotations select the agents (every agent when both are empty); StackIDs
	// limits the window to some stacks (every stack when empty).
	Labels      []string
	Annotations map[string]string
	StackIDs    []uuid.UUID
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// windowSelector is the JSON of apply_windows.selector.
type windowSelector struct {
	Labels      []string          `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// applyWindowRow is how an apply_windows row is read.
type applyWindowRow struct {
	ID              uuid.UUID `db:"id"`
	Name            string    `db:"name"`
	Description     *string   `db:"description"`
	Schedule        string    `db:"schedule"`
	DurationSeconds int64     `db:"duration_seconds"`
	TimeZone        string    `db:"time_zone"`
	Kind            string    `db:"kind"`
	Selector        []byte    `db:"selector"`
	StackIDs        TextArray `db:"stack_ids"`
	CreatedAt       time.Time `db:"created_at"`
	UpdatedAt       time.Time `db:"updated_at"`
}

const applyWindowColumns = `id, name, description, schedule, duration_seconds, time_zone, kind, selector,
	stack_ids::text[] AS stack_ids, created_at, updated_at`

func (r applyWindowRow) window() (ApplyWindow, error) {
	w := ApplyWindow{ID: r.ID, Name: r.Name, Schedule: r.Schedule, Duration: time.Duration(r.DurationSeconds) * time.Second,
		TimeZone: r.TimeZone, Kind: r.Kind, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, StackIDs: []uuid.UUID{}}
	if r.Description != nil {
		w.Description = *r.Description
	}
	var sel windowSelector
	if len(r.Selector) > 0 {
		if err := json.Unmarshal(r.Selector, &sel); err != nil {
			return ApplyWindow{}, fmt.Errorf("apply window %s: selector: %w", r.ID, err)
		}
	}
	w.Labels, w.Annotations = sel.Labels, sel.Annotations
	for _, s := range r.StackIDs {
		id, err := uuid.Parse(s)
		if err != nil {
			return ApplyWindow{}, fmt.Errorf("apply window %s: stack id: %w", r.ID, err)
		}
		w.StackIDs = append(w.StackIDs, id)
	}
	return w, nil
}

// CreateApplyWindow stores an apply window (validated by the caller). A name already taken is
// a *ConstraintError (ErrConflict, apply_windows_name_key).
func CreateApplyWindow(ctx context.Context, q Queryer, w ApplyWindow) (ApplyWindow, error) {
	sel, err := json.Marshal(windowSelector{Labels: w.Labels, Annotations: w.Annotations})
	if err != nil {
		return ApplyWindow{}, err
	}
	var description *string
	if w.Description != "" {
		description = &w.Description
	}
	stacks := make(TextArray, len(w.StackIDs))
	for i, id := range w.StackIDs {
		stacks[i] = id.String()
	}
	var r applyWindowRow
	err = q.GetContext(ctx, &r, `INSERT INTO apply_windows
		(name, description, schedule, duration_seconds, time_zone, kind, selector, stack_ids)
		VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::uuid[]) RETURNING `+applyWindowColumns,
		w.Name, description, w.Schedule, int64(w.Duration/time.Second), w.TimeZone, w.Kind, string(sel), stacks)
	if err != nil {
		return ApplyWindow{}, Wrap(err)
	}
	return r.window()
}

// ListApplyWindows returns every apply window, by name.
func ListApplyWindows(ctx context.Context, q Queryer) ([]ApplyWindow, error) {
	var rows []applyWindowRow
	if err := q.SelectContext(ctx, &rows, `SELECT `+applyWindowColumns+` FROM apply_windows ORDER BY name, id`); err != nil {
		return nil, Wrap(err)
	}
	out := make([]ApplyWindow, 0, len(rows))
	for _, r := range rows {
		w, err := r.window()
		if err != nil {
			return nil, err
		}
		out = append(out, w)
	}
	return out, nil
}

// GetApplyWindow returns one apply window; ErrNotFound when there is none with this id.
func GetApplyWindow(ctx context.Context, q Queryer, id uuid.UUID) (ApplyWindow, error) {
	var r applyWindowRow
	if err := q.GetContext(ctx, &r, `SELECT `+applyWindowColumns+` FROM apply_windows WHERE id = $1`, id); err != nil {
		return ApplyWindow{}, Wrap(err)
	}
	return r.window()
}

// DeleteApplyWindow deletes an apply window and returns it; ErrNotFound when there is none
// with this id.
func DeleteApplyWindow(ctx context.Context, q Queryer, id uuid.UUID) (ApplyWindow, error) {
	var r applyWindowRow
	if err := q.GetContext(ctx, &r, `DELETE FROM apply_windows WHERE id = $1 RETURNING `+applyWindowColumns, id); err != nil {
		return ApplyWindow{}, Wrap(err)
	}
	return r.window()
}

// MissingStacks returns the ids among ids that name no live stack, in the order given.
func MissingStacks(ctx context.Context, q Queryer, ids []uuid.UUID) ([]uuid.UUID, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	var live []uuid.UUID
	if err := q.SelectContext(ctx, &live, `SELECT id FROM stacks WHERE id = ANY($1) AND deleted_at IS NULL`, ids); err != nil {
		return nil, Wrap(err)
	}
	found := make(map[uuid.UUID]bool, len(live))
	for _, id := range live {
		found[id] = true
	}
	var missing []uuid.UUID
	for _, id := range ids {
		if !found[id] {
			missing = append(missing, id)
		}
	}
	return missing, nil
}
