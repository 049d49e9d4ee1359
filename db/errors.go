package db

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Sentinel errors; test with errors.Is. A *ConstraintError carries the details.
var (
	ErrNotFound   = errors.New("not found")
	ErrConflict   = errors.New("unique violation")
	ErrForeignKey = errors.New("foreign key violation")
	ErrCheck      = errors.New("check violation")
	ErrNotNull    = errors.New("not-null violation")
)

// ConstraintError is a constraint violation reported by PostgreSQL.
type ConstraintError struct {
	Kind       error  // one of ErrConflict, ErrForeignKey, ErrCheck, ErrNotNull
	Constraint string // constraint or unique index name
	Err        error
}

func (e *ConstraintError) Error() string {
	return fmt.Sprintf("%v: %s", e.Kind, e.Constraint)
}

// Is makes errors.Is(err, ErrConflict) and friends work.
func (e *ConstraintError) Is(target error) bool { return target == e.Kind }

// Unwrap returns the driver error.
func (e *ConstraintError) Unwrap() error { return e.Err }

// Wrap translates driver errors into this package's sentinels: no rows → ErrNotFound,
// SQLSTATE 23505/23503/23514/23502 → *ConstraintError. Other errors are returned unchanged.
func Wrap(err error) error {
	if err == nil {
		return nil
	}
	if isNoRows(err) {
		return ErrNotFound
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		var kind error
		switch pg.Code {
		case "23505":
			kind = ErrConflict
		case "23503":
			kind = ErrForeignKey
		case "23514":
			kind = ErrCheck
		case "23502":
			kind = ErrNotNull
		}
		if kind != nil {
			name := pg.ConstraintName
			if name == "" {
				name = pg.ColumnName
			}
			return &ConstraintError{Kind: kind, Constraint: name, Err: err}
		}
	}
	return err
}
