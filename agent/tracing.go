package agent

import (
	"net/http"

	"go.opentelemetry.io/otel/trace"

	"github.com/brokkr/brokkr/internal/tracing"
)

// brokerHTTPClient is the HTTP client of the agent's broker requests: Options.HTTPClient,
// traced when the agent has a tracer provider (nil: the client's default).
func brokerHTTPClient(opts Options) *http.Client {
	if opts.TracerProvider == nil {
		return opts.HTTPClient
	}
	return tracing.HTTPClient(opts.HTTPClient, opts.TracerProvider)
}

// tracer is the tracer of the agent's own spans (nil without a tracer provider).
func (a *Agent) tracer() trace.Tracer {
	if a.opts.TracerProvider == nil {
		return nil
	}
	return a.opts.TracerProvider.Tracer("github.com/brokkr/brokkr/agent")
}
