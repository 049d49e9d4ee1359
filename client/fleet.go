package client

import (
	"time"

	"github.com/google/uuid"
)

// FleetAgentRecord is one agent's fleet record: measured signals only, no verdicts.
// Time-relative fields are computed when the record is built and are never negative.
type FleetAgentRecord struct {
	AgentID               uuid.UUID  `json:"agent_id"`
	Name                  string     `json:"name"`
	ClusterName           string     `json:"cluster_name"`
	Status                string     `json:"status"`
	WSConnected           bool       `json:"ws_connected"`
	ConnectedSince        *time.Time `json:"connected_since"`
	LastHeartbeat         *time.Time `json:"last_heartbeat"`
	HeartbeatAgeSeconds   *int64     `json:"heartbeat_age_seconds"`
	PendingObjectCount    int64      `json:"pending_object_count"`
	PendingWorkOrders     int64      `json:"pending_work_orders"`
	ClaimedWorkOrders     int64      `json:"claimed_work_orders"`
	LastEventAt           *time.Time `json:"last_event_at"`
	SecondsSinceLastEvent *int64     `json:"seconds_since_last_event"`
	HealthFailing         int64      `json:"health_failing"`
	HealthDegraded        int64      `json:"health_degraded"`
	K8sReachable          *bool      `json:"k8s_reachable"`
	K8sAPILatencyMs       *int64     `json:"k8s_api_latency_ms"`
}

// AgentFleetStatus is the body of GET /agents/{id}/fleet-status.
type AgentFleetStatus struct {
	Record       FleetAgentRecord `json:"record"`
	RecentEvents []AgentEvent     `json:"recent_events"`
}

// K8sObjectRef names the Kubernetes object an event is about.
type K8sObjectRef struct {
	APIVersion string  `json:"api_version"`
	Kind       string  `json:"kind"`
	Namespace  *string `json:"namespace"`
	Name       string  `json:"name"`
	UID        *string `json:"uid"`
}

// AgentK8sEvent is a stored Kubernetes event an agent forwarded for a stack.
type AgentK8sEvent struct {
	ID             uuid.UUID    `json:"id"`
	AgentID        uuid.UUID    `json:"agent_id"`
	StackID        uuid.UUID    `json:"stack_id"`
	ObservedAt     time.Time    `json:"observed_at"`
	Reason         string       `json:"reason"`
	Message        string       `json:"message"`
	EventType      string       `json:"event_type"`
	Source         *string      `json:"source"`
	InvolvedObject K8sObjectRef `json:"involved_object"`
	CreatedAt      time.Time    `json:"created_at"`
}

// AgentPodLog is a stored pod log line an agent forwarded for a stack.
type AgentPodLog struct {
	ID        uuid.UUID `json:"id"`
	AgentID   uuid.UUID `json:"agent_id"`
	StackID   uuid.UUID `json:"stack_id"`
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	Container string    `json:"container"`
	TS        time.Time `json:"ts"`
	Line      string    `json:"line"`
	CreatedAt time.Time `json:"created_at"`
}

// RetentionInfo describes how much telemetry the broker keeps.
type RetentionInfo struct {
	RetentionCeilingSeconds   int64      `json:"retention_ceiling_seconds"`
	EffectiveRetentionSeconds int64      `json:"effective_retention_seconds"`
	OldestAvailableTS         *time.Time `json:"oldest_available_ts"`
	LongTermSinkHint          string     `json:"long_term_sink_hint"`
}

// K8sEventHistory is the body of GET /stacks/{id}/events.
type K8sEventHistory struct {
	Retention RetentionInfo   `json:"retention"`
	Events    []AgentK8sEvent `json:"events"`
}

// PodLogHistory is the body of GET /stacks/{id}/logs.
type PodLogHistory struct {
	Retention RetentionInfo `json:"retention"`
	Lines     []AgentPodLog `json:"lines"`
}
