package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"

	"github.com/google/uuid"
)

// Agents is the handle for agents, their labels, annotations, targets and registrations.
type Agents struct{ c *Client }

// Agents returns the agent handle.
func (c *Client) Agents() *Agents { return &Agents{c: c} }

// List returns the live agents: all of them for the admin, those registered with the
// calling generator for a generator PAK. It reads every page; ListPage reads one.
func (a *Agents) List(ctx context.Context) ([]Agent, error) {
	return listAll[Agent](ctx, a.c, request{method: http.MethodGet, path: "/agents"}, 0)
}

// ListPage returns one page of the live agents, oldest first.
func (a *Agents) ListPage(ctx context.Context, opts *ListOptions) (Page[Agent], error) {
	return listPage[Agent](ctx, a.c, request{method: http.MethodGet, path: "/agents"}, opts)
}

// Create registers a new agent (status INACTIVE) and returns it with its initial PAK, which
// is shown only this once (admin).
func (a *Agents) Create(ctx context.Context, req CreateAgentRequest) (CreateAgentResponse, error) {
	return call[CreateAgentResponse](ctx, a.c, request{method: http.MethodPost, path: "/agents", body: req})
}

// Search finds the live agent with this name and cluster name (admin, or the agent itself,
// which uses it to discover its own id).
func (a *Agents) Search(ctx context.Context, name, clusterName string) (Agent, error) {
	q := url.Values{"name": {name}, "cluster_name": {clusterName}}
	// GET /agents/ (trailing slash) is the search operation; GET /agents lists.
	return call[Agent](ctx, a.c, request{method: http.MethodGet, path: "/agents/", query: q})
}

// Get returns an agent (admin, or the agent itself).
func (a *Agents) Get(ctx context.Context, id uuid.UUID) (Agent, error) {
	return call[Agent](ctx, a.c, request{method: http.MethodGet, path: path("agents", id)})
}

// Update changes an agent's name, cluster name or status; nil fields are left unchanged
// (admin, or the agent itself).
func (a *Agents) Update(ctx context.Context, id uuid.UUID, req UpdateAgentRequest) (Agent, error) {
	return call[Agent](ctx, a.c, request{method: http.MethodPut, path: path("agents", id), body: req})
}

// Delete soft-deletes an agent, revoking its PAK and closing its connections; unknown ids
// are not an error (admin).
func (a *Agents) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := a.c.do(ctx, request{method: http.MethodDelete, path: path("agents", id)}, nil)
	return err
}

// Events returns all the agent's live events, newest first, reading every page (admin, or
// the agent itself). EventsPage reads one page.
func (a *Agents) Events(ctx context.Context, id uuid.UUID) ([]AgentEvent, error) {
	return listAll[AgentEvent](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "events")}, 0)
}

// EventsPage returns one page of the agent's live events, newest first (the broker's
// default page is the 100 most recent).
func (a *Agents) EventsPage(ctx context.Context, id uuid.UUID, opts *ListOptions) (Page[AgentEvent], error) {
	return listPage[AgentEvent](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "events")}, opts)
}

// CreateEvent records the outcome of applying a deployment object; a nil ev.AgentID is
// filled with id (admin, or the agent itself).
func (a *Agents) CreateEvent(ctx context.Context, id uuid.UUID, ev NewAgentEvent) (AgentEvent, error) {
	if ev.AgentID == uuid.Nil {
		ev.AgentID = id
	}
	return call[AgentEvent](ctx, a.c, request{method: http.MethodPost, path: path("agents", id, "events"), body: ev})
}

// Labels returns the agent's labels (admin, or the agent itself).
func (a *Agents) Labels(ctx context.Context, id uuid.UUID) ([]AgentLabel, error) {
	return call[[]AgentLabel](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "labels")})
}

// AddLabel attaches a label to the agent (admin).
func (a *Agents) AddLabel(ctx context.Context, id uuid.UUID, label string) (AgentLabel, error) {
	return call[AgentLabel](ctx, a.c, request{method: http.MethodPost, path: path("agents", id, "labels"),
		body: NewAgentLabel{AgentID: id, Label: label}})
}

// RemoveLabel detaches a label; a label the agent does not have is a 404 (admin).
func (a *Agents) RemoveLabel(ctx context.Context, id uuid.UUID, label string) error {
	_, err := a.c.do(ctx, request{method: http.MethodDelete, path: path("agents", id, "labels", label)}, nil)
	return err
}

// Annotations returns the agent's annotations (admin, or the agent itself).
func (a *Agents) Annotations(ctx context.Context, id uuid.UUID) ([]AgentAnnotation, error) {
	return call[[]AgentAnnotation](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "annotations")})
}

// AddAnnotation attaches a key/value annotation; a key the agent already has is a 409
// (admin).
func (a *Agents) AddAnnotation(ctx context.Context, id uuid.UUID, key, value string) (AgentAnnotation, error) {
	return call[AgentAnnotation](ctx, a.c, request{method: http.MethodPost, path: path("agents", id, "annotations"),
		body: NewAgentAnnotation{AgentID: id, Key: key, Value: value}})
}

// RemoveAnnotation detaches the annotation with this key (admin).
func (a *Agents) RemoveAnnotation(ctx context.Context, id uuid.UUID, key string) error {
	_, err := a.c.do(ctx, request{method: http.MethodDelete, path: path("agents", id, "annotations", key)}, nil)
	return err
}

// Targets returns the stacks the agent is explicitly bound to (admin, or the agent itself).
func (a *Agents) Targets(ctx context.Context, id uuid.UUID) ([]AgentTarget, error) {
	return call[[]AgentTarget](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "targets")})
}

// AddTarget binds the agent to a stack. The agent must be registered with the stack's
// generator (admin, or the generator owning the stack).
func (a *Agents) AddTarget(ctx context.Context, id, stackID uuid.UUID) (AgentTarget, error) {
	return call[AgentTarget](ctx, a.c, request{method: http.MethodPost, path: path("agents", id, "targets"),
		body: NewAgentTarget{AgentID: id, StackID: stackID}})
}

// RemoveTarget unbinds the agent from a stack (admin, or the generator owning the stack).
func (a *Agents) RemoveTarget(ctx context.Context, id, stackID uuid.UUID) error {
	_, err := a.c.do(ctx, request{method: http.MethodDelete, path: path("agents", id, "targets", stackID)}, nil)
	return err
}

// Heartbeat records that the agent is alive; a non-nil report also records whether its
// Kubernetes API is reachable (the agent itself only).
func (a *Agents) Heartbeat(ctx context.Context, id uuid.UUID, report *HeartbeatRequest) error {
	r := request{method: http.MethodPost, path: path("agents", id, "heartbeat")}
	if report != nil {
		r.body = report
	}
	_, err := a.c.do(ctx, r, nil)
	return err
}

// TargetState returns the latest deployment object of each stack associated with the agent,
// highest sequence id first. Unless full is set, objects the agent has already reported an
// event for are left out (admin, or the agent itself).
func (a *Agents) TargetState(ctx context.Context, id uuid.UUID, full bool) ([]DeploymentObject, error) {
	return call[[]DeploymentObject](ctx, a.c, targetStateRequest(id, full))
}

func targetStateRequest(id uuid.UUID, full bool) request {
	q := url.Values{}
	if full {
		q.Set("mode", "full")
	}
	return request{method: http.MethodGet, path: path("agents", id, "target-state"), query: q}
}

// TargetStateResult is the answer to a conditional target-state request.
type TargetStateResult struct {
	// Objects is the target state as TargetState returns it; nil when NotModified.
	Objects []DeploymentObject
	// ETag is the broker's entity tag of the target state, to send with the next request
	// in the same mode; "" when the broker sends none.
	ETag string
	// NotModified is set when the broker answered 304 Not Modified: the target state is
	// still the one the entity tag sent names, and no body came.
	NotModified bool
	// Holds are the broker's Brokkr-Hold headers: one per stack whose newest object a rollout
	// or an apply window holds back from the agent ("<stack id>; object=<id>; reason=...;
	// until=..."); none from a broker without rollouts or windows.
	Holds []string
}

// TargetStateIfChanged is TargetState made conditional. With a non-empty etag (the ETag of
// an earlier answer in the same mode) it sends If-None-Match, and a broker whose target state
// for the agent still has that tag answers 304 Not Modified without a body (NotModified set,
// Objects nil). A broker that sends no ETag answers every request in full, with ETag "".
func (a *Agents) TargetStateIfChanged(ctx context.Context, id uuid.UUID, full bool, etag string) (TargetStateResult, error) {
	r := targetStateRequest(id, full)
	if etag != "" {
		r.header = http.Header{"If-None-Match": {etag}}
		r.want = []int{http.StatusOK, http.StatusNotModified}
	}
	ans, err := a.c.send(ctx, r)
	if err != nil {
		return TargetStateResult{}, err
	}
	res := TargetStateResult{ETag: ans.header.Get("ETag"), Holds: ans.header.Values("Brokkr-Hold")}
	if ans.status == http.StatusNotModified {
		if res.ETag == "" {
			res.ETag = etag
		}
		res.NotModified = true
		return res, nil
	}
	if len(ans.body) > 0 {
		if err := json.Unmarshal(ans.body, &res.Objects); err != nil {
			return TargetStateResult{}, fmt.Errorf("decode %s %s response: %w", r.method, r.path, err)
		}
	}
	return res, nil
}

// Stacks returns the live stacks associated with the agent, by explicit target or by a
// shared label or annotation of a generator it is registered with (admin, or the agent
// itself).
func (a *Agents) Stacks(ctx context.Context, id uuid.UUID) ([]Stack, error) {
	return call[[]Stack](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "stacks")})
}

// RotatePAK replaces the agent's PAK and returns the new one; the old key stops working at
// once and the agent's connections are closed (admin, or the agent itself).
func (a *Agents) RotatePAK(ctx context.Context, id uuid.UUID) (RotateAgentPAKResponse, error) {
	return call[RotateAgentPAKResponse](ctx, a.c, request{method: http.MethodPost, path: path("agents", id, "rotate-pak")})
}

// Registrations returns the generators the agent accepts targeting from (admin, or the
// agent itself).
func (a *Agents) Registrations(ctx context.Context, id uuid.UUID) ([]AgentGeneratorRegistration, error) {
	return call[[]AgentGeneratorRegistration](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "registrations")})
}

// FleetStatus returns the agent's fleet record and its 20 most recent events (admin).
func (a *Agents) FleetStatus(ctx context.Context, id uuid.UUID) (AgentFleetStatus, error) {
	return call[AgentFleetStatus](ctx, a.c, request{method: http.MethodGet, path: path("agents", id, "fleet-status")})
}

// AgentEvents is the handle for the events of all agents.
type AgentEvents struct{ c *Client }

// AgentEvents returns the agent event handle.
func (c *Client) AgentEvents() *AgentEvents { return &AgentEvents{c: c} }

// List returns the live events of all agents, newest first, reading every page; a non-nil
// generatorID keeps the events of agents registered with that generator (admin).
func (a *AgentEvents) List(ctx context.Context, generatorID *uuid.UUID) ([]AgentEvent, error) {
	return listAll[AgentEvent](ctx, a.c, agentEventsRequest(generatorID), 0)
}

// ListPage returns one page of the live events of all agents, newest first (admin).
func (a *AgentEvents) ListPage(ctx context.Context, generatorID *uuid.UUID, opts *ListOptions) (Page[AgentEvent], error) {
	return listPage[AgentEvent](ctx, a.c, agentEventsRequest(generatorID), opts)
}

func agentEventsRequest(generatorID *uuid.UUID) request {
	q := url.Values{}
	if generatorID != nil {
		q.Set("pak_id", generatorID.String())
	}
	return request{method: http.MethodGet, path: "/agent-events", query: q}
}

// Get returns one agent event (admin).
func (a *AgentEvents) Get(ctx context.Context, id uuid.UUID) (AgentEvent, error) {
	return call[AgentEvent](ctx, a.c, request{method: http.MethodGet, path: path("agent-events", id)})
}
