package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// fleet is what the simulated agents need from the broker: their ids and keys, and the
// stack every one of them targets.
type fleet struct {
	agents  []simAgentID
	genID   uuid.UUID
	stackID uuid.UUID
	// how the agents came to be: created now, read from the fleet file, or found on the
	// broker and given a new key
	created, fromFile, rotated int
}

type simAgentID struct {
	ID  uuid.UUID `json:"id"`
	PAK string    `json:"pak"`
}

// manifest is the deployment object the simulator posts: one small ConfigMap.
func manifest(run string, n int) string {
	return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fleetsim\n  namespace: default\ndata:\n  run: %q\n  version: \"%d\"\n", run, n)
}

// setupFleet creates a generator, a stack with one deployment object, and cfg.Agents
// agents registered with the generator at creation, activated and explicitly targeted at
// the stack (explicit targets are what the broker pushes stack changes to).
//
// With cfg.Reuse, the fleet file of an earlier run with the same prefix against the same
// broker gives the first agents without a request each (it is written again at the end);
// agents named with the prefix that exist on the broker but not in the file get a new key.
func setupFleet(ctx context.Context, cfg Config, admin *client.Client, progress io.Writer) (*fleet, error) {
	f := &fleet{agents: make([]simAgentID, cfg.Agents)}
	var saved *fleetFile
	if cfg.Reuse {
		saved = loadFleetFile(ctx, cfg, admin, progress)
	}
	var err error
	if saved != nil {
		f.genID, f.stackID = saved.GeneratorID, saved.StackID
		f.fromFile = copy(f.agents, saved.Agents)
	} else if f.genID, f.stackID, err = ensureStack(ctx, cfg, admin, cfg.Prefix+"-stack"); err != nil {
		return nil, err
	}
	existing := map[string]client.Agent{}
	if cfg.Reuse && f.fromFile < cfg.Agents {
		all, err := admin.Agents().List(ctx)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		for _, a := range all {
			if strings.HasPrefix(a.Name, cfg.Prefix+"-") {
				existing[a.Name] = a
			}
		}
	}
	var next atomic.Int64
	next.Store(int64(f.fromFile))
	var created, rotated atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, cfg.SetupWorkers)
	active := "ACTIVE"
	for range cfg.SetupWorkers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Agents || ctx.Err() != nil {
					return
				}
				name := fmt.Sprintf("%s-%06d", cfg.Prefix, i)
				cluster := fmt.Sprintf("%s-cluster-%06d", cfg.Prefix, i)
				var err error
				if a, ok := existing[name]; ok {
					f.agents[i], err = reuseAgent(ctx, admin, a, f.stackID)
					rotated.Add(1)
				} else {
					f.agents[i], err = createAgent(ctx, admin, name, cluster, f.genID, f.stackID, &active)
					created.Add(1)
				}
				if err != nil {
					errs <- fmt.Errorf("agent %s: %w", name, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f.created, f.rotated = int(created.Load()), int(rotated.Load())
	if cfg.Reuse {
		if err := saveFleetFile(cfg, f, saved); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func createAgent(ctx context.Context, admin *client.Client, name, cluster string, gen, stack uuid.UUID, active *string) (simAgentID, error) {
	res, err := admin.Agents().Create(ctx, client.CreateAgentRequest{Name: name, ClusterName: cluster, GeneratorIDs: []uuid.UUID{gen}})
	if err != nil {
		return simAgentID{}, err
	}
	if _, err := admin.Agents().Update(ctx, res.Agent.ID, client.UpdateAgentRequest{Status: active}); err != nil {
		return simAgentID{}, err
	}
	if _, err := admin.Agents().AddTarget(ctx, res.Agent.ID, stack); err != nil {
		return simAgentID{}, err
	}
	return simAgentID{ID: res.Agent.ID, PAK: res.InitialPAK}, nil
}

// reuseAgent rotates an existing agent's key (keys are shown only once) and makes sure it
// targets the stack.
func reuseAgent(ctx context.Context, admin *client.Client, a client.Agent, stack uuid.UUID) (simAgentID, error) {
	rot, err := admin.Agents().RotatePAK(ctx, a.ID)
	if err != nil {
		return simAgentID{}, err
	}
	if _, err := admin.Agents().AddTarget(ctx, a.ID, stack); err != nil && !client.IsConflict(err) {
		return simAgentID{}, err
	}
	return simAgentID{ID: a.ID, PAK: rot.PAK}, nil
}

// ensureStack returns the simulator's generator and stack, creating them (with a first
// deployment object) unless cfg.Reuse finds them.
func ensureStack(ctx context.Context, cfg Config, admin *client.Client, name string) (gen, stack uuid.UUID, err error) {
	if cfg.Reuse {
		stacks, err := admin.Stacks().List(ctx, nil)
		if err != nil {
			return uuid.Nil, uuid.Nil, fmt.Errorf("list stacks: %w", err)
		}
		for _, s := range stacks {
			if s.Name == name {
				return s.GeneratorID, s.ID, nil
			}
		}
	}
	g, err := admin.Generators().Create(ctx, client.CreateGeneratorRequest{Name: cfg.Prefix + "-generator"})
	if err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("create generator: %w", err)
	}
	st, err := admin.Stacks().Create(ctx, client.CreateStackRequest{Name: name, GeneratorID: g.Generator.ID})
	if err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("create stack: %w", err)
	}
	if _, err := admin.Stacks().CreateDeploymentObject(ctx, st.ID, manifest(cfg.Prefix, 0), false); err != nil {
		return uuid.Nil, uuid.Nil, fmt.Errorf("first deployment object: %w", err)
	}
	return g.Generator.ID, st.ID, nil
}

// newTransport is the one connection pool of every simulated agent's REST requests.
func newTransport(conns int) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxConnsPerHost = conns
	t.MaxIdleConnsPerHost = conns
	t.MaxIdleConns = conns
	return t
}
