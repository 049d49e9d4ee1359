// Package tracingtest is an in-process OTLP trace receiver for tests: it takes the spans a
// brokkr program exports over gRPC or HTTP/protobuf on loopback and lets the test inspect
// them.
package tracingtest

import (
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

// Span is one received span with the service that sent it.
type Span struct {
	Service string
	*tracepb.Span
}

// TraceID is the span's trace id in hex.
func (s Span) TraceID() string { return hex.EncodeToString(s.GetTraceId()) }

// ID is the span's id in hex.
func (s Span) ID() string { return hex.EncodeToString(s.GetSpanId()) }

// ParentID is the span's parent id in hex ("" for a root span).
func (s Span) ParentID() string { return hex.EncodeToString(s.GetParentSpanId()) }

// Attr returns the value of an attribute as a string ("" when absent).
func (s Span) Attr(key string) string {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return value(kv.Value)
		}
	}
	return ""
}

func value(v *commonpb.AnyValue) string {
	switch x := v.GetValue().(type) {
	case *commonpb.AnyValue_StringValue:
		return x.StringValue
	case *commonpb.AnyValue_IntValue:
		return strconv.FormatInt(x.IntValue, 10)
	case *commonpb.AnyValue_BoolValue:
		return strconv.FormatBool(x.BoolValue)
	}
	return ""
}

// IntAttr returns the value of an integer attribute (0 when absent).
func (s Span) IntAttr(key string) int64 {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			return kv.Value.GetIntValue()
		}
	}
	return 0
}

// Receiver collects exported spans.
type Receiver struct {
	// GRPCEndpoint is the gRPC receiver's URL, e.g. http://127.0.0.1:41234.
	GRPCEndpoint string
	// HTTPEndpoint is the HTTP/protobuf receiver's URL, ending in /v1/traces.
	HTTPEndpoint string

	mu       sync.Mutex
	spans    []Span
	requests int
}

type service struct {
	collectortrace.UnimplementedTraceServiceServer
	r *Receiver
}

func (s service) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	s.r.add(req)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

// Start starts a receiver on loopback; it stops when the test ends.
func Start(t testing.TB) *Receiver {
	t.Helper()
	r := &Receiver{}
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	collectortrace.RegisterTraceServiceServer(srv, service{r: r})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	r.GRPCEndpoint = "http://" + ln.Addr().String()

	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		var msg collectortrace.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &msg)
		}
		if err != nil || req.URL.Path != "/v1/traces" {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		r.add(&msg)
		out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(out)
	}))
	t.Cleanup(hs.Close)
	r.HTTPEndpoint = hs.URL + "/v1/traces"
	return r
}

func (r *Receiver) add(req *collectortrace.ExportTraceServiceRequest) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests++
	for _, rs := range req.ResourceSpans {
		svc := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.Key == "service.name" {
				svc = value(kv.Value)
			}
		}
		for _, ss := range rs.ScopeSpans {
			for _, sp := range ss.Spans {
				r.spans = append(r.spans, Span{Service: svc, Span: sp})
			}
		}
	}
}

// Spans returns the spans received so far.
func (r *Receiver) Spans() []Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Span(nil), r.spans...)
}

// Requests is the number of export requests received.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests
}

// WaitFor waits up to timeout until done accepts the spans received, and returns them; the
// test fails after the timeout.
func (r *Receiver) WaitFor(t testing.TB, timeout time.Duration, done func([]Span) bool) []Span {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		spans := r.Spans()
		if done(spans) {
			return spans
		}
		if time.Now().After(deadline) {
			t.Fatalf("the expected spans did not arrive within %s; received %d spans:\n%s", timeout, len(spans), Describe(spans))
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Describe lists spans one a line (service, name, ids) for failure messages.
func Describe(spans []Span) string {
	var b []byte
	for _, s := range spans {
		b = append(b, s.Service+" "+s.Name+" trace="+s.TraceID()+" span="+s.ID()+" parent="+s.ParentID()+"\n"...)
	}
	return string(b)
}

// Find returns the spans for which match is true.
func Find(spans []Span, match func(Span) bool) []Span {
	var out []Span
	for _, s := range spans {
		if match(s) {
			out = append(out, s)
		}
	}
	return out
}

// DescendsFrom reports whether s is ancestor's descendant within spans (following parent
// ids within one trace).
func DescendsFrom(spans []Span, s, ancestor Span) bool {
	byID := make(map[string]Span, len(spans))
	for _, x := range spans {
		byID[x.TraceID()+x.ID()] = x
	}
	for cur, ok := s, true; ok && cur.TraceID() == ancestor.TraceID(); {
		if cur.ParentID() == ancestor.ID() {
			return true
		}
		cur, ok = byID[cur.TraceID()+cur.ParentID()]
	}
	return false
}
