package resolve

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/brokkr/brokkr/client"
)

// ApplyWindow returns the apply window named by ref: an id, or a name.
func ApplyWindow(ctx context.Context, c *client.Client, ref string) (client.ApplyWindow, error) {
	ref = strings.TrimSpace(ref)
	if id, ok := parseID(ref); ok {
		return get(ctx, "apply window", id, c.ApplyWindows().Get)
	}
	windows, err := c.ApplyWindows().List(ctx)
	if err != nil {
		return client.ApplyWindow{}, fmt.Errorf("list apply windows: %w", err)
	}
	if found := named(windows, ref, func(w client.ApplyWindow) string { return w.Name }); len(found) > 0 {
		return found[0], nil
	}
	return client.ApplyWindow{}, &NotFoundError{Kind: "apply window", Ref: ref}
}

// StackNames maps the ids of the stacks the caller can see to their names.
func StackNames(ctx context.Context, c *client.Client) (map[uuid.UUID]string, error) {
	stacks, err := c.Stacks().List(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("list stacks: %w", err)
	}
	out := make(map[uuid.UUID]string, len(stacks))
	for _, s := range stacks {
		out[s.ID] = s.Name
	}
	return out, nil
}

// Holds are holds with the rollouts that name the waves they wait in.
type Holds struct {
	Holds []client.Hold
	// Rollouts maps rollout ids to rollouts (see HoldRollouts).
	Rollouts map[uuid.UUID]client.Rollout
}

// StackHolds reads the objects of the stack held back from agents (see Holds).
func StackHolds(ctx context.Context, c *client.Client, id uuid.UUID) (Holds, error) {
	return holdsOf(ctx, c, id, c.Stacks().Holds)
}

// AgentHolds reads the objects held back from the agent (see Holds).
func AgentHolds(ctx context.Context, c *client.Client, id uuid.UUID) (Holds, error) {
	return holdsOf(ctx, c, id, c.Agents().Holds)
}

func holdsOf(ctx context.Context, c *client.Client, id uuid.UUID, list func(context.Context, uuid.UUID) ([]client.Hold, error)) (Holds, error) {
	holds, err := list(ctx, id)
	if err != nil {
		return Holds{}, err
	}
	return Holds{Holds: holds, Rollouts: HoldRollouts(ctx, c, holds)}, nil
}

// HoldRollouts returns the latest rollouts of the stacks whose objects a rollout holds, by
// rollout id, so the holds can name their waves. A stack whose rollout cannot be read is
// left out: its holds show the wave index alone.
func HoldRollouts(ctx context.Context, c *client.Client, holds []client.Hold) map[uuid.UUID]client.Rollout {
	out := map[uuid.UUID]client.Rollout{}
	seen := map[uuid.UUID]bool{}
	for _, h := range holds {
		if h.RolloutID == nil || seen[h.StackID] {
			continue
		}
		seen[h.StackID] = true
		if r, err := c.Stacks().Rollout(ctx, h.StackID); err == nil {
			out[r.ID] = r
		}
	}
	return out
}
