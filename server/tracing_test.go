package server_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/tracing"
	"github.com/brokkr/brokkr/internal/tracing/tracingtest"
	"github.com/brokkr/brokkr/server/servertest"
)

// tracedBroker starts a broker exporting its traces to r with the given sampling rate.
func tracedBroker(t *testing.T, endpoint string, rate float64) *servertest.Broker {
	t.Helper()
	return servertest.New(t, servertest.Options{Configure: func(c *config.Broker) {
		c.Telemetry.Enabled = true
		c.Telemetry.OTLPEndpoint = endpoint
		c.Telemetry.SamplingRate = rate
	}})
}

func flush(t *testing.T, p *tracing.Provider) {
	t.Helper()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// TestTraceFromClientThroughBrokerToSQL follows one trace from a caller's span through the
// client's request and the broker's server span into its SQL statements, all exported to an
// OTLP receiver.
func TestTraceFromClientThroughBrokerToSQL(t *testing.T) {
	r := tracingtest.Start(t)
	// Rate 0: the broker starts no trace of its own, but keeps those its callers sampled.
	b := tracedBroker(t, r.GRPCEndpoint, 0)

	rec := tracetest.NewSpanRecorder()
	callerTP := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	c, err := client.New(b.URL, client.WithPAK(b.AdminPAK), client.WithHTTPClient(tracing.HTTPClient(nil, callerTP)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, caller := callerTP.Tracer("test").Start(context.Background(), "caller")
	created, err := c.Agents().Create(ctx, client.CreateAgentRequest{Name: "traced", ClusterName: "c"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Agents().Get(ctx, uuid.New()); !client.IsNotFound(err) {
		t.Fatalf("get of an unknown agent: %v", err)
	}
	caller.End()
	// An untraced request: no span at a sampling rate of 0.
	if _, err := b.Admin.Agents().Get(context.Background(), created.Agent.ID); err != nil {
		t.Fatal(err)
	}
	flush(t, b.Tracing)

	var clientSpans []sdktrace.ReadOnlySpan
	for _, s := range rec.Ended() {
		if s.SpanKind() == trace.SpanKindClient && s.Parent().SpanID() == caller.SpanContext().SpanID() {
			clientSpans = append(clientSpans, s)
		}
	}
	if len(clientSpans) != 2 {
		t.Fatalf("%d client spans under the caller, want 2", len(clientSpans))
	}
	traceID := caller.SpanContext().TraceID().String()
	isServer := func(s tracingtest.Span) bool { return s.Kind == tracepb.Span_SPAN_KIND_SERVER }
	spans := r.WaitFor(t, 10*time.Second, func(s []tracingtest.Span) bool { return len(tracingtest.Find(s, isServer)) >= 2 })
	servers := tracingtest.Find(spans, isServer)
	if len(servers) != 2 {
		t.Fatalf("want exactly the two traced requests' server spans:\n%s", tracingtest.Describe(spans))
	}
	for i, want := range []struct {
		name, route string
		status      int64
	}{{"POST /api/v1/agents", "/api/v1/agents", 201}, {"GET /api/v1/agents/:id", "/api/v1/agents/:id", 404}} {
		s := tracingtest.Find(servers, func(s tracingtest.Span) bool { return s.Name == want.name })
		if len(s) != 1 {
			t.Fatalf("no server span %q:\n%s", want.name, tracingtest.Describe(spans))
		}
		srv := s[0]
		if srv.Service != "brokkr-broker" || srv.TraceID() != traceID {
			t.Errorf("%s: service %q trace %s, want brokkr-broker in %s", want.name, srv.Service, srv.TraceID(), traceID)
		}
		if srv.ParentID() != clientSpans[i].SpanContext().SpanID().String() {
			t.Errorf("%s: parent %s, want the client span %s", want.name, srv.ParentID(), clientSpans[i].SpanContext().SpanID())
		}
		if srv.Attr("http.route") != want.route || srv.IntAttr("http.response.status_code") != want.status ||
			srv.Attr("http.request.method") != strings.Fields(want.name)[0] {
			t.Errorf("%s: attributes %v", want.name, srv.Attributes)
		}
		if srv.Status.GetCode() == tracepb.Status_STATUS_CODE_ERROR {
			t.Errorf("%s: a %d marked as an error", want.name, want.status)
		}
	}
	post := tracingtest.Find(servers, func(s tracingtest.Span) bool { return s.Name == "POST /api/v1/agents" })[0]
	sql := tracingtest.Find(spans, func(s tracingtest.Span) bool {
		return s.Attr("db.system") == "postgresql" && tracingtest.DescendsFrom(spans, s, post)
	})
	inserts := tracingtest.Find(sql, func(s tracingtest.Span) bool { return s.Name == "INSERT agents" })
	if len(inserts) == 0 || !strings.HasPrefix(inserts[0].Attr("db.query.text"), "INSERT INTO agents") {
		t.Fatalf("no INSERT agents statement under the POST:\n%s", tracingtest.Describe(spans))
	}
	for _, s := range spans {
		if s.TraceID() != traceID {
			t.Errorf("a span outside the caller's trace was exported at rate 0: %s", s.Name)
		}
	}
}

// TestWebhookDeliverySpans checks the span of a delivery attempt, with its outcome recorded as
// a child statement.
func TestWebhookDeliverySpans(t *testing.T) {
	r := tracingtest.Start(t)
	b := tracedBroker(t, r.HTTPEndpoint, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusAccepted)
	}))
	defer hook.Close()
	ctx := context.Background()
	sub, err := b.Admin.Webhooks().Create(ctx, client.CreateWebhookRequest{Name: "traced", URL: hook.URL,
		EventTypes: []string{"agent.registered"}})
	if err != nil {
		t.Fatal(err)
	}
	b.CreateAgent(t, "hooked", "c", false)
	if !b.Server.RunWorkerOnce(ctx, "webhook-delivery") {
		t.Fatal("the delivery worker did not run")
	}
	flush(t, b.Tracing)
	isDelivery := func(s tracingtest.Span) bool { return s.Name == "webhook delivery" }
	spans := r.WaitFor(t, 10*time.Second, func(s []tracingtest.Span) bool { return len(tracingtest.Find(s, isDelivery)) > 0 })
	d := tracingtest.Find(spans, isDelivery)[0]
	if d.Attr("brokkr.webhook.subscription_id") != sub.ID.String() || d.Attr("brokkr.webhook.event_type") != "agent.registered" ||
		d.Attr("brokkr.webhook.outcome") != "success" || d.IntAttr("http.response.status_code") != 202 ||
		d.IntAttr("brokkr.webhook.attempt") != 1 {
		t.Errorf("delivery span attributes: %v", d.Attributes)
	}
	settled := tracingtest.Find(spans, func(s tracingtest.Span) bool {
		return s.Name == "UPDATE webhook_deliveries" && tracingtest.DescendsFrom(spans, s, d)
	})
	if len(settled) == 0 {
		t.Errorf("the outcome's statement is not under the delivery span:\n%s", tracingtest.Describe(spans))
	}
}

// TestUnreachableCollectorLeavesRequestsAlone runs requests with every one of them sampled
// and a collector that refuses connections: exporting happens in the background, so the
// requests succeed as fast as ever.
func TestUnreachableCollectorLeavesRequestsAlone(t *testing.T) {
	b := tracedBroker(t, "http://127.0.0.1:1", 1)
	ctx := context.Background()
	start := time.Now()
	for i := range 200 {
		if _, err := b.Admin.Agents().List(ctx); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("200 requests took %s with an unreachable collector", d)
	}
}
