package client

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Wire types of the Brokkr v1 API. Field names and nullability follow the API contract:
// pointer fields without omitempty are serialised as explicit null.

// Agent is a registered cluster agent. The PAK hash is never part of the wire form.
type Agent struct {
	ID              uuid.UUID  `json:"id"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	DeletedAt       *time.Time `json:"deleted_at"`
	Name            string     `json:"name"`
	ClusterName     string     `json:"cluster_name"`
	LastHeartbeat   *time.Time `json:"last_heartbeat"`
	Status          string     `json:"status"`
	K8sReachable    *bool      `json:"k8s_reachable"`
	K8sAPILatencyMs *int32     `json:"k8s_api_latency_ms"`
	K8sReportedAt   *time.Time `json:"k8s_reported_at"`
}

// AgentLabel is a label attached to an agent.
type AgentLabel struct {
	ID      uuid.UUID `json:"id"`
	AgentID uuid.UUID `json:"agent_id"`
	Label   string    `json:"label"`
}

// AgentAnnotation is a key/value annotation attached to an agent.
type AgentAnnotation struct {
	ID      uuid.UUID `json:"id"`
	AgentID uuid.UUID `json:"agent_id"`
	Key     string    `json:"key"`
	Value   string    `json:"value"`
}

// AgentTarget binds an agent explicitly to a stack.
type AgentTarget struct {
	ID      uuid.UUID `json:"id"`
	AgentID uuid.UUID `json:"agent_id"`
	StackID uuid.UUID `json:"stack_id"`
}

// AgentEvent records the outcome of an agent applying a deployment object.
type AgentEvent struct {
	ID                 uuid.UUID  `json:"id"`
	CreatedAt          time.Time  `json:"created_at"`
	UpdatedAt          time.Time  `json:"updated_at"`
	DeletedAt          *time.Time `json:"deleted_at"`
	AgentID            uuid.UUID  `json:"agent_id"`
	DeploymentObjectID uuid.UUID  `json:"deployment_object_id"`
	EventType          string     `json:"event_type"`
	Status             string     `json:"status"`
	Message            *string    `json:"message"`
}

// AgentGeneratorRegistration says an agent accepts label/annotation targeting from a generator.
type AgentGeneratorRegistration struct {
	ID           uuid.UUID `json:"id"`
	AgentID      uuid.UUID `json:"agent_id"`
	GeneratorID  uuid.UUID `json:"generator_id"`
	RegisteredAt time.Time `json:"registered_at"`
}

// Generator is a CI/automation identity that owns stacks and templates.
type Generator struct {
	ID           uuid.UUID  `json:"id"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	DeletedAt    *time.Time `json:"deleted_at"`
	Name         string     `json:"name"`
	Description  *string    `json:"description"`
	LastActiveAt *time.Time `json:"last_active_at"`
	IsActive     bool       `json:"is_active"`
	IsSystem     bool       `json:"is_system"`
}

// Stack is a named collection of deployment objects.
type Stack struct {
	ID          uuid.UUID  `json:"id"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
	DeletedAt   *time.Time `json:"deleted_at"`
	Name        string     `json:"name"`
	Description *string    `json:"description"`
	GeneratorID uuid.UUID  `json:"generator_id"`
}

// StackLabel is a label attached to a stack.
type StackLabel struct {
	ID      uuid.UUID `json:"id"`
	StackID uuid.UUID `json:"stack_id"`
	Label   string    `json:"label"`
}

// StackAnnotation is a key/value annotation attached to a stack.
type StackAnnotation struct {
	ID      uuid.UUID `json:"id"`
	StackID uuid.UUID `json:"stack_id"`
	Key     string    `json:"key"`
	Value   string    `json:"value"`
}

// DeploymentObject is one immutable version of a stack's manifests.
type DeploymentObject struct {
	ID               uuid.UUID  `json:"id"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	DeletedAt        *time.Time `json:"deleted_at"`
	SequenceID       int64      `json:"sequence_id"`
	StackID          uuid.UUID  `json:"stack_id"`
	YAMLContent      string     `json:"yaml_content"`
	YAMLChecksum     string     `json:"yaml_checksum"`
	SubmittedAt      time.Time  `json:"submitted_at"`
	IsDeletionMarker bool       `json:"is_deletion_marker"`
	// Urgent objects pass through apply windows (only sent when true).
	Urgent bool `json:"urgent,omitempty"`
}

// AuthResponse describes the identity behind a PAK.
type AuthResponse struct {
	Admin     bool       `json:"admin"`
	Agent     *uuid.UUID `json:"agent"`
	Generator *uuid.UUID `json:"generator"`
	ReadOnly  bool       `json:"readonly"`
}

// PakSummary names a generator PAK holder.
type PakSummary struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Code    string         `json:"code"`
	Message string         `json:"message"`
	Details map[string]any `json:"details,omitempty"`
}

// CreateAgentRequest is the body of POST /agents.
type CreateAgentRequest struct {
	Name         string      `json:"name"`
	ClusterName  string      `json:"cluster_name"`
	GeneratorIDs []uuid.UUID `json:"generator_ids,omitempty"`
}

// CreateAgentResponse is returned once, with the new agent's plaintext PAK.
type CreateAgentResponse struct {
	Agent      Agent  `json:"agent"`
	InitialPAK string `json:"initial_pak"`
}

// UpdateAgentRequest is the body of PUT /agents/{id}; nil fields are left unchanged.
type UpdateAgentRequest struct {
	Name        *string `json:"name,omitempty"`
	ClusterName *string `json:"cluster_name,omitempty"`
	Status      *string `json:"status,omitempty"`
}

// RotateAgentPAKResponse carries an agent's new plaintext PAK.
type RotateAgentPAKResponse struct {
	Agent Agent  `json:"agent"`
	PAK   string `json:"pak"`
}

// HeartbeatRequest is the optional body of POST /agents/{id}/heartbeat.
type HeartbeatRequest struct {
	K8sReachable    *bool  `json:"k8s_reachable,omitempty"`
	K8sAPILatencyMs *int32 `json:"k8s_api_latency_ms"`
}

// NewAgentEvent is the body of POST /agents/{id}/events.
type NewAgentEvent struct {
	AgentID            uuid.UUID `json:"agent_id"`
	DeploymentObjectID uuid.UUID `json:"deployment_object_id"`
	EventType          string    `json:"event_type"`
	Status             string    `json:"status"`
	Message            *string   `json:"message,omitempty"`
}

// NewAgentLabel is the body of POST /agents/{id}/labels.
type NewAgentLabel struct {
	AgentID uuid.UUID `json:"agent_id"`
	Label   string    `json:"label"`
}

// NewAgentAnnotation is the body of POST /agents/{id}/annotations.
type NewAgentAnnotation struct {
	AgentID uuid.UUID `json:"agent_id"`
	Key     string    `json:"key"`
	Value   string    `json:"value"`
}

// NewAgentTarget is the body of POST /agents/{id}/targets.
type NewAgentTarget struct {
	AgentID uuid.UUID `json:"agent_id"`
	StackID uuid.UUID `json:"stack_id"`
}

// CreateGeneratorRequest is the body of POST /generators.
type CreateGeneratorRequest struct {
	Name        string  `json:"name"`
	Description *string `json:"description,omitempty"`
}

// GeneratorPAKResponse carries a generator and its plaintext PAK (create and rotate).
type GeneratorPAKResponse struct {
	Generator Generator `json:"generator"`
	PAK       string    `json:"pak"`
}

// RegisterAgentRequest is the body of POST/DELETE /generators/{id}/register.
type RegisterAgentRequest struct {
	AgentID *uuid.UUID `json:"agent_id,omitempty"`
}

// CreateStackRequest is the body of POST /stacks.
type CreateStackRequest struct {
	Name        string    `json:"name"`
	Description *string   `json:"description,omitempty"`
	GeneratorID uuid.UUID `json:"generator_id"`
}

// NewStackAnnotation is the body of POST /stacks/{id}/annotations.
type NewStackAnnotation struct {
	StackID uuid.UUID `json:"stack_id"`
	Key     string    `json:"key"`
	Value   string    `json:"value"`
}

// CreateDeploymentObjectRequest is the JSON body of POST /stacks/{id}/deployment-objects.
type CreateDeploymentObjectRequest struct {
	YAMLContent      string `json:"yaml_content"`
	IsDeletionMarker bool   `json:"is_deletion_marker,omitempty"`
}

// RawJSON is an arbitrary JSON value.
type RawJSON = json.RawMessage
