package server

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics holds the broker's collectors, registered on a registry of its own.
type metrics struct {
	registry        *prometheus.Registry
	requests        *prometheus.CounterVec
	duration        *prometheus.HistogramVec
	defaultAdminKey prometheus.Gauge
}

// defaultAdminHash is the hash of the reference's public development admin key.
const defaultAdminHash = "4c697273df3d764cba950bb5c04368097685f09259f5bd880d892cf1ff9f4cdd"

func newMetrics(s *Server) *metrics {
	m := &metrics{registry: prometheus.NewRegistry()}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "brokkr_http_requests_total",
		Help: "HTTP requests by route template, method and status.",
	}, []string{"endpoint", "method", "status"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "brokkr_http_request_duration_seconds",
		Help:    "HTTP request latency by route template and method.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
	}, []string{"endpoint", "method"})
	m.defaultAdminKey = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "brokkr_default_admin_pak_hash_in_use",
		Help: "1 when the admin PAK is the publicly known development key.",
	})
	count := func(name, help, query string) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			var n float64
			if err := s.db.GetContext(ctx, &n, query); err != nil {
				return -1
			}
			return n
		})
	}
	m.registry.MustRegister(m.requests, m.duration, m.defaultAdminKey,
		count("brokkr_active_agents", "Live agents whose status is ACTIVE.",
			`SELECT count(*) FROM agents WHERE deleted_at IS NULL AND status = 'ACTIVE'`),
		count("brokkr_stacks_total", "Live stacks.", `SELECT count(*) FROM stacks WHERE deleted_at IS NULL`),
		count("brokkr_deployment_objects_total", "Live deployment objects.",
			`SELECT count(*) FROM deployment_objects WHERE deleted_at IS NULL`),
		newFleetCollector(s),
		collectors.NewDBStatsCollector(s.db.DB.DB, "brokkr"),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// unmatchedEndpoint is the endpoint label of every request no route matched (404).
const unmatchedEndpoint = "unmatched"

// otherMethod is the method label of every request whose method is not a standard one.
const otherMethod = "OTHER"

// methodLabel returns the method label of a request: the standard methods as they are, any
// other token (clients may send any) as OTHER, so that methods cannot grow the label set.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return otherMethod
}

// middleware records request counts and latency by route template. Every label takes
// values from a fixed set, whatever clients send: the endpoint is a route template (or
// "unmatched" when no route matched), the method a standard method or OTHER, the status one
// the broker chose.
func (m *metrics) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		endpoint := c.Path()
		if endpoint == "/metrics" {
			return err
		}
		if endpoint == "" || strings.HasSuffix(endpoint, "/*") { // no route, or a catch-all
			endpoint = unmatchedEndpoint
		}
		status := c.Response().Status
		if err != nil {
			status, _ = errorResponse(err)
		}
		method := methodLabel(c.Request().Method)
		m.requests.WithLabelValues(endpoint, method, strconv.Itoa(status)).Inc()
		m.duration.WithLabelValues(endpoint, method).Observe(time.Since(start).Seconds())
		return err
	}
}

// MetricsRegistry returns the registry the broker's /metrics exposes.
func (s *Server) MetricsRegistry() *prometheus.Registry { return s.metrics.registry }
