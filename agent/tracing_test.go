package agent_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/brokkr/brokkr/agent"
	"github.com/brokkr/brokkr/agent/internal/kubetest"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/tracing"
	"github.com/brokkr/brokkr/internal/tracing/tracingtest"
	"github.com/brokkr/brokkr/server/servertest"
)

// TestReconcileTrace runs an agent with tracing on against a traced broker and follows one
// reconcile pass: its span holds the pass's Kubernetes requests and its requests to the
// broker, whose server spans (and their statements) join the agent's trace.
func TestReconcileTrace(t *testing.T) {
	env := kubetest.Get(t)
	r := tracingtest.Start(t)
	// Rate 0 at the broker: its spans are exported only for traces the agent sampled.
	b := servertest.New(t, servertest.Options{Background: true, Configure: func(c *config.Broker) {
		c.Telemetry.Enabled, c.Telemetry.OTLPEndpoint, c.Telemetry.SamplingRate = true, r.GRPCEndpoint, 0
	}})
	cluster := "cluster-" + uuid.NewString()[:8]
	a := b.CreateAgent(t, "traced", cluster, true)
	st := b.CreateStack(t, "traced", a.ID)
	ns := env.Namespace(t)
	b.Post(t, st.ID, fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: traced, namespace: %s}\ndata: {v: x}\n", ns), false)

	cfg := config.DefaultAgent()
	cfg.Agent.BrokerURL, cfg.Agent.PAK, cfg.Agent.AgentName, cfg.Agent.ClusterName = b.URL, a.PAK, a.Name, cluster
	cfg.Agent.HealthPort, cfg.Agent.PollingInterval = 0, 1
	cfg.Telemetry.Agent.Enabled = new(true)
	cfg.Telemetry.Agent.SamplingRate = new(1.0)
	cfg.Telemetry.OTLPEndpoint = r.HTTPEndpoint // HTTP/protobuf here, gRPC at the broker
	traces, err := tracing.New(context.Background(), cfg.Telemetry.ForAgent(), tracing.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer traces.Stop(nil)
	ag, err := agent.New(agent.Options{Config: cfg.Agent, Kube: env.Config, Backoff: fastBackoff, TracerProvider: traces.TracerProvider()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- ag.Run(ctx) }()
	eventually(t, 30*time.Second, "the ConfigMap", func() bool {
		_, err := env.Kube.CoreV1().ConfigMaps(ns).Get(context.Background(), "traced", metav1.GetOptions{})
		return err == nil
	})

	isPass := func(s tracingtest.Span) bool {
		return s.Name == "reconcile" && s.Service == "brokkr-agent" && s.IntAttr("brokkr.reconcile.applied") == 1
	}
	var spans []tracingtest.Span
	eventually(t, 30*time.Second, "the reconcile pass's spans", func() bool {
		if err := traces.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := b.Tracing.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		spans = r.Spans()
		pass := tracingtest.Find(spans, isPass)
		return len(pass) == 1 && len(tracingtest.Find(spans, func(s tracingtest.Span) bool {
			return s.Name == "POST /api/v1/agents/:id/events" && tracingtest.DescendsFrom(spans, s, pass[0])
		})) > 0
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	pass := tracingtest.Find(spans, isPass)[0]
	under := func(match func(tracingtest.Span) bool) []tracingtest.Span {
		return tracingtest.Find(spans, func(s tracingtest.Span) bool { return match(s) && tracingtest.DescendsFrom(spans, s, pass) })
	}
	if len(under(func(s tracingtest.Span) bool {
		return s.Service == "brokkr-agent" && s.Kind == tracepb.Span_SPAN_KIND_CLIENT && s.Name == "PATCH configmaps"
	})) == 0 {
		t.Errorf("no Kubernetes apply of the ConfigMap under the pass:\n%s", tracingtest.Describe(spans))
	}
	target := under(func(s tracingtest.Span) bool {
		return s.Service == "brokkr-broker" && s.Name == "GET /api/v1/agents/:id/target-state"
	})
	if len(target) != 1 {
		t.Fatalf("the broker's target-state span is not in the pass's trace:\n%s", tracingtest.Describe(spans))
	}
	// Its parent is the agent's client span of the request.
	parent := tracingtest.Find(spans, func(s tracingtest.Span) bool { return s.ID() == target[0].ParentID() })
	if len(parent) != 1 || parent[0].Service != "brokkr-agent" || parent[0].Kind != tracepb.Span_SPAN_KIND_CLIENT || parent[0].ParentID() != pass.ID() {
		t.Errorf("target-state's parent is not the agent's request span of the pass:\n%s", tracingtest.Describe(spans))
	}
	if len(under(func(s tracingtest.Span) bool { return s.Attr("db.system") == "postgresql" })) == 0 {
		t.Errorf("no statement of the broker under the pass:\n%s", tracingtest.Describe(spans))
	}
	// Kubernetes requests outside a pass (the startup check of /version) are not traced.
	for _, s := range spans {
		if strings.HasSuffix(s.Name, " /version") {
			t.Errorf("a request outside any pass was traced: %s", s.Name)
		}
	}
}
