package client

import (
	"context"
	"net/http"

	"github.com/google/uuid"
)

// Generators is the handle for generators and agent registrations.
type Generators struct{ c *Client }

// Generators returns the generator handle.
func (c *Client) Generators() *Generators { return &Generators{c: c} }

// List returns the live generators, the system generator excepted, reading every page
// (admin).
func (g *Generators) List(ctx context.Context) ([]Generator, error) {
	return listAll[Generator](ctx, g.c, request{method: http.MethodGet, path: "/generators"}, 0)
}

// ListPage returns one page of the live generators, oldest first (admin).
func (g *Generators) ListPage(ctx context.Context, opts *ListOptions) (Page[Generator], error) {
	return listPage[Generator](ctx, g.c, request{method: http.MethodGet, path: "/generators"}, opts)
}

// Create adds a generator and returns it with its PAK, which is shown only this once
// (admin).
func (g *Generators) Create(ctx context.Context, req CreateGeneratorRequest) (GeneratorPAKResponse, error) {
	return call[GeneratorPAKResponse](ctx, g.c, request{method: http.MethodPost, path: "/generators", body: req})
}

// Get returns a generator (admin, or the generator itself).
func (g *Generators) Get(ctx context.Context, id uuid.UUID) (Generator, error) {
	return call[Generator](ctx, g.c, request{method: http.MethodGet, path: path("generators", id)})
}

// Update writes every field of gen except its id, which names the generator to change; nil
// fields leave their column unchanged. Read the generator, change it, and send it back
// (admin, or the generator itself).
func (g *Generators) Update(ctx context.Context, gen Generator) (Generator, error) {
	return call[Generator](ctx, g.c, request{method: http.MethodPut, path: path("generators", gen.ID), body: gen})
}

// Delete soft-deletes a generator together with its stacks and templates; the system
// generator cannot be deleted (admin, or the generator itself).
func (g *Generators) Delete(ctx context.Context, id uuid.UUID) error {
	_, err := g.c.do(ctx, request{method: http.MethodDelete, path: path("generators", id)}, nil)
	return err
}

// RotatePAK replaces the generator's PAK and returns the new one (admin, or the generator
// itself).
func (g *Generators) RotatePAK(ctx context.Context, id uuid.UUID) (GeneratorPAKResponse, error) {
	return call[GeneratorPAKResponse](ctx, g.c, request{method: http.MethodPost, path: path("generators", id, "rotate-pak")})
}

// Register lets the generator target an agent by label and annotation. With an agent PAK,
// pass nil: the calling agent registers itself. The admin must name the agent. A second
// registration is a 409 with code already_registered.
func (g *Generators) Register(ctx context.Context, generatorID uuid.UUID, agentID *uuid.UUID) (AgentGeneratorRegistration, error) {
	return call[AgentGeneratorRegistration](ctx, g.c, request{method: http.MethodPost, path: path("generators", generatorID, "register"),
		body: RegisterAgentRequest{AgentID: agentID}})
}

// Deregister removes a registration and the agent's targets on the generator's stacks;
// agentID follows the rules of Register. A missing registration is not an error.
func (g *Generators) Deregister(ctx context.Context, generatorID uuid.UUID, agentID *uuid.UUID) error {
	_, err := g.c.do(ctx, request{method: http.MethodDelete, path: path("generators", generatorID, "register"),
		body: RegisterAgentRequest{AgentID: agentID}}, nil)
	return err
}

// RegisteredAgents returns the registrations of agents with the generator (admin, or the
// generator itself).
func (g *Generators) RegisteredAgents(ctx context.Context, id uuid.UUID) ([]AgentGeneratorRegistration, error) {
	return listAll[AgentGeneratorRegistration](ctx, g.c, request{method: http.MethodGet, path: path("generators", id, "registered-agents")}, 0)
}

// RegisteredAgentsPage returns one page of the generator's registrations, oldest first.
func (g *Generators) RegisteredAgentsPage(ctx context.Context, id uuid.UUID, opts *ListOptions) (Page[AgentGeneratorRegistration], error) {
	return listPage[AgentGeneratorRegistration](ctx, g.c, request{method: http.MethodGet, path: path("generators", id, "registered-agents")}, opts)
}
