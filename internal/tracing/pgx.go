package tracing

import (
	"context"
	"errors"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// maxStatementBytes bounds the statement text a span carries.
const maxStatementBytes = 2048

// PGXTracer traces a pgx connection's statements, batches and connects with tp. It makes
// spans only under a recording span (a traced request): the background work of a broker
// (workers, the notification listener) adds no traces of its own. A statement's span is
// named by its operation and table ("SELECT agents", "INSERT stacks", "BEGIN") and carries
// db.system, db.system.name (postgresql), db.operation.name, db.collection.name and the
// statement's text (at most 2 KiB; arguments are never recorded).
type PGXTracer struct {
	tracer trace.Tracer
}

var (
	_ pgx.QueryTracer   = (*PGXTracer)(nil)
	_ pgx.BatchTracer   = (*PGXTracer)(nil)
	_ pgx.ConnectTracer = (*PGXTracer)(nil)
)

// NewPGXTracer returns the tracer to set as pgx.ConnConfig.Tracer.
func NewPGXTracer(tp trace.TracerProvider) *PGXTracer {
	return &PGXTracer{tracer: tp.Tracer("github.com/brokkr/brokkr/db")}
}

type pgxSpanKey struct{}

// start begins a client span under a recording span; ctx is returned unchanged otherwise.
func (t *PGXTracer) start(ctx context.Context, name string, cfg *pgx.ConnConfig, attrs ...attribute.KeyValue) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	attrs = append(attrs, attribute.String("db.system", "postgresql"), semconv.DBSystemNamePostgreSQL)
	if cfg != nil {
		attrs = append(attrs, semconv.DBNamespace(cfg.Database), semconv.ServerAddress(cfg.Host),
			semconv.ServerPort(int(cfg.Port)))
	}
	ctx, span := t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
	return context.WithValue(ctx, pgxSpanKey{}, span)
}

// end ends the span start began, if any.
func end(ctx context.Context, err error, attrs ...attribute.KeyValue) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	span.SetAttributes(attrs...)
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) {
			span.SetAttributes(semconv.DBResponseStatusCode(pgErr.Code))
		}
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

func connConfig(conn *pgx.Conn) *pgx.ConnConfig {
	if conn == nil {
		return nil
	}
	return conn.Config()
}

// statementAttributes are a statement's span name and attributes.
func statementAttributes(sql string) (string, []attribute.KeyValue) {
	op, table := summarize(sql)
	attrs := []attribute.KeyValue{semconv.DBQueryText(clip(sql, maxStatementBytes))}
	name := op
	if op != "" {
		attrs = append(attrs, semconv.DBOperationName(op))
	} else {
		name = "SQL"
	}
	if table != "" {
		attrs = append(attrs, semconv.DBCollectionName(table))
		name += " " + table
	}
	return name, append(attrs, semconv.DBQuerySummary(name))
}

// TraceQueryStart implements pgx.QueryTracer.
func (t *PGXTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	name, attrs := statementAttributes(data.SQL)
	return t.start(ctx, name, connConfig(conn), attrs...)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (t *PGXTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.Err, attribute.Int64("db.rows_affected", data.CommandTag.RowsAffected()))
}

// TraceBatchStart implements pgx.BatchTracer: one span for the batch.
func (t *PGXTracer) TraceBatchStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	n := 0
	if data.Batch != nil {
		n = data.Batch.Len()
	}
	return t.start(ctx, "BATCH", connConfig(conn), semconv.DBOperationName("BATCH"), semconv.DBOperationBatchSize(n))
}

// TraceBatchQuery implements pgx.BatchTracer: an event per statement of the batch.
func (t *PGXTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span, ok := ctx.Value(pgxSpanKey{}).(trace.Span)
	if !ok {
		return
	}
	name, attrs := statementAttributes(data.SQL)
	if data.Err != nil {
		attrs = append(attrs, attribute.String("error.message", data.Err.Error()))
	}
	span.AddEvent(name, trace.WithAttributes(attrs...))
}

// TraceBatchEnd implements pgx.BatchTracer.
func (t *PGXTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, data.Err)
}

// TraceConnectStart implements pgx.ConnectTracer: a span for a new pooled connection opened
// on behalf of a traced request.
func (t *PGXTracer) TraceConnectStart(ctx context.Context, data pgx.TraceConnectStartData) context.Context {
	return t.start(ctx, "CONNECT", data.ConnConfig, semconv.DBOperationName("CONNECT"))
}

// TraceConnectEnd implements pgx.ConnectTracer.
func (t *PGXTracer) TraceConnectEnd(ctx context.Context, data pgx.TraceConnectEndData) {
	end(ctx, data.Err)
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// summarize returns a statement's operation (its first keyword, upper case) and, for
// INSERT, UPDATE, DELETE and SELECT, the table it names first ("" when none is found).
func summarize(sql string) (op, table string) {
	words := sqlWords(sql, 64)
	if len(words) == 0 {
		return "", ""
	}
	op = strings.ToUpper(words[0])
	if !isIdentifier(op) || len(op) > 32 {
		return "", ""
	}
	after := ""
	switch op {
	case "INSERT":
		after = "INTO"
	case "DELETE", "SELECT":
		after = "FROM"
	case "UPDATE":
		if len(words) > 1 && isIdentifier(words[1]) {
			return op, tableName(words[1])
		}
		return op, ""
	default:
		return op, ""
	}
	for i := 1; i+1 < len(words); i++ {
		if strings.EqualFold(words[i], after) {
			if isIdentifier(words[i+1]) {
				return op, tableName(words[i+1])
			}
			return op, ""
		}
	}
	return op, ""
}

// tableName lower-cases an unquoted name and bounds its length.
func tableName(w string) string {
	if strings.EqualFold(w, "ONLY") || len(w) > 63 {
		return ""
	}
	return strings.ToLower(w)
}

func isIdentifier(w string) bool {
	if w == "" {
		return false
	}
	for i, r := range w {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && (r >= '0' && r <= '9' || r == '.'):
		default:
			return false
		}
	}
	return true
}

// sqlWords returns up to max tokens of a statement: words, and each other character on its
// own; comments, string literals and quoted identifiers are skipped (a quoted name is
// returned as "\"" so it never passes for a table).
func sqlWords(sql string, max int) []string {
	var words []string
	for i := 0; i < len(sql) && len(words) < max; {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return words
			}
			i += j + 1
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return words
			}
			i += j + 4
		case c == '\'' || c == '"':
			j := strings.IndexByte(sql[i+1:], c)
			if j < 0 {
				return words
			}
			words = append(words, string(c))
			i += j + 2
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
			j := i + 1
			for j < len(sql) && (sql[j] == '_' || sql[j] == '.' || sql[j] >= 'a' && sql[j] <= 'z' ||
				sql[j] >= 'A' && sql[j] <= 'Z' || sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			words = append(words, sql[i:j])
			i = j
		default:
			words = append(words, sql[i:i+1])
			i++
		}
	}
	return words
}
