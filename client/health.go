package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Health states of a deployment object, from worst to best: failing, degraded, healthy,
// unknown.
const (
	HealthHealthy  = "healthy"
	HealthDegraded = "degraded"
	HealthFailing  = "failing"
	HealthUnknown  = "unknown"
)

// DeploymentHealth is one agent's latest report on one deployment object.
type DeploymentHealth struct {
	ID                 uuid.UUID `json:"id"`
	AgentID            uuid.UUID `json:"agent_id"`
	DeploymentObjectID uuid.UUID `json:"deployment_object_id"`
	Status             string    `json:"status"`
	Summary            *string   `json:"summary"` // a HealthSummary as JSON text
	CheckedAt          time.Time `json:"checked_at"`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
}

// HealthSummary details an object's health. Resources is omitted when nil.
type HealthSummary struct {
	PodsReady  int32            `json:"pods_ready"`
	PodsTotal  int32            `json:"pods_total"`
	Conditions []string         `json:"conditions"`
	Resources  []ResourceHealth `json:"resources,omitzero"`
}

// ResourceHealth is the health of one Kubernetes resource. Message is omitted when nil.
type ResourceHealth struct {
	Kind      string  `json:"kind"`
	Name      string  `json:"name"`
	Namespace string  `json:"namespace"`
	Ready     bool    `json:"ready"`
	Message   *string `json:"message,omitempty"`
}

// HealthStatusUpdate is the body of PATCH /agents/{id}/health-status.
type HealthStatusUpdate struct {
	DeploymentObjects []DeploymentObjectHealthUpdate `json:"deployment_objects"`
}

// DeploymentObjectHealthUpdate is an agent's report on one deployment object.
type DeploymentObjectHealthUpdate struct {
	ID        uuid.UUID      `json:"id"`
	Status    string         `json:"status"`
	Summary   *HealthSummary `json:"summary,omitempty"`
	CheckedAt time.Time      `json:"checked_at"`
}

// DeploymentHealthResponse is the health of one deployment object across agents.
type DeploymentHealthResponse struct {
	DeploymentObjectID uuid.UUID          `json:"deployment_object_id"`
	HealthRecords      []DeploymentHealth `json:"health_records"`
	OverallStatus      string             `json:"overall_status"`
}

// StackHealthResponse is the health of a stack's deployment objects.
type StackHealthResponse struct {
	StackID           uuid.UUID                       `json:"stack_id"`
	OverallStatus     string                          `json:"overall_status"`
	DeploymentObjects []DeploymentObjectHealthSummary `json:"deployment_objects"`
}

// DeploymentObjectHealthSummary counts the agents reporting each state for one object.
type DeploymentObjectHealthSummary struct {
	ID             uuid.UUID `json:"id"`
	Status         string    `json:"status"`
	HealthyAgents  int64     `json:"healthy_agents"`
	DegradedAgents int64     `json:"degraded_agents"`
	FailingAgents  int64     `json:"failing_agents"`
}

// DeploymentHealthService is the handle for deployment health: agent reports and roll-ups.
type DeploymentHealthService struct{ c *Client }

// DeploymentHealth returns the deployment health handle.
func (c *Client) DeploymentHealth() *DeploymentHealthService { return &DeploymentHealthService{c: c} }

// Report stores an agent's health reports; the whole batch is rejected when one report is
// invalid (the agent itself, or admin).
func (h *DeploymentHealthService) Report(ctx context.Context, agentID uuid.UUID, reports []DeploymentObjectHealthUpdate) error {
	if reports == nil {
		reports = []DeploymentObjectHealthUpdate{}
	}
	_, err := h.c.do(ctx, request{method: http.MethodPatch, path: path("agents", agentID, "health-status"),
		body: HealthStatusUpdate{DeploymentObjects: reports}}, nil)
	return err
}

// Object returns every agent's report on a deployment object and the worst status (admin).
func (h *DeploymentHealthService) Object(ctx context.Context, objectID uuid.UUID) (DeploymentHealthResponse, error) {
	var out DeploymentHealthResponse
	_, err := h.c.do(ctx, request{method: http.MethodGet, path: path("deployment-objects", objectID, "health")}, &out)
	return out, err
}

// Stack returns the health of a stack's reported deployment objects (admin).
func (h *DeploymentHealthService) Stack(ctx context.Context, stackID uuid.UUID) (StackHealthResponse, error) {
	var out StackHealthResponse
	_, err := h.c.do(ctx, request{method: http.MethodGet, path: path("stacks", stackID, "health")}, &out)
	return out, err
}
