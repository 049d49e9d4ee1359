package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/brokkr/brokkr/internal/logx"
)

const (
	// kubeCheckTimeout bounds the Kubernetes API probe of /readyz and /health.
	kubeCheckTimeout = 5 * time.Second
	// shutdownTimeout bounds the graceful stop of the server.
	shutdownTimeout = 5 * time.Second
)

// Status is what the health routes ask of the running agent.
type Status interface {
	// KubeCheck probes the Kubernetes API (GET /version) now; ctx carries a short deadline.
	KubeCheck(ctx context.Context) error
	// BrokerStatus reports whether the last heartbeat reached the broker and when the last
	// successful one was sent (zero when there has been none).
	BrokerStatus() (connected bool, lastHeartbeat time.Time)
}

// Server is the agent's HTTP server for probes and metrics.
type Server struct {
	addr     string
	status   Status
	gatherer prometheus.Gatherer
	version  string
	log      *slog.Logger
	started  time.Time
	handler  http.Handler
}

// New builds the server for addr (host:port). reg is the registry /metrics exposes; nil
// exposes nothing. A nil log discards the server's records.
func New(addr string, st Status, reg prometheus.Gatherer, version string, log *slog.Logger) *Server {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	log = logx.OrDiscard(log)
	s := &Server{addr: addr, status: st, gatherer: reg, version: version, log: log, started: time.Now()}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", s.healthz)
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("GET /health", s.health)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		ErrorHandling: promhttp.ContinueOnError,
	}))
	s.handler = mux
	return s
}

// Handler returns the routes: GET /healthz, /readyz, /health and /metrics. Other methods
// get 405 and other paths 404.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on the server's address and serves until ctx ends, then stops
// gracefully. It returns nil after a graceful stop.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("health server: listen on %s: %w", s.addr, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln until ctx ends, then stops gracefully; ln is closed on return.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	s.log.Info("health server listening", slog.String("addr", ln.Addr().String()))
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("health server: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		return fmt.Errorf("health server: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("health server: %w", err)
	}
	return nil
}

func writeText(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// healthz answers as long as the process serves HTTP.
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "OK")
}

// kubeCheck probes the Kubernetes API with a short deadline.
func (s *Server) kubeCheck(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, kubeCheckTimeout)
	defer cancel()
	return s.status.KubeCheck(ctx)
}

// readyz is ready when both the Kubernetes API and the broker are reachable; otherwise the
// 503 body says which is not.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	kubeErr := s.kubeCheck(r.Context())
	brokerOK, _ := s.status.BrokerStatus()
	var down []string
	if kubeErr != nil {
		down = append(down, "Kubernetes API")
	}
	if !brokerOK {
		down = append(down, "broker")
	}
	if len(down) == 0 {
		writeText(w, http.StatusOK, "Ready")
		return
	}
	writeText(w, http.StatusServiceUnavailable, strings.Join(down, " and ")+" unavailable")
}

// HealthReport is the body of GET /health.
type HealthReport struct {
	Status        string           `json:"status"` // healthy or unhealthy
	Kubernetes    KubernetesHealth `json:"kubernetes"`
	Broker        BrokerHealth     `json:"broker"`
	UptimeSeconds int64            `json:"uptime_seconds"`
	Version       string           `json:"version"`
	Timestamp     string           `json:"timestamp"` // RFC 3339
}

// KubernetesHealth is the Kubernetes part of a HealthReport.
type KubernetesHealth struct {
	Connected bool   `json:"connected"`
	Error     string `json:"error,omitempty"`
}

// BrokerHealth is the broker part of a HealthReport.
type BrokerHealth struct {
	Connected     bool   `json:"connected"`
	LastHeartbeat string `json:"last_heartbeat,omitempty"` // RFC 3339
}

// health reports both connections as JSON; 200 when both are up, else 503.
func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	now := time.Now()
	rep := HealthReport{
		Status:        "healthy",
		UptimeSeconds: int64(now.Sub(s.started) / time.Second),
		Version:       s.version,
		Timestamp:     now.UTC().Format(time.RFC3339),
	}
	if err := s.kubeCheck(r.Context()); err != nil {
		rep.Kubernetes.Error = err.Error()
	} else {
		rep.Kubernetes.Connected = true
	}
	connected, last := s.status.BrokerStatus()
	rep.Broker.Connected = connected
	if !last.IsZero() {
		rep.Broker.LastHeartbeat = last.UTC().Format(time.RFC3339)
	}
	code := http.StatusOK
	if !rep.Kubernetes.Connected || !rep.Broker.Connected {
		rep.Status = "unhealthy"
		code = http.StatusServiceUnavailable
	}
	body, err := json.Marshal(rep)
	if err != nil {
		s.log.Error("encode health report", logx.Err(err))
		writeText(w, http.StatusInternalServerError, "internal error")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
