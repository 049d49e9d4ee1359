package client

import (
	"context"
	"net/http"
	"time"

	"github.com/google/uuid"
)

// Agent event types: DEPLOY is the outcome of applying a deployment object, DRIFT a change
// of the drift of its objects, DEPENDENCY a stack waiting for the stacks it depends on.
const (
	EventTypeDeploy     = "DEPLOY"
	EventTypeDrift      = "DRIFT"
	EventTypeDependency = "DEPENDENCY"
)

// Statuses of DRIFT and DEPENDENCY agent events.
const (
	// DriftDrifted: objects of the stack differ from what its manifest sets.
	DriftDrifted = "DRIFTED"
	// DriftCorrected: drifted objects were applied again (drift policy "correct").
	DriftCorrected = "CORRECTED"
	// DriftCleared: the objects match their manifest again.
	DriftCleared = "CLEARED"
	// DependencyWaiting: the stack is not applied until the stacks it depends on are.
	DependencyWaiting = "WAITING"
)

// Stack annotations read by agents.
const (
	// AnnotationDriftPolicy names the drift policy of a stack: report, correct or ignore.
	AnnotationDriftPolicy = "brokkr.io/drift-policy"
	// AnnotationDependsOn lists, comma-separated, the stacks (names or ids) a stack depends on.
	AnnotationDependsOn = "brokkr.io/depends-on"
)

// Drift policies of a stack.
const (
	DriftPolicyReport  = "report"
	DriftPolicyCorrect = "correct"
	DriftPolicyIgnore  = "ignore"
)

// StackSettings is what an agent needs to know of a stack associated with it beyond its
// deployment objects: its drift policy and the ids of the stacks it depends on.
type StackSettings struct {
	StackID     uuid.UUID   `json:"stack_id"`
	StackName   string      `json:"stack_name"`
	DriftPolicy string      `json:"drift_policy"`
	DependsOn   []uuid.UUID `json:"depends_on"`
}

// DriftReport is the message of a DRIFT agent event (JSON text): the drifted objects, none
// for CLEARED.
type DriftReport struct {
	Objects []DriftedObject `json:"objects"`
}

// DriftedObject is one object whose live state differs from its manifest, with the field
// paths that differ.
type DriftedObject struct {
	APIVersion string   `json:"api_version"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Name       string   `json:"name"`
	Paths      []string `json:"paths"`
}

// DependencyReport is the message of a DEPENDENCY WAITING agent event (JSON text).
type DependencyReport struct {
	WaitingFor []DependencyWait `json:"waiting_for"`
}

// DependencyWait is one stack a stack waits for, and why.
type DependencyWait struct {
	StackID   uuid.UUID `json:"stack_id"`
	StackName string    `json:"stack_name"`
	Reason    string    `json:"reason"`
}

// StackDrift is the current drift of a stack on one agent.
type StackDrift struct {
	AgentID            uuid.UUID       `json:"agent_id"`
	AgentName          string          `json:"agent_name"`
	DeploymentObjectID uuid.UUID       `json:"deployment_object_id"`
	Status             string          `json:"status"`
	Objects            []DriftedObject `json:"objects"`
	ReportedAt         time.Time       `json:"reported_at"`
}

// StackRef names a stack.
type StackRef struct {
	ID   uuid.UUID `json:"id"`
	Name string    `json:"name"`
}

// StackDependencies is what a stack depends on and which agents wait to apply it.
type StackDependencies struct {
	DependsOn []StackRef     `json:"depends_on"`
	Waiting   []WaitingAgent `json:"waiting"`
}

// WaitingAgent is an agent waiting to apply a stack, since when and for what.
type WaitingAgent struct {
	AgentID    uuid.UUID        `json:"agent_id"`
	AgentName  string           `json:"agent_name"`
	WaitingFor []DependencyWait `json:"waiting_for"`
	Since      time.Time        `json:"since"`
}

// StackSettings returns the drift policy and the resolved dependencies of every stack
// associated with the agent (admin, or the agent itself).
func (a *Agents) StackSettings(ctx context.Context, id uuid.UUID) ([]StackSettings, error) {
	return call[[]StackSettings](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "stack-settings")})
}

// Drift returns the current drift of the stack's latest deployment object per agent: the
// latest DRIFT event of each agent unless it is CLEARED (owner).
func (s *Stacks) Drift(ctx context.Context, id uuid.UUID) ([]StackDrift, error) {
	return call[[]StackDrift](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "drift")})
}

// Dependencies returns the stacks the stack depends on and the agents waiting for them
// (owner).
func (s *Stacks) Dependencies(ctx context.Context, id uuid.UUID) (StackDependencies, error) {
	return call[StackDependencies](ctx, s.c, request{method: http.MethodGet, path: path("stacks", id, "dependencies")})
}
