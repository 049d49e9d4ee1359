// Package httpserver is the agent's own HTTP server: liveness (/healthz), readiness
// (/readyz), a JSON health report (/health) and Prometheus metrics (/metrics), together
// with the agent's metric collectors.
package httpserver
