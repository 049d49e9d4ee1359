package db

import (
	"time"

	"github.com/google/uuid"
)

// Agent is a row of agents.
type Agent struct {
	ID              uuid.UUID  `db:"id"`
	CreatedAt       time.Time  `db:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
	DeletedAt       *time.Time `db:"deleted_at"`
	Name            string     `db:"name"`
	ClusterName     string     `db:"cluster_name"`
	LastHeartbeat   *time.Time `db:"last_heartbeat"`
	Status          string     `db:"status"`
	K8sReachable    *bool      `db:"k8s_reachable"`
	K8sAPILatencyMs *int32     `db:"k8s_api_latency_ms"`
	K8sReportedAt   *time.Time `db:"k8s_reported_at"`
}

const agentColumns = `id, created_at, updated_at, deleted_at, name, cluster_name, last_heartbeat, status,
	k8s_reachable, k8s_api_latency_ms, k8s_reported_at`

// AgentTarget is a row of agent_targets.
type AgentTarget struct {
	ID      uuid.UUID `db:"id"`
	AgentID uuid.UUID `db:"agent_id"`
	StackID uuid.UUID `db:"stack_id"`
}

// AgentEvent is a row of agent_events.
type AgentEvent struct {
	ID                 uuid.UUID  `db:"id"`
	CreatedAt          time.Time  `db:"created_at"`
	UpdatedAt          time.Time  `db:"updated_at"`
	DeletedAt          *time.Time `db:"deleted_at"`
	AgentID            uuid.UUID  `db:"agent_id"`
	DeploymentObjectID uuid.UUID  `db:"deployment_object_id"`
	EventType          string     `db:"event_type"`
	Status             string     `db:"status"`
	Message            *string    `db:"message"`
}

const agentEventColumns = `id, created_at, updated_at, deleted_at, agent_id, deployment_object_id, event_type, status, message`

// Registration is a row of agent_generator_registrations.
type Registration struct {
	ID           uuid.UUID `db:"id"`
	AgentID      uuid.UUID `db:"agent_id"`
	GeneratorID  uuid.UUID `db:"generator_id"`
	RegisteredAt time.Time `db:"registered_at"`
}

// Generator is a row of generators.
type Generator struct {
	ID           uuid.UUID  `db:"id"`
	CreatedAt    time.Time  `db:"created_at"`
	UpdatedAt    time.Time  `db:"updated_at"`
	DeletedAt    *time.Time `db:"deleted_at"`
	Name         string     `db:"name"`
	Description  *string    `db:"description"`
	LastActiveAt *time.Time `db:"last_active_at"`
	IsActive     bool       `db:"is_active"`
	IsSystem     bool       `db:"is_system"`
}

const generatorColumns = `id, created_at, updated_at, deleted_at, name, description, last_active_at, is_active, is_system`

// Stack is a row of stacks.
type Stack struct {
	ID          uuid.UUID  `db:"id"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
	DeletedAt   *time.Time `db:"deleted_at"`
	Name        string     `db:"name"`
	Description *string    `db:"description"`
	GeneratorID uuid.UUID  `db:"generator_id"`
}

const stackColumns = `id, created_at, updated_at, deleted_at, name, description, generator_id`

// DeploymentObject is a row of deployment_objects.
type DeploymentObject struct {
	ID               uuid.UUID  `db:"id"`
	CreatedAt        time.Time  `db:"created_at"`
	UpdatedAt        time.Time  `db:"updated_at"`
	DeletedAt        *time.Time `db:"deleted_at"`
	SequenceID       int64      `db:"sequence_id"`
	StackID          uuid.UUID  `db:"stack_id"`
	YAMLContent      string     `db:"yaml_content"`
	YAMLChecksum     string     `db:"yaml_checksum"`
	SubmittedAt      time.Time  `db:"submitted_at"`
	IsDeletionMarker bool       `db:"is_deletion_marker"`
	Urgent           bool       `db:"urgent"`
}

const deploymentObjectColumns = `id, created_at, updated_at, deleted_at, sequence_id, stack_id, yaml_content,
	yaml_checksum, submitted_at, is_deletion_marker, urgent`
