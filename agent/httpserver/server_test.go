package httpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// agentStatus is a Status whose answers the test sets.
type agentStatus struct {
	mu            sync.Mutex
	kubeErr       error
	brokerUp      bool
	lastHeartbeat time.Time
	deadlines     []time.Duration // time left on each KubeCheck context
}

func (a *agentStatus) KubeCheck(ctx context.Context) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if d, ok := ctx.Deadline(); ok {
		a.deadlines = append(a.deadlines, time.Until(d))
	} else {
		a.deadlines = append(a.deadlines, -1)
	}
	return a.kubeErr
}

func (a *agentStatus) BrokerStatus() (bool, time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.brokerUp, a.lastHeartbeat
}

func get(t *testing.T, h http.Handler, method, path string) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec
}

func TestHealthz(t *testing.T) {
	// Liveness does not depend on either connection.
	s := New(":0", &agentStatus{kubeErr: errors.New("down")}, nil, "1.0.0", nil)
	rec := get(t, s.Handler(), http.MethodGet, "/healthz")
	if rec.Code != http.StatusOK || rec.Body.String() != "OK" {
		t.Fatalf("GET /healthz = %d %q", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type = %q", ct)
	}
}

func TestReadyz(t *testing.T) {
	tests := []struct {
		name     string
		kubeErr  error
		brokerUp bool
		code     int
		body     string
	}{
		{"both up", nil, true, http.StatusOK, "Ready"},
		{"kube down", errors.New("connection refused"), true, http.StatusServiceUnavailable, "Kubernetes API unavailable"},
		{"broker down", nil, false, http.StatusServiceUnavailable, "broker unavailable"},
		{"both down", errors.New("x"), false, http.StatusServiceUnavailable, "Kubernetes API and broker unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &agentStatus{kubeErr: tt.kubeErr, brokerUp: tt.brokerUp}
			rec := get(t, New(":0", st, nil, "1.0.0", nil).Handler(), http.MethodGet, "/readyz")
			if rec.Code != tt.code || rec.Body.String() != tt.body {
				t.Fatalf("GET /readyz = %d %q, want %d %q", rec.Code, rec.Body, tt.code, tt.body)
			}
			// The Kubernetes API is probed afresh, with a short deadline.
			if len(st.deadlines) != 1 || st.deadlines[0] <= 0 || st.deadlines[0] > kubeCheckTimeout {
				t.Errorf("KubeCheck deadlines = %v", st.deadlines)
			}
		})
	}
}

func TestHealth(t *testing.T) {
	beat := time.Date(2026, 3, 1, 12, 30, 0, 0, time.FixedZone("CET", 3600))
	tests := []struct {
		name   string
		status *agentStatus
		code   int
		want   func(t *testing.T, rep map[string]any)
	}{
		{
			name:   "healthy",
			status: &agentStatus{brokerUp: true, lastHeartbeat: beat},
			code:   http.StatusOK,
			want: func(t *testing.T, rep map[string]any) {
				if rep["status"] != "healthy" {
					t.Errorf("status = %v", rep["status"])
				}
				if k := rep["kubernetes"].(map[string]any); k["connected"] != true || k["error"] != nil {
					t.Errorf("kubernetes = %v", k)
				}
				if b := rep["broker"].(map[string]any); b["connected"] != true || b["last_heartbeat"] != "2026-03-01T11:30:00Z" {
					t.Errorf("broker = %v", b)
				}
			},
		},
		{
			name:   "kube down, no heartbeat yet",
			status: &agentStatus{kubeErr: errors.New("Get \"https://10.0.0.1/version\": dial tcp: connection refused"), brokerUp: true},
			code:   http.StatusServiceUnavailable,
			want: func(t *testing.T, rep map[string]any) {
				if rep["status"] != "unhealthy" {
					t.Errorf("status = %v", rep["status"])
				}
				k := rep["kubernetes"].(map[string]any)
				if k["connected"] != false || !strings.Contains(fmt.Sprint(k["error"]), "connection refused") {
					t.Errorf("kubernetes = %v", k)
				}
				b := rep["broker"].(map[string]any)
				if _, ok := b["last_heartbeat"]; ok || b["connected"] != true {
					t.Errorf("broker = %v (no heartbeat yet: last_heartbeat must be absent)", b)
				}
			},
		},
		{
			name:   "broker down",
			status: &agentStatus{brokerUp: false, lastHeartbeat: beat},
			code:   http.StatusServiceUnavailable,
			want: func(t *testing.T, rep map[string]any) {
				if rep["status"] != "unhealthy" {
					t.Errorf("status = %v", rep["status"])
				}
				if b := rep["broker"].(map[string]any); b["connected"] != false || b["last_heartbeat"] != "2026-03-01T11:30:00Z" {
					t.Errorf("broker = %v", b)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(":0", tt.status, nil, "1.2.3", nil)
			s.started = time.Now().Add(-90 * time.Second)
			rec := get(t, s.Handler(), http.MethodGet, "/health")
			if rec.Code != tt.code {
				t.Fatalf("GET /health = %d, want %d: %s", rec.Code, tt.code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var rep map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &rep); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if rep["version"] != "1.2.3" {
				t.Errorf("version = %v", rep["version"])
			}
			if up, ok := rep["uptime_seconds"].(float64); !ok || up < 90 || up > 95 || up != float64(int64(up)) {
				t.Errorf("uptime_seconds = %v", rep["uptime_seconds"])
			}
			ts, err := time.Parse(time.RFC3339, fmt.Sprint(rep["timestamp"]))
			if err != nil || time.Since(ts) > time.Minute {
				t.Errorf("timestamp = %v (%v)", rep["timestamp"], err)
			}
			tt.want(t, rep)
			if len(tt.status.deadlines) != 1 || tt.status.deadlines[0] <= 0 {
				t.Errorf("KubeCheck deadlines = %v", tt.status.deadlines)
			}
		})
	}
}

func TestRoutingErrors(t *testing.T) {
	h := New(":0", &agentStatus{brokerUp: true}, NewRegistry(), "1.0.0", nil).Handler()
	for _, path := range []string{"/healthz", "/readyz", "/health", "/metrics"} {
		for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
			rec := get(t, h, method, path)
			if rec.Code != http.StatusMethodNotAllowed {
				t.Errorf("%s %s = %d, want 405", method, path, rec.Code)
			}
			if allow := rec.Header().Get("Allow"); !strings.Contains(allow, "GET") {
				t.Errorf("%s %s: Allow = %q", method, path, allow)
			}
		}
	}
	for _, path := range []string{"/", "/healthz/", "/ready", "/api/v1/health", "/metrics/x"} {
		if rec := get(t, h, http.MethodGet, path); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, rec.Code)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	reg := NewRegistry()
	m := NewMetrics(reg)
	m.ObservePoll(120*time.Millisecond, nil)
	m.ObservePoll(2*time.Second, errors.New("broker unavailable"))
	m.ObserveKubeOp(OpApply, 30*time.Millisecond)
	m.ObserveKubeOp(OpApply, 40*time.Millisecond)
	m.HeartbeatSent()
	m.ObserveApply(800 * time.Millisecond)
	m.ObjectsApplied(ResultApplied, 3)
	m.ObjectsApplied(ResultUnchanged, 5)
	m.ObjectsApplied(ResultFailed, 0)
	m.ObjectsPruned(2)
	m.SetManagedObjects(7)
	m.SetDeploymentObjects(4)
	m.WorkOrderDone("custom", true)
	m.WorkOrderDone("mystery", false)
	m.WebhookDelivered(true)
	m.WebhookDelivered(false)
	m.WebhookDelivered(false)
	m.DiagnosticsDone(true)
	m.SetBrokerUp(true)
	m.SetKubernetesUp(false)

	rec := get(t, New(":0", &agentStatus{}, reg, "1.0.0", nil).Handler(), http.MethodGet, "/metrics")
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q", ct)
	}
	body := rec.Body.String()
	for _, line := range []string{
		`brokkr_agent_poll_requests_total{status="success"} 1`,
		`brokkr_agent_poll_requests_total{status="error"} 1`,
		`brokkr_agent_poll_duration_seconds_bucket{le="0.25"} 1`,
		`brokkr_agent_poll_duration_seconds_bucket{le="30"} 2`,
		`brokkr_agent_poll_duration_seconds_count 2`,
		`brokkr_agent_kubernetes_operations_total{operation="apply"} 2`,
		`brokkr_agent_kubernetes_operations_total{operation="delete"} 0`,
		`brokkr_agent_kubernetes_operation_duration_seconds_bucket{operation="apply",le="0.05"} 2`,
		`brokkr_agent_kubernetes_operation_duration_seconds_bucket{operation="apply",le="10"} 2`,
		`brokkr_agent_heartbeat_sent_total 1`,
		`brokkr_agent_apply_duration_seconds_count 1`,
		`brokkr_agent_objects_applied_total{result="applied"} 3`,
		`brokkr_agent_objects_applied_total{result="unchanged"} 5`,
		`brokkr_agent_objects_applied_total{result="failed"} 0`,
		`brokkr_agent_objects_pruned_total 2`,
		`brokkr_agent_managed_objects 7`,
		`brokkr_agent_deployment_objects 4`,
		`brokkr_agent_work_orders_total{result="success",work_type="custom"} 1`,
		`brokkr_agent_work_orders_total{result="failure",work_type="other"} 1`,
		`brokkr_agent_work_orders_total{result="success",work_type="build"} 0`,
		`brokkr_agent_webhook_deliveries_total{result="success"} 1`,
		`brokkr_agent_webhook_deliveries_total{result="failure"} 2`,
		`brokkr_agent_diagnostics_total{result="success"} 1`,
		`brokkr_agent_diagnostics_total{result="failure"} 0`,
		`brokkr_agent_broker_up 1`,
		`brokkr_agent_kubernetes_up 0`,
		`# TYPE brokkr_agent_last_successful_poll_timestamp gauge`,
		`# TYPE go_goroutines gauge`,
		`# TYPE process_cpu_seconds_total counter`,
	} {
		if !strings.Contains(body, line+"\n") {
			t.Errorf("/metrics lacks %q", line)
		}
	}
	// The poll buckets are exactly the documented ones.
	for _, le := range []string{"0.01", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "+Inf"} {
		if !strings.Contains(body, `brokkr_agent_poll_duration_seconds_bucket{le="`+le+`"}`) {
			t.Errorf("poll histogram lacks bucket %s", le)
		}
	}
	if strings.Contains(body, `brokkr_agent_kubernetes_operation_duration_seconds_bucket{operation="apply",le="30"}`) {
		t.Error("kubernetes operation histogram has a 30 s bucket")
	}
	var ts float64
	for line := range strings.Lines(body) {
		if v, ok := strings.CutPrefix(line, "brokkr_agent_last_successful_poll_timestamp "); ok {
			if _, err := fmt.Sscan(v, &ts); err != nil {
				t.Fatal(err)
			}
		}
	}
	if now := float64(time.Now().Unix()); ts < now-60 || ts > now+1 {
		t.Errorf("last successful poll timestamp = %v, want about %v", ts, now)
	}
}

func TestNilMetricsRecordNothing(t *testing.T) {
	var m *Metrics
	m.ObservePoll(time.Second, nil)
	m.ObservePollNotModified(time.Second)
	m.ObserveKubeOp(OpApply, time.Second)
	m.HeartbeatSent()
	m.ObserveApply(time.Second)
	m.ObjectsApplied(ResultApplied, 1)
	m.ObjectsPruned(1)
	m.SetManagedObjects(1)
	m.SetDeploymentObjects(1)
	m.WorkOrderDone("build", true)
	m.WebhookDelivered(true)
	m.DiagnosticsDone(false)
	m.SetBrokerUp(true)
	m.SetKubernetesUp(true)
}

func TestNewMetricsTwiceOnOneRegistryPanics(t *testing.T) {
	reg := NewRegistry()
	NewMetrics(reg)
	defer func() {
		if recover() == nil {
			t.Error("registering the agent metrics twice did not panic")
		}
	}()
	NewMetrics(reg)
}

func TestListenAndServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := New(ln.Addr().String(), &agentStatus{brokerUp: true}, NewRegistry(), "1.0.0", nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()

	res, err := http.Get("http://" + ln.Addr().String() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || string(body) != "Ready" {
		t.Fatalf("GET /readyz over TCP = %d %q", res.StatusCode, body)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not stop when its context ended")
	}
	if _, err := http.Get("http://" + ln.Addr().String() + "/healthz"); err == nil {
		t.Error("server still answers after stopping")
	}

	// ListenAndServe reports an address it cannot listen on.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = New(busy.Addr().String(), &agentStatus{}, nil, "", nil).ListenAndServe(context.Background())
	if err == nil || !strings.Contains(err.Error(), "listen on "+busy.Addr().String()) {
		t.Errorf("ListenAndServe on a busy port = %v", err)
	}

	// ListenAndServe stops when its context ends.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := New("127.0.0.1:0", &agentStatus{}, nil, "", nil).ListenAndServe(ctx2); err != nil {
		t.Errorf("ListenAndServe after its context ended = %v", err)
	}
}
