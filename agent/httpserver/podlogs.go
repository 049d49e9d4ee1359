package httpserver

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Reasons of brokkr_agent_pod_log_lines_dropped_total{reason}: the log_gap reasons. Any
// other reason is counted as "other" so that the label set stays bounded.
var podLogDropReasons = []string{"rate_limit", "buffer_full", "disconnected"}

// PodLogMetrics holds the collectors of pod log streaming. Every method is safe on a nil
// *PodLogMetrics, which records nothing.
type PodLogMetrics struct {
	sent      prometheus.Counter
	dropped   *prometheus.CounterVec
	cut       prometheus.Counter
	followers prometheus.Gauge
	waiting   prometheus.Gauge
}

// PodLogs returns the collectors of pod log streaming (nil on a nil *Metrics).
func (m *Metrics) PodLogs() *PodLogMetrics {
	if m == nil {
		return nil
	}
	return m.podLogs
}

// newPodLogMetrics creates the pod log streaming collectors and registers them on reg.
func newPodLogMetrics(reg prometheus.Registerer) *PodLogMetrics {
	m := &PodLogMetrics{
		sent: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_agent_pod_log_lines_sent_total",
			Help: "Pod log lines handed to the WebSocket uplink.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_agent_pod_log_lines_dropped_total",
			Help: "Pod log lines not sent, by reason (rate_limit, buffer_full, disconnected); each run of them is reported in a log_gap frame.",
		}, []string{"reason"}),
		cut: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "brokkr_agent_pod_log_lines_cut_total",
			Help: "Pod log lines longer than 16 KiB, sent cut.",
		}),
		followers: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_pod_log_followers",
			Help: "Containers whose log is being followed (one log stream each).",
		}),
		waiting: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "brokkr_agent_pod_log_pods_waiting",
			Help: "Pods that opted in to log streaming with containers waiting for a free follower.",
		}),
	}
	reg.MustRegister(m.sent, m.dropped, m.cut, m.followers, m.waiting)
	for _, r := range append(slices.Clone(podLogDropReasons), "other") {
		m.dropped.WithLabelValues(r)
	}
	return m
}

// LogLinesSent adds n lines handed to the uplink.
func (m *PodLogMetrics) LogLinesSent(n int) {
	if m == nil || n <= 0 {
		return
	}
	m.sent.Add(float64(n))
}

// LogLinesDropped adds n lines dropped for reason.
func (m *PodLogMetrics) LogLinesDropped(reason string, n int) {
	if m == nil || n <= 0 {
		return
	}
	if !slices.Contains(podLogDropReasons, reason) {
		reason = "other"
	}
	m.dropped.WithLabelValues(reason).Add(float64(n))
}

// LogLineCut counts a line sent cut.
func (m *PodLogMetrics) LogLineCut() {
	if m == nil {
		return
	}
	m.cut.Inc()
}

// LogFollowers sets how many containers are followed and how many pods wait for a place.
func (m *PodLogMetrics) LogFollowers(active, waiting int) {
	if m == nil {
		return
	}
	m.followers.Set(float64(active))
	m.waiting.Set(float64(waiting))
}
