// Package db is the PostgreSQL storage of the broker: connection pool, migrations, error
// translation and one store file per aggregate. It knows nothing about HTTP.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/internal/tracing"
)

// Queryer runs queries: either the pool or a transaction.
type Queryer interface {
	sqlx.ExtContext
	GetContext(ctx context.Context, dest any, query string, args ...any) error
	SelectContext(ctx context.Context, dest any, query string, args ...any) error
}

// DB is the connection pool.
type DB struct {
	*sqlx.DB
	schema string
	url    string
}

// Options configure Open.
type Options struct {
	Schema         string // search_path for every pooled connection ("" = server default)
	MaxConnections int    // 0 = 20
	// TracerProvider, when set, traces the statements of traced requests (nil: no tracing).
	TracerProvider trace.TracerProvider
}

// Open connects to PostgreSQL. With a schema, the schema is created if missing and every
// pooled connection uses it as its search_path.
func Open(ctx context.Context, url string, o Options) (*DB, error) {
	if err := ValidateSchemaName(o.Schema); err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if o.Schema != "" {
		cfg.RuntimeParams["search_path"] = o.Schema
	}
	if o.TracerProvider != nil {
		cfg.Tracer = tracing.NewPGXTracer(o.TracerProvider)
	}
	sqldb := stdlib.OpenDB(*cfg)
	max := o.MaxConnections
	if max <= 0 {
		max = 20
	}
	sqldb.SetMaxOpenConns(max)
	sqldb.SetMaxIdleConns(max)
	sqldb.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{DB: sqlx.NewDb(sqldb, "pgx"), schema: o.Schema, url: url}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := d.PingContext(pctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	if o.Schema != "" {
		if _, err := d.ExecContext(ctx, "CREATE SCHEMA IF NOT EXISTS "+QuoteIdent(o.Schema)); err != nil {
			_ = d.Close()
			return nil, fmt.Errorf("create schema %q: %w", o.Schema, err)
		}
	}
	return d, nil
}

// Schema returns the configured schema ("" = default).
func (d *DB) Schema() string { return d.schema }

// URL returns the connection URL the pool was opened with.
func (d *DB) URL() string { return d.url }

// InTx runs fn in a transaction, committing when fn returns nil and rolling back otherwise.
func (d *DB) InTx(ctx context.Context, fn func(q Queryer) error) (err error) {
	tx, err := d.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	defer func() {
		if p := recover(); p != nil {
			_ = tx.Rollback()
			panic(p)
		}
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if err = fn(tx); err != nil {
		return err
	}
	if err = tx.Commit(); err != nil {
		return Wrap(fmt.Errorf("commit: %w", err))
	}
	return nil
}

// Ping checks the database within the context's deadline.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

var _ Queryer = (*sqlx.DB)(nil)
var _ Queryer = (*sqlx.Tx)(nil)

// isNoRows reports whether err is sql.ErrNoRows.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }
