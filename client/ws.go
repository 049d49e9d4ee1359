package client

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// WebSocket protocol: every text frame is an envelope {"type": ..., "body": ...}.

// Envelope types of the WebSocket protocol.
const (
	WSWorkOrder     = "work_order"     // broker → agent, body WorkOrder
	WSTargetChanged = "target_changed" // broker → agent, body AgentTarget
	WSStackChanged  = "stack_changed"  // broker → agent, body Stack
	WSHeartbeat     = "heartbeat"      // agent → broker, body Heartbeat
	WSAgentEvent    = "agent_event"    // agent → broker, body AgentEvent
	WSAgentHealth   = "agent_health"   // agent → broker, body DeploymentHealth
	WSK8sEvent      = "k8s_event"      // agent → broker → live subscribers, body K8sEvent
	WSPodLogLine    = "pod_log_line"   // agent → broker → live subscribers, body PodLogLine
	WSLogGap        = "log_gap"        // agent → broker → live subscribers, body LogGap
	WSFleetUpdate   = "fleet_update"   // broker → fleet subscribers, body FleetAgentRecord
)

// WebSocket subprotocols of the consumer live channels.
const (
	// WSSubprotocol is the marker subprotocol the broker selects when a client offers it.
	WSSubprotocol = "brokkr.v1"
	// WSPAKSubprotocolPrefix prefixes a PAK offered as a subprotocol by clients that cannot
	// set an Authorization header (browsers); the broker never selects it.
	WSPAKSubprotocolPrefix = "brokkr.pak."
)

// WSMessage is the envelope of one WebSocket text frame.
type WSMessage struct {
	Type string          `json:"type"`
	Body json.RawMessage `json:"body"`
}

// Heartbeat is an agent's liveness report over the WebSocket.
type Heartbeat struct {
	AgentID         uuid.UUID `json:"agent_id"`
	SentAt          time.Time `json:"sent_at"`
	K8sReachable    *bool     `json:"k8s_reachable"`
	K8sAPILatencyMs *int32    `json:"k8s_api_latency_ms"`
}

// K8sEvent is a Kubernetes event an agent forwards for one of its stacks.
type K8sEvent struct {
	AgentID        uuid.UUID    `json:"agent_id"`
	StackID        uuid.UUID    `json:"stack_id"`
	ObservedAt     time.Time    `json:"observed_at"`
	Reason         string       `json:"reason"`
	Message        string       `json:"message"`
	EventType      string       `json:"event_type"`
	Source         *string      `json:"source"`
	InvolvedObject K8sObjectRef `json:"involved_object"`
}

// PodLogLine is one line of pod output an agent forwards for one of its stacks.
type PodLogLine struct {
	AgentID   uuid.UUID `json:"agent_id"`
	StackID   uuid.UUID `json:"stack_id"`
	Namespace string    `json:"namespace"`
	Pod       string    `json:"pod"`
	Container string    `json:"container"`
	TS        time.Time `json:"ts"`
	Line      string    `json:"line"`
}

// Reasons of a LogGap.
const (
	GapRateLimit    = "rate_limit"
	GapBufferFull   = "buffer_full"
	GapDisconnected = "disconnected"
)

// LogGap marks telemetry that was dropped before reaching its reader. The broker's own gaps
// (a subscriber that could not keep up) carry the nil agent id.
type LogGap struct {
	AgentID      uuid.UUID `json:"agent_id"`
	StackID      uuid.UUID `json:"stack_id"`
	SinceTS      time.Time `json:"since_ts"`
	DroppedCount uint64    `json:"dropped_count"`
	Reason       string    `json:"reason"`
}

// WSConnection describes one agent connection of a broker replica.
type WSConnection struct {
	AgentID        uuid.UUID `json:"agent_id"`
	ConnectedSince time.Time `json:"connected_since"`
	MessagesIn     int64     `json:"messages_in"`
	MessagesOut    int64     `json:"messages_out"`
}

// WSConnections is the body of GET /admin/ws/connections: one replica's connections.
type WSConnections struct {
	ConnectedAgents int64          `json:"connected_agents"`
	Connections     []WSConnection `json:"connections"`
	LiveSubscribers int64          `json:"live_subscribers"`
}
