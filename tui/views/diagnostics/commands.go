package diagnostics

import (
	"fmt"

	tea "charm.land/bubbletea/v2"
	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
	"github.com/brokkr/brokkr/tui/ui"
)

// loadAgents reads the agents to pick from.
func (m *Model) loadAgents() tea.Cmd {
	env, gen := m.env, m.agentsReqs.Next()
	return func() tea.Msg {
		msg := AgentsMsg{Gen: gen}
		if env.Client == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		agents, err := env.Client.Agents().List(ctx)
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("list agents: %w", err)
			return msg
		}
		if agents == nil {
			agents = []client.Agent{}
		}
		msg.Agents = agents
		return msg
	}
}

// loadObjects reads the agent's full target state (the latest deployment object of each
// stack associated with it) and its stacks, for their names. Both are open to the admin
// keys, the read-only one included.
func (m *Model) loadObjects(agentID uuid.UUID) tea.Cmd {
	env, gen := m.env, m.objReqs.Next()
	return func() tea.Msg {
		msg := ObjectsMsg{Gen: gen, AgentID: agentID}
		if env.Client == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		objects, err := env.Client.Agents().TargetState(ctx, agentID, true)
		if err != nil {
			msg.At, msg.Err = env.Now(), fmt.Errorf("deployment objects of the agent: %w", err)
			return msg
		}
		stacks, err := env.Client.Agents().Stacks(ctx, agentID)
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("stacks of the agent: %w", err)
			return msg
		}
		if objects == nil {
			objects = []client.DeploymentObject{}
		}
		msg.Objects, msg.Stacks = objects, stacks
		return msg
	}
}

// create asks the agent for diagnostics of the object.
func (m *Model) create(wait uint64, agentID, objectID uuid.UUID) tea.Cmd {
	env := m.env
	return func() tea.Msg {
		msg := RequestedMsg{Wait: wait}
		if env.Client == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		by := requestedBy
		req, err := env.Client.Diagnostics().Create(ctx, objectID, client.CreateDiagnosticRequest{AgentID: agentID, RequestedBy: &by})
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("create diagnostic request: %w", err)
			return msg
		}
		msg.Request = req
		return msg
	}
}

// poll reads the current request and its result.
func (m *Model) poll() tea.Cmd {
	env, wait := m.env, m.wait
	reqID := m.cur.req.ID
	return func() tea.Msg {
		msg := PolledMsg{Wait: wait}
		if env.Client == nil {
			msg.At, msg.Err = env.Now(), ui.ErrNoClient
			return msg
		}
		ctx, cancel := env.Timeout()
		defer cancel()
		resp, err := env.Client.Diagnostics().Get(ctx, reqID)
		msg.At = env.Now()
		if err != nil {
			msg.Err = fmt.Errorf("get diagnostic request: %w", err)
			return msg
		}
		msg.Response = resp
		return msg
	}
}
