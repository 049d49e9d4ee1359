// Package tracing builds the OpenTelemetry trace pipeline of a brokkr program from its
// effective [telemetry] settings: an OTLP exporter (gRPC, or HTTP/protobuf for endpoints on
// port 4318 or ending in /v1/traces), parent-based ratio sampling, the service name, and
// the W3C trace-context and baggage propagators. It also holds the instrumentation the
// programs share: the PostgreSQL query tracer of the broker's pool and the HTTP client
// transport of the agent.
//
// With telemetry disabled, New returns a Provider whose TracerProvider is nil: callers then
// install no instrumentation at all, so tracing that is off costs nothing per request.
package tracing

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/credentials"

	"github.com/brokkr/brokkr/internal/buildinfo"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logx"
)

// Protocols of the OTLP exporter.
const (
	ProtocolGRPC = "grpc"
	ProtocolHTTP = "http/protobuf"
)

// errorLogInterval is the shortest time between two log lines about failing exports.
const errorLogInterval = time.Minute

// Provider is the trace pipeline of one program.
type Provider struct {
	sdk      *sdktrace.TracerProvider // nil when tracing is off
	settings config.TelemetrySettings
	protocol string
}

// Options adjust New.
type Options struct {
	// Logger receives the startup line naming the exporter; nil discards it.
	Logger *slog.Logger
	// Component names the program in the startup line ("broker", "agent").
	Component string
}

// New builds the trace pipeline for the effective settings s. Disabled settings give a
// Provider without a TracerProvider. The exporter connects lazily and sends in the
// background: an unreachable collector never delays the program, its spans are dropped.
func New(ctx context.Context, s config.TelemetrySettings, o Options) (*Provider, error) {
	p := &Provider{settings: s}
	if !s.Enabled {
		return p, nil
	}
	ep, err := ParseEndpoint(s.OTLPEndpoint)
	if err != nil {
		return nil, err
	}
	exp, err := ep.exporter(ctx)
	if err != nil {
		return nil, fmt.Errorf("telemetry: OTLP exporter: %w", err)
	}
	res, err := resource.New(ctx,
		resource.WithFromEnv(), // OTEL_RESOURCE_ATTRIBUTES, e.g. the pod's name; the settings win
		resource.WithTelemetrySDK(),
		resource.WithSchemaURL(semconv.SchemaURL),
		resource.WithAttributes(semconv.ServiceName(s.ServiceName), semconv.ServiceVersion(buildinfo.Get().Version)),
	)
	if err != nil && res == nil {
		return nil, fmt.Errorf("telemetry: resource: %w", err)
	}
	p.protocol = ep.Protocol
	p.sdk = sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp), // a bounded queue: spans are dropped, never waited for
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(s.SamplingRate))),
	)
	logx.OrDiscard(o.Logger).Info("exporting traces", slog.String("component", o.Component),
		slog.String("otlp_endpoint", ep.URL.Redacted()), slog.String("protocol", ep.Protocol),
		slog.Float64("sampling_rate", s.SamplingRate), slog.String("service_name", s.ServiceName))
	return p, nil
}

// Enabled reports whether spans are exported.
func (p *Provider) Enabled() bool { return p != nil && p.sdk != nil }

// TracerProvider returns the provider to instrument with, or nil when tracing is off (and no
// instrumentation should be installed).
func (p *Provider) TracerProvider() trace.TracerProvider {
	if !p.Enabled() {
		return nil
	}
	return p.sdk
}

// Protocol is the exporter's protocol (ProtocolGRPC or ProtocolHTTP); "" when tracing is off.
func (p *Provider) Protocol() string {
	if p == nil {
		return ""
	}
	return p.protocol
}

// ForceFlush exports the spans ended so far.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.ForceFlush(ctx)
}

// Shutdown exports the spans still queued, within ctx, and stops the exporter.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.sdk.Shutdown(ctx)
}

// stopTimeout bounds the export of the spans still queued when a program stops.
const stopTimeout = 5 * time.Second

// Stop exports the spans still queued, waiting at most five seconds, stops the exporter and
// logs a failure to log. Programs defer it after New.
func (p *Provider) Stop(log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := p.Shutdown(ctx); err != nil {
		logx.OrDiscard(log).Warn("exporting the last spans", logx.Err(err))
	}
}

// SetGlobal makes p the process's global tracer provider, installs the W3C trace-context and
// baggage propagators globally and routes the SDK's errors (failed exports above all) to log,
// at most one line a minute. A program calls it once, at startup; with tracing off it does
// nothing.
func SetGlobal(p *Provider, log *slog.Logger) {
	if !p.Enabled() {
		return
	}
	otel.SetTracerProvider(p.sdk)
	otel.SetTextMapPropagator(Propagator())
	otel.SetErrorHandler(NewErrorHandler(log, errorLogInterval))
}

// Propagator is the W3C trace-context and baggage propagator every brokkr program uses.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// ErrorHandler logs the SDK's errors, at most one line per interval; the line counts the
// errors left out since the previous one.
type ErrorHandler struct {
	log        *slog.Logger
	interval   time.Duration
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

// NewErrorHandler returns an ErrorHandler writing to log (nil discards).
func NewErrorHandler(log *slog.Logger, interval time.Duration) *ErrorHandler {
	return &ErrorHandler{log: logx.OrDiscard(log), interval: interval}
}

// Handle implements otel.ErrorHandler.
func (h *ErrorHandler) Handle(err error) {
	h.mu.Lock()
	now := time.Now()
	if !h.last.IsZero() && now.Sub(h.last) < h.interval {
		h.suppressed++
		h.mu.Unlock()
		return
	}
	suppressed := h.suppressed
	h.last, h.suppressed = now, 0
	h.mu.Unlock()
	h.log.Warn("trace export failing; spans are dropped", logx.Err(err), slog.Int("suppressed_errors", suppressed))
}

// Endpoint is a parsed telemetry.otlp_endpoint.
type Endpoint struct {
	URL      *url.URL
	Protocol string // ProtocolGRPC or ProtocolHTTP
	HostPort string // where the exporter connects
	Path     string // the URL path of HTTP exports
	Insecure bool   // http://: no TLS
}

// ParseEndpoint reads an OTLP endpoint URL. http:// connects without TLS, https:// with TLS
// verified against the system's roots. The endpoint speaks HTTP/protobuf when its port is
// 4318 or its path ends in /v1/traces (a path of "" or "/" then means /v1/traces), gRPC
// otherwise. Without a port, gRPC uses 4317 (http) or 443 (https), HTTP 4318 or 443. A user
// and password in the URL are sent as basic authentication.
func ParseEndpoint(s string) (Endpoint, error) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return Endpoint{}, errors.New("telemetry: otlp_endpoint must be an http:// or https:// URL with a host")
	}
	ep := Endpoint{URL: u, Protocol: ProtocolGRPC, Insecure: u.Scheme == "http"}
	port := u.Port()
	if port == "4318" || strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/v1/traces") {
		ep.Protocol = ProtocolHTTP
		ep.Path = u.Path
		if ep.Path == "" || ep.Path == "/" {
			ep.Path = "/v1/traces"
		}
	}
	if port == "" {
		switch {
		case !ep.Insecure:
			port = "443"
		case ep.Protocol == ProtocolHTTP:
			port = "4318"
		default:
			port = "4317"
		}
	}
	ep.HostPort = net.JoinHostPort(u.Hostname(), port)
	return ep, nil
}

// headers are the exporter's request headers: basic authentication from the URL's user.
func (ep Endpoint) headers() map[string]string {
	if ep.URL.User == nil {
		return nil
	}
	pw, _ := ep.URL.User.Password()
	creds := base64.StdEncoding.EncodeToString([]byte(ep.URL.User.Username() + ":" + pw))
	return map[string]string{"Authorization": "Basic " + creds}
}

func (ep Endpoint) exporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if ep.Protocol == ProtocolHTTP {
		opts := []otlptracehttp.Option{otlptracehttp.WithEndpoint(ep.HostPort), otlptracehttp.WithURLPath(ep.Path)}
		if ep.Insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		} else {
			opts = append(opts, otlptracehttp.WithTLSClientConfig(tlsConfig))
		}
		if h := ep.headers(); h != nil {
			opts = append(opts, otlptracehttp.WithHeaders(h))
		}
		return otlptracehttp.New(ctx, opts...)
	}
	opts := []otlptracegrpc.Option{otlptracegrpc.WithEndpoint(ep.HostPort)}
	if ep.Insecure {
		opts = append(opts, otlptracegrpc.WithInsecure())
	} else {
		opts = append(opts, otlptracegrpc.WithTLSCredentials(credentials.NewTLS(tlsConfig)))
	}
	if h := ep.headers(); h != nil {
		opts = append(opts, otlptracegrpc.WithHeaders(h))
	}
	return otlptracegrpc.New(ctx, opts...)
}

// WrapTransport returns a wrapper that traces the requests of an HTTP transport with tp: a
// client span per request and the traceparent header, so the server's spans join the
// caller's trace. WebSocket upgrades are passed through untraced: their request lasts as
// long as the socket. The wrapper's shape is client-go's rest.Config.WrapTransport.
func WrapTransport(tp trace.TracerProvider, o TransportOptions) func(http.RoundTripper) http.RoundTripper {
	return func(rt http.RoundTripper) http.RoundTripper {
		return newTransport(rt, tp, o)
	}
}

// HTTPClient returns a copy of hc (a new client when nil) whose transport traces its requests
// with tp, as WrapTransport does, each span named by the request's method alone (paths carry
// ids).
func HTTPClient(hc *http.Client, tp trace.TracerProvider) *http.Client {
	var c http.Client
	if hc != nil {
		c = *hc
	}
	if c.Transport == nil {
		c.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	c.Transport = newTransport(c.Transport, tp, TransportOptions{})
	return &c
}
