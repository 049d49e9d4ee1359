package db

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// TestTracing checks the pool's statement spans: children of a traced request, with the
// statement's text but never its arguments, errors with their SQLSTATE, and nothing for
// statements outside a trace.
func TestTracing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	ctx := context.Background()
	d, err := Open(ctx, startMigServer(t).emptyDB(t), Options{MaxConnections: 2, TracerProvider: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	// Background work (no span in the context) makes no spans.
	if err := d.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans without a traced request", n)
	}

	rctx, request := tp.Tracer("test").Start(ctx, "request")
	var name string
	if err := d.GetContext(rctx, &name, "SELECT datname FROM pg_database WHERE datname <> $1 LIMIT 1", "secret-argument"); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ExecContext(rctx, "INSERT INTO no_such_table VALUES (1)"); err == nil {
		t.Fatal("insert into a missing table succeeded")
	}
	request.End()

	var sel, ins sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		switch s.Name() {
		case "SELECT pg_database":
			sel = s
		case "INSERT no_such_table":
			ins = s
		}
	}
	if sel == nil || ins == nil {
		var names []string
		for _, s := range rec.Ended() {
			names = append(names, s.Name())
		}
		t.Fatalf("statement spans missing; got %v", names)
	}
	for _, s := range []sdktrace.ReadOnlySpan{sel, ins} {
		if s.Parent().SpanID() != request.SpanContext().SpanID() || s.SpanContext().TraceID() != request.SpanContext().TraceID() {
			t.Errorf("%s: not a child of the request", s.Name())
		}
	}
	attrs := map[string]string{}
	for _, kv := range sel.Attributes() {
		attrs[string(kv.Key)] = kv.Value.String()
	}
	if attrs["db.system"] != "postgresql" || attrs["db.system.name"] != "postgresql" || attrs["db.collection.name"] != "pg_database" ||
		attrs["db.operation.name"] != "SELECT" || !strings.HasPrefix(attrs["db.query.text"], "SELECT datname FROM pg_database") {
		t.Errorf("SELECT attributes: %v", attrs)
	}
	for k, v := range attrs {
		if strings.Contains(v, "secret-argument") {
			t.Errorf("attribute %s carries an argument: %s", k, v)
		}
	}
	if ins.Status().Code != codes.Error {
		t.Errorf("failed INSERT status %v", ins.Status())
	}
	found := false
	for _, kv := range ins.Attributes() {
		found = found || (kv.Key == "db.response.status_code" && kv.Value.AsString() == "42P01")
	}
	if !found {
		t.Errorf("failed INSERT lacks its SQLSTATE: %v", ins.Attributes())
	}
}
