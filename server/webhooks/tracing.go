package webhooks

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/brokkr/brokkr/db"
)

// tracerOf returns tp's tracer for webhook deliveries; a no-op one when tp is nil.
func tracerOf(tp trace.TracerProvider) trace.Tracer {
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return tp.Tracer("github.com/brokkr/brokkr/server/webhooks")
}

// startDelivery begins the span of one delivery attempt by the broker. Recording its outcome
// (a statement of its own) makes that statement a child of the span.
func (w *Service) startDelivery(ctx context.Context, d db.ClaimedWebhookDelivery) (context.Context, trace.Span) {
	return w.tracer.Start(ctx, "webhook delivery", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("brokkr.webhook.subscription_id", d.SubscriptionID.String()),
		attribute.String("brokkr.webhook.delivery_id", d.ID.String()),
		attribute.String("brokkr.webhook.event_type", d.EventType),
		attribute.Int("brokkr.webhook.attempt", int(d.Attempts)+1),
		semconv.HTTPRequestMethodPost,
	))
}

// traceOutcome records an attempt's outcome on its span: success, failed (to be retried) or
// dead, and the HTTP status when one came back.
func traceOutcome(span trace.Span, o outcome) {
	result := "success"
	switch {
	case o.success:
	case o.retryable:
		result = "failed"
	default:
		result = "dead"
	}
	span.SetAttributes(attribute.String("brokkr.webhook.outcome", result))
	if o.status != 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(o.status))
	}
	if !o.success {
		span.SetStatus(codes.Error, o.message)
	}
}
