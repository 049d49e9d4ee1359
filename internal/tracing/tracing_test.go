package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/tracing"
	"github.com/brokkr/brokkr/internal/tracing/tracingtest"
)

func TestParseEndpoint(t *testing.T) {
	for _, tc := range []struct {
		in                 string
		protocol, hostPort string
		path               string
		insecure           bool
	}{
		{"http://localhost:4317", tracing.ProtocolGRPC, "localhost:4317", "", true},
		{"https://otel.example.com", tracing.ProtocolGRPC, "otel.example.com:443", "", false},
		{"http://collector", tracing.ProtocolGRPC, "collector:4317", "", true},
		{"http://collector:4318", tracing.ProtocolHTTP, "collector:4318", "/v1/traces", true},
		{"http://collector:4318/", tracing.ProtocolHTTP, "collector:4318", "/v1/traces", true},
		{"https://otel.example.com/v1/traces", tracing.ProtocolHTTP, "otel.example.com:443", "/v1/traces", false},
		{"http://gw:8080/otlp/v1/traces/", tracing.ProtocolHTTP, "gw:8080", "/otlp/v1/traces/", true},
		{"http://[::1]:4317", tracing.ProtocolGRPC, "[::1]:4317", "", true},
	} {
		ep, err := tracing.ParseEndpoint(tc.in)
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if ep.Protocol != tc.protocol || ep.HostPort != tc.hostPort || ep.Path != tc.path || ep.Insecure != tc.insecure {
			t.Errorf("%s: got %s %s %q insecure=%v, want %s %s %q insecure=%v", tc.in,
				ep.Protocol, ep.HostPort, ep.Path, ep.Insecure, tc.protocol, tc.hostPort, tc.path, tc.insecure)
		}
	}
	for _, bad := range []string{"", "collector:4317", "grpc://collector:4317", "http://"} {
		if _, err := tracing.ParseEndpoint(bad); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

func TestDisabledIsNoProvider(t *testing.T) {
	var logs bytes.Buffer
	p, err := tracing.New(context.Background(), config.TelemetrySettings{OTLPEndpoint: "http://127.0.0.1:1"},
		tracing.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if p.Enabled() || p.TracerProvider() != nil || p.Protocol() != "" {
		t.Fatalf("disabled telemetry gave a provider: enabled=%v tp=%v", p.Enabled(), p.TracerProvider())
	}
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if logs.Len() != 0 {
		t.Errorf("disabled telemetry logged: %s", logs.String())
	}
}

// export starts a provider for endpoint, ends one span per name and flushes.
func export(t *testing.T, endpoint string, rate float64, names ...string) *tracing.Provider {
	t.Helper()
	var logs bytes.Buffer
	p, err := tracing.New(context.Background(), config.TelemetrySettings{Enabled: true, OTLPEndpoint: endpoint,
		ServiceName: "svc-under-test", SamplingRate: rate}, tracing.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil)), Component: "broker"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	line := logs.String()
	for _, want := range []string{"exporting traces", "component=broker", "otlp_endpoint=" + endpoint, "sampling_rate=", "service_name=svc-under-test"} {
		if !strings.Contains(line, want) {
			t.Errorf("startup line %q lacks %q", line, want)
		}
	}
	tr := p.TracerProvider().Tracer("test")
	for _, n := range names {
		_, span := tr.Start(context.Background(), n)
		span.End()
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSpansReachTheCollector(t *testing.T) {
	r := tracingtest.Start(t)
	t.Run("grpc", func(t *testing.T) {
		p := export(t, r.GRPCEndpoint, 1, "over-grpc")
		if p.Protocol() != tracing.ProtocolGRPC {
			t.Errorf("protocol %s", p.Protocol())
		}
	})
	t.Run("http", func(t *testing.T) {
		p := export(t, r.HTTPEndpoint, 1, "over-http")
		if p.Protocol() != tracing.ProtocolHTTP {
			t.Errorf("protocol %s", p.Protocol())
		}
	})
	spans := r.WaitFor(t, 10*time.Second, func(s []tracingtest.Span) bool { return len(s) >= 2 })
	for _, name := range []string{"over-grpc", "over-http"} {
		got := tracingtest.Find(spans, func(s tracingtest.Span) bool { return s.Name == name })
		if len(got) != 1 || got[0].Service != "svc-under-test" {
			t.Errorf("%s: %d spans\n%s", name, len(got), tracingtest.Describe(spans))
		}
	}
}

func TestSamplingFollowsTheParent(t *testing.T) {
	r := tracingtest.Start(t)
	p := export(t, r.GRPCEndpoint, 0, "unsampled-root")
	// A caller that sampled its trace: its children are kept whatever the ratio.
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2},
		TraceFlags: trace.FlagsSampled, Remote: true})
	_, span := p.TracerProvider().Tracer("test").Start(trace.ContextWithRemoteSpanContext(context.Background(), parent), "child-of-sampled")
	span.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := r.WaitFor(t, 10*time.Second, func(s []tracingtest.Span) bool { return len(s) >= 1 })
	if len(spans) != 1 || spans[0].Name != "child-of-sampled" || spans[0].ParentID() != "0200000000000000" {
		t.Fatalf("want only the sampled parent's child:\n%s", tracingtest.Describe(spans))
	}
}

func TestUnreachableCollectorDoesNotBlock(t *testing.T) {
	p, err := tracing.New(context.Background(), config.TelemetrySettings{Enabled: true, OTLPEndpoint: "http://127.0.0.1:1",
		ServiceName: "x", SamplingRate: 1}, tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := p.TracerProvider().Tracer("test")
	start := time.Now()
	for range 10000 { // more than the exporter's queue holds
		_, span := tr.Start(context.Background(), "s")
		span.End()
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("ending spans took %s with an unreachable collector", d)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	_ = p.Shutdown(ctx)
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("shutdown took %s past its deadline", d)
	}
}

func TestErrorHandlerIsRateLimited(t *testing.T) {
	var logs bytes.Buffer
	h := tracing.NewErrorHandler(slog.New(slog.NewTextHandler(&logs, nil)), 50*time.Millisecond)
	for range 5 {
		h.Handle(errors.New("connection refused"))
	}
	if n := strings.Count(logs.String(), "trace export failing"); n != 1 {
		t.Fatalf("%d lines for a burst of errors:\n%s", n, logs.String())
	}
	time.Sleep(60 * time.Millisecond)
	h.Handle(errors.New("connection refused"))
	if !strings.Contains(logs.String(), "suppressed_errors=4") || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("second line does not count the suppressed errors:\n%s", logs.String())
	}
}

func TestTransportPropagatesAndSkipsWebSockets(t *testing.T) {
	r := tracingtest.Start(t)
	p := export(t, r.GRPCEndpoint, 1)
	var (
		mu  sync.Mutex
		got []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, req.Header.Get("Traceparent"))
	}))
	defer srv.Close()
	hc := tracing.HTTPClient(nil, p.TracerProvider())
	ctx, parent := p.TracerProvider().Tracer("test").Start(context.Background(), "caller")
	for _, upgrade := range []string{"", "websocket"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/v1/agents", nil)
		if upgrade != "" {
			req.Header.Set("Upgrade", upgrade)
		}
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
	}
	parent.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := r.WaitFor(t, 10*time.Second, func(s []tracingtest.Span) bool { return len(s) >= 2 })
	mu.Lock()
	defer mu.Unlock()
	clientSpans := tracingtest.Find(spans, func(s tracingtest.Span) bool { return s.Name == "GET" })
	if len(clientSpans) != 1 {
		t.Fatalf("want one client span (the upgrade untraced):\n%s", tracingtest.Describe(spans))
	}
	cs := clientSpans[0]
	if want := "00-" + cs.TraceID() + "-" + cs.ID() + "-01"; len(got) != 2 || got[0] != want {
		t.Errorf("traceparent %q, want %q first", got, want)
	}
	if got[1] != "" {
		t.Errorf("the WebSocket upgrade carried traceparent %q", got[1])
	}
	if cs.ParentID() != parent.SpanContext().SpanID().String() {
		t.Errorf("client span's parent %s, want the caller %s", cs.ParentID(), parent.SpanContext().SpanID())
	}
}
