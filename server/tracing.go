package server

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/internal/tracing"
)

// traceRequests returns the middleware that makes a server span of every request, joined to
// the caller's trace when it sent a traceparent header. Spans are named by method and route
// template ("GET /api/v1/agents/:id"), so their names stay few; unmatched paths share one
// name. WebSocket channels (their request lasts as long as the socket) and the probes and
// scrapes of /healthz, /readyz and /metrics are not traced.
// Without a tracer provider the middleware is a pass-through.
func (s *Server) traceRequests() echo.MiddlewareFunc {
	if s.tracerProvider == nil {
		return func(next echo.HandlerFunc) echo.HandlerFunc { return next }
	}
	tracer := s.tracerProvider.Tracer("github.com/brokkr/brokkr/server")
	prop := tracing.Propagator()
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			route := c.Path()
			if tracing.IsWebSocketUpgrade(req) || untracedRoutes[route] {
				return next(c)
			}
			if route == "" || strings.HasSuffix(route, "/*") {
				route = unmatchedEndpoint
			}
			method := methodLabel(req.Method)
			if method == otherMethod {
				method = "HTTP"
			}
			ctx := prop.Extract(req.Context(), propagation.HeaderCarrier(req.Header))
			ctx, span := tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(
					semconv.HTTPRequestMethodKey.String(method),
					semconv.HTTPRoute(route),
					semconv.URLPath(req.URL.Path),
					semconv.URLScheme(scheme(req)),
					semconv.ClientAddress(c.RealIP()),
					semconv.UserAgentOriginal(req.UserAgent()),
					attribute.String("brokkr.request_id", requestID(c)),
				))
			defer span.End()
			c.SetRequest(req.WithContext(ctx))
			err := next(c)
			status := c.Response().Status
			if err != nil {
				status, _ = errorResponse(err)
			}
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= http.StatusInternalServerError {
				span.SetStatus(codes.Error, http.StatusText(status))
				if err != nil {
					span.RecordError(err)
				}
			}
			return err
		}
	}
}

// untracedRoutes are asked every few seconds by probes and scrapers.
var untracedRoutes = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}
