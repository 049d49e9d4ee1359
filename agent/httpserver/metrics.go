package httpserver

import (
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Label values of brokkr_agent_objects_applied_total{result}.
const (
	ResultApplied   = "applied"
	ResultUnchanged = "unchanged"
	ResultFailed    = "failed"
)

// Outcomes of target-state requests, the status label of brokkr_agent_poll_requests_total.
const (
	PollSuccess     = "success"
	PollNotModified = "not_modified"
	PollError       = "error"
)

// Kubernetes operation names used as brokkr_agent_kubernetes_operations_total{operation}.
const (
	OpApply  = "apply"
	OpDelete = "delete"
	OpList   = "list"
	OpGet    = "get"
)

// Work types counted separately; any other work type is counted as "other" so that the
// label set stays bounded.
var knownWorkTypes = []string{"build", "custom"}

const otherWorkType = "other"

// Frame types counted separately by the telemetry metrics; any other type is counted as
// "other".
var knownFrameTypes = []string{"k8s_event", "pod_log_line", "log_gap"}

const otherFrameType = "other"

func frameType(t string) string {
	if slices.Contains(knownFrameTypes, t) {
		return t
	}
	return otherFrameType
}

// Metrics holds the agent's Prometheus collectors. Its methods are the hooks the control
// loop calls; every method is safe on a nil *Metrics, which records nothing.
type Metrics struct {
	pollRequests      *prometheus.CounterVec
	pollDuration      prometheus.Histogram
	kubeOps           *prometheus.CounterVec
	kubeOpDuration    *prometheus.HistogramVec
	heartbeats        prometheus.Counter
	lastSuccessful    prometheus.Gauge
	applyDuration     prometheus.Histogram
	objectsApplied    *prometheus.CounterVec
	objectsPruned     prometheus.Counter
	managedObjects    prometheus.Gauge
	deploymentObjects prometheus.Gauge
	workOrders        *prometheus.CounterVec
	webhookDeliveries *prometheus.CounterVec
	diagnostics       *prometheus.CounterVec
	brokerUp          prometheus.Gauge
	kubernetesUp      prometheus.Gauge
	telemetrySent     *prometheus.CounterVec
	telemetryDropped  *prometheus.CounterVec
	podLogs           *PodLogMetrics
}

// NewRegistry returns a registry holding the Go runtime and process collectors, ready for
// NewMetrics.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// NewMetrics creates the agent's collectors and registers them on reg. Registering twice
// on the same registry panics, as prometheus.MustRegister does.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		pollRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_poll_requests_total",
			Help: "Target-state requests to the broker by outcome (success, not_modified, error).",
		}, []string{"status"}),
		pollDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "brokkr_agent_poll_duration_seconds",
			Help:    "Duration of target-state requests to the broker.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}),
		kubeOps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_kubernetes_operations_total",
			Help: "Kubernetes API operations by kind of operation.",
		}, []string{"operation"}),
		kubeOpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "brokkr_agent_kubernetes_operation_duration_seconds",
			Help:    "Duration of Kubernetes API operations by kind of operation.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10},
		}, []string{"operation"}),
		heartbeats: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_agent_heartbeat_sent_total",
			Help: "Heartbeats the broker accepted.",
		}),
		lastSuccessful: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_last_successful_poll_timestamp",
			Help: "Unix time of the last heartbeat the broker accepted.",
		}),
		applyDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "brokkr_agent_apply_duration_seconds",
			Help:    "Duration of the apply phase of one reconcile.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
		}),
		objectsApplied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_objects_applied_total",
			Help: "Kubernetes objects handled by reconcile, by result (applied, unchanged, failed).",
		}, []string{"result"}),
		objectsPruned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_agent_objects_pruned_total",
			Help: "Owned Kubernetes objects deleted because they left the target state.",
		}),
		managedObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_managed_objects",
			Help: "Kubernetes objects currently owned by this agent.",
		}),
		deploymentObjects: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_deployment_objects",
			Help: "Deployment objects in the agent's current target state.",
		}),
		workOrders: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_work_orders_total",
			Help: "Work orders processed, by work type and result (success, failure).",
		}, []string{"work_type", "result"}),
		webhookDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_webhook_deliveries_total",
			Help: "Webhook deliveries attempted on the broker's behalf, by result (success, failure).",
		}, []string{"result"}),
		diagnostics: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_diagnostics_total",
			Help: "Diagnostic requests handled, by result (success, failure).",
		}, []string{"result"}),
		brokerUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_broker_up",
			Help: "1 when the last heartbeat reached the broker, else 0.",
		}),
		kubernetesUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_kubernetes_up",
			Help: "1 when the last Kubernetes API probe succeeded, else 0.",
		}),
		telemetrySent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_telemetry_frames_sent_total",
			Help: "Telemetry frames written to the WebSocket channel, by frame type.",
		}, []string{"type"}),
		telemetryDropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_telemetry_frames_dropped_total",
			Help: "Telemetry frames dropped before reaching the broker (outbound queue full, or a send failed twice), by frame type.",
		}, []string{"type"}),
	}
	reg.MustRegister(
		m.pollRequests, m.pollDuration, m.kubeOps, m.kubeOpDuration, m.heartbeats,
		m.lastSuccessful, m.applyDuration, m.objectsApplied, m.objectsPruned,
		m.managedObjects, m.deploymentObjects, m.workOrders, m.webhookDeliveries,
		m.diagnostics, m.brokerUp, m.kubernetesUp, m.telemetrySent, m.telemetryDropped,
	)
	// Create the known series up front so that they are exported, at zero, before the
	// first event: rate() and absent() then behave from the start.
	for _, s := range []string{PollSuccess, PollNotModified, PollError} {
		m.pollRequests.WithLabelValues(s)
	}
	for _, op := range []string{OpApply, OpDelete, OpList, OpGet} {
		m.kubeOps.WithLabelValues(op)
		m.kubeOpDuration.WithLabelValues(op)
	}
	for _, r := range []string{ResultApplied, ResultUnchanged, ResultFailed} {
		m.objectsApplied.WithLabelValues(r)
	}
	for _, wt := range append(slices.Clone(knownWorkTypes), otherWorkType) {
		for _, r := range []string{"success", "failure"} {
			m.workOrders.WithLabelValues(wt, r)
		}
	}
	for _, r := range []string{"success", "failure"} {
		m.webhookDeliveries.WithLabelValues(r)
		m.diagnostics.WithLabelValues(r)
	}
	for _, t := range append(slices.Clone(knownFrameTypes), otherFrameType) {
		m.telemetrySent.WithLabelValues(t)
		m.telemetryDropped.WithLabelValues(t)
	}
	m.podLogs = newPodLogMetrics(reg)
	return m
}

func outcome(success bool) string {
	if success {
		return "success"
	}
	return "failure"
}

func up(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// ObservePoll records one target-state request: its duration and whether it failed.
func (m *Metrics) ObservePoll(d time.Duration, err error) {
	status := PollSuccess
	if err != nil {
		status = PollError
	}
	m.observePoll(d, status)
}

// ObservePollNotModified records one target-state request the broker answered with 304 Not
// Modified (the target state had not changed; no body came).
func (m *Metrics) ObservePollNotModified(d time.Duration) { m.observePoll(d, PollNotModified) }

func (m *Metrics) observePoll(d time.Duration, status string) {
	if m == nil {
		return
	}
	m.pollRequests.WithLabelValues(status).Inc()
	m.pollDuration.Observe(d.Seconds())
}

// ObserveKubeOp records one Kubernetes API operation (OpApply, OpDelete, ...) and its
// duration.
func (m *Metrics) ObserveKubeOp(op string, d time.Duration) {
	if m == nil {
		return
	}
	m.kubeOps.WithLabelValues(op).Inc()
	m.kubeOpDuration.WithLabelValues(op).Observe(d.Seconds())
}

// HeartbeatSent records a heartbeat the broker accepted and sets
// brokkr_agent_last_successful_poll_timestamp to now.
func (m *Metrics) HeartbeatSent() {
	if m == nil {
		return
	}
	m.heartbeats.Inc()
	m.lastSuccessful.SetToCurrentTime()
}

// ObserveApply records the duration of one reconcile's apply phase.
func (m *Metrics) ObserveApply(d time.Duration) {
	if m == nil {
		return
	}
	m.applyDuration.Observe(d.Seconds())
}

// ObjectsApplied adds n objects with the given result (ResultApplied, ResultUnchanged or
// ResultFailed).
func (m *Metrics) ObjectsApplied(result string, n int) {
	if m == nil || n <= 0 {
		return
	}
	m.objectsApplied.WithLabelValues(result).Add(float64(n))
}

// ObjectsPruned adds n deleted objects.
func (m *Metrics) ObjectsPruned(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.objectsPruned.Add(float64(n))
}

// SetManagedObjects sets how many Kubernetes objects the agent currently owns.
func (m *Metrics) SetManagedObjects(n int) {
	if m == nil {
		return
	}
	m.managedObjects.Set(float64(n))
}

// SetDeploymentObjects sets how many deployment objects the target state holds.
func (m *Metrics) SetDeploymentObjects(n int) {
	if m == nil {
		return
	}
	m.deploymentObjects.Set(float64(n))
}

// WorkOrderDone records a processed work order. Work types other than build and custom are
// counted as "other".
func (m *Metrics) WorkOrderDone(workType string, success bool) {
	if m == nil {
		return
	}
	wt := otherWorkType
	if slices.Contains(knownWorkTypes, workType) {
		wt = workType
	}
	m.workOrders.WithLabelValues(wt, outcome(success)).Inc()
}

// WebhookDelivered records one webhook delivery attempt.
func (m *Metrics) WebhookDelivered(success bool) {
	if m == nil {
		return
	}
	m.webhookDeliveries.WithLabelValues(outcome(success)).Inc()
}

// DiagnosticsDone records one handled diagnostic request.
func (m *Metrics) DiagnosticsDone(success bool) {
	if m == nil {
		return
	}
	m.diagnostics.WithLabelValues(outcome(success)).Inc()
}

// SetBrokerUp records whether the broker answered the last heartbeat.
func (m *Metrics) SetBrokerUp(ok bool) {
	if m == nil {
		return
	}
	m.brokerUp.Set(up(ok))
}

// SetKubernetesUp records whether the last Kubernetes API probe succeeded.
func (m *Metrics) SetKubernetesUp(ok bool) {
	if m == nil {
		return
	}
	m.kubernetesUp.Set(up(ok))
}

// TelemetrySent records a telemetry frame written to the WebSocket channel. Frame types
// other than k8s_event, pod_log_line and log_gap are counted as "other".
func (m *Metrics) TelemetrySent(typ string) {
	if m == nil {
		return
	}
	m.telemetrySent.WithLabelValues(frameType(typ)).Inc()
}

// TelemetryDropped records a telemetry frame dropped before it reached the channel.
func (m *Metrics) TelemetryDropped(typ string) {
	if m == nil {
		return
	}
	m.telemetryDropped.WithLabelValues(frameType(typ)).Inc()
}
