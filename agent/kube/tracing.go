package kube

import (
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/rest"

	"github.com/brokkr/brokkr/internal/tracing"
)

// Traced returns a copy of cfg whose requests made within a traced operation (a recording
// span in the request's context, such as a reconcile pass) are traced with tp: a client
// span per request to the Kubernetes API, named by method and resource ("PATCH
// configmaps", "GET namespaces/status"), never by object names. Requests outside one
// (watches, health probes) are not traced.
func Traced(cfg *rest.Config, tp trace.TracerProvider) *rest.Config {
	cfg = rest.CopyConfig(cfg)
	cfg.Wrap(tracing.WrapTransport(tp, tracing.TransportOptions{ParentOnly: true,
		Name: func(r *http.Request) string { return RequestSpanName(r.Method, r.URL.Path) }}))
	return cfg
}

// RequestSpanName names a Kubernetes API request by its method and resource: the resource
// (and subresource) of /api/v1/... and /apis/<group>/<version>/... paths, namespaces left
// out; other paths (/version, discovery) by their first segment.
func RequestSpanName(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	var rest []string
	switch {
	case len(parts) >= 2 && parts[0] == "api":
		rest = parts[2:]
	case len(parts) >= 3 && parts[0] == "apis":
		rest = parts[3:]
	default:
		return method + " /" + parts[0]
	}
	// namespaces/<ns>/<resource>/... names a namespaced resource; namespaces/<ns> and its
	// subresources (status, finalize) are the namespace itself.
	if len(rest) >= 3 && rest[0] == "namespaces" && rest[2] != "status" && rest[2] != "finalize" {
		rest = rest[2:]
	}
	switch len(rest) {
	case 0:
		return method + " discovery"
	case 1, 2:
		return method + " " + rest[0]
	default:
		return method + " " + rest[0] + "/" + rest[2]
	}
}
