package tracing

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
)

// TransportOptions adjust the spans of a traced transport.
type TransportOptions struct {
	// Name names a request's span (by its method alone when nil).
	Name func(*http.Request) string
	// ParentOnly traces only requests made under a recording span: the requests of a traced
	// operation, not those of the program's background work (watches, probes).
	ParentOnly bool
}

// newTransport wraps rt with otelhttp: tp's client spans, the brokkr propagator, no metrics
// (the programs keep their own), and span names from o.Name.
func newTransport(rt http.RoundTripper, tp trace.TracerProvider, o TransportOptions) http.RoundTripper {
	name := o.Name
	if name == nil {
		name = func(r *http.Request) string { return r.Method }
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(tp),
		otelhttp.WithPropagators(Propagator()),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return name(r) }),
		otelhttp.WithFilter(func(r *http.Request) bool {
			return !IsWebSocketUpgrade(r) && (!o.ParentOnly || trace.SpanFromContext(r.Context()).IsRecording())
		}),
	)
}

// IsWebSocketUpgrade reports whether r asks to become a WebSocket.
func IsWebSocketUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}
