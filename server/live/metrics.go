package live

import "github.com/prometheus/client_golang/prometheus"

// metrics are the live channels' collectors.
type metrics struct {
	messages *prometheus.CounterVec
	dropped  *prometheus.CounterVec
	revoked  *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, h *Hub) *metrics {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_messages_total",
			Help: "Messages on agent WebSocket connections by direction (in, out) and type.",
		}, []string{"direction", "type"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_dropped_total",
			Help: "Live messages dropped by reason (lane_full, subscriber_lag, fanout_too_large, fanout_queue_full, fanout_error, invalid_frame, foreign_agent, not_associated).",
		}, []string{"reason"}),
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "brokkr_ws_revoked_total",
			Help: "WebSockets closed because their access ended, by reason (credentials, deactivated, stack_access) and by what found it (notice, recheck).",
		}, []string{"reason", "found_by"}),
	}
	// Create the known series up front, so that they are exported at zero before the first
	// drop or revocation.
	for _, reason := range []string{"lane_full", "subscriber_lag", "fanout_too_large", "fanout_queue_full",
		"fanout_error", "invalid_frame", "foreign_agent", "not_associated"} {
		m.dropped.WithLabelValues(reason)
	}
	for _, reason := range []string{"credentials", "deactivated", "stack_access"} {
		for _, foundBy := range []string{"notice", "recheck"} {
			m.revoked.WithLabelValues(reason, foundBy)
		}
	}
	gauge := func(name, help string, f func() int) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 {
			h.mu.Lock()
			defer h.mu.Unlock()
			return float64(f())
		})
	}
	reg.MustRegister(m.messages, m.dropped, m.revoked,
		gauge("brokkr_ws_connected_agents", "Agents connected to this replica's WebSocket channel.",
			func() int { return len(h.agents) }),
		gauge("brokkr_ws_live_subscribers", "Stack live-tail subscribers on this replica.",
			h.stackSubscribersLocked),
		gauge("brokkr_fleet_live_subscribers", "Fleet live subscribers on this replica.",
			func() int { return len(h.fleet) }),
	)
	return m
}

// stackSubscribersLocked counts stack subscribers; h.mu must be held.
func (h *Hub) stackSubscribersLocked() int {
	n := 0
	for _, subs := range h.stacks {
		n += len(subs)
	}
	return n
}
