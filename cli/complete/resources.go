package complete

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/client"
)

// AgentIDs completes agent ids, described by name and cluster.
func AgentIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, listAgents, func(a client.Agent) []Candidate {
		return []Candidate{{Value: a.ID.String(), Description: a.Name + " (" + a.ClusterName + ")"}}
	})
}

// Agents completes agent ids and NAME/CLUSTER references.
func Agents(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, listAgents, func(a client.Agent) []Candidate {
		return []Candidate{{Value: a.Name + "/" + a.ClusterName, Description: a.ID.String()},
			{Value: a.ID.String(), Description: a.Name + " (" + a.ClusterName + ")"}}
	})
}

func listAgents(ctx context.Context, c *client.Client) ([]client.Agent, error) {
	return c.Agents().List(ctx)
}

// Generators completes generator names and ids (each described by the other).
func Generators(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]client.Generator, error) {
		return c.Generators().List(ctx)
	}, func(g client.Generator) []Candidate {
		return []Candidate{{Value: g.Name, Description: g.ID.String()}, {Value: g.ID.String(), Description: g.Name}}
	})
}

// WorkOrderIDs completes the ids of queued work orders, described by type and status.
func WorkOrderIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]client.WorkOrder, error) {
		return c.WorkOrders().List(ctx, nil)
	}, func(w client.WorkOrder) []Candidate {
		return []Candidate{{Value: w.ID.String(), Description: w.WorkType + " " + w.Status}}
	})
}

// WorkOrderLogIDs completes the ids of finished work orders.
func WorkOrderLogIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]client.WorkOrderLog, error) {
		return c.WorkOrders().Log(ctx, &client.WorkOrderLogOptions{Limit: 200})
	}, func(e client.WorkOrderLog) []Candidate {
		res := "failed"
		if e.Success {
			res = "succeeded"
		}
		return []Candidate{{Value: e.ID.String(), Description: e.WorkType + " " + res}}
	})
}

// Stacks completes stack names and ids (each described by the other).
func Stacks(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, listStacks, func(s client.Stack) []Candidate {
		return []Candidate{{Value: s.Name, Description: s.ID.String()}, {Value: s.ID.String(), Description: s.Name}}
	})
}

// StackIDs completes stack ids, described by name.
func StackIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, listStacks, func(s client.Stack) []Candidate {
		return []Candidate{{Value: s.ID.String(), Description: s.Name}}
	})
}

func listStacks(ctx context.Context, c *client.Client) ([]client.Stack, error) {
	return c.Stacks().List(ctx, nil)
}

// Templates completes template names and version ids.
func Templates(f *cmdutil.Factory) cobra.CompletionFunc {
	return templates(f, true)
}

// TemplateNames completes template names only.
func TemplateNames(f *cmdutil.Factory) cobra.CompletionFunc {
	return templates(f, false)
}

func templates(f *cmdutil.Factory, withIDs bool) cobra.CompletionFunc {
	return From(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		tmpls, err := c.Templates().List(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var out []Candidate
		for _, t := range tmpls {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, Candidate{Value: t.Name, Description: "template"})
			}
			if withIDs {
				out = append(out, Candidate{Value: t.ID.String(), Description: t.Name + " v" + strconv.Itoa(int(t.Version))})
			}
		}
		return out, nil
	})
}

// WebhookIDs completes webhook subscription ids, described by name.
func WebhookIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]client.WebhookResponse, error) {
		return c.Webhooks().List(ctx)
	}, func(h client.WebhookResponse) []Candidate {
		return []Candidate{{Value: h.ID.String(), Description: h.Name}}
	})
}

// EventTypes completes webhook event types.
func EventTypes(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]string, error) {
		return c.Webhooks().EventTypes(ctx)
	}, func(t string) []Candidate { return []Candidate{{Value: t}} })
}

// maxCompletedStacks bounds the stacks whose objects are listed while completing an object id.
const maxCompletedStacks = 25

// maxCompletedObjects bounds the objects per stack offered while completing an object id.
const maxCompletedObjects = 50

// ObjectIDs completes deployment object ids, described by stack and sequence.
func ObjectIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return From(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		stacks, err := c.Stacks().List(ctx, nil)
		if err != nil {
			return nil, err
		}
		if len(stacks) > maxCompletedStacks {
			stacks = stacks[:maxCompletedStacks]
		}
		var out []Candidate
		for _, s := range stacks {
			objs, err := resolve.StackObjects(ctx, c, s.ID, maxCompletedObjects, false)
			if err != nil {
				continue
			}
			for _, o := range objs {
				out = append(out, Candidate{Value: o.ID.String(), Description: s.Name + " #" + strconv.FormatInt(o.SequenceID, 10)})
			}
		}
		return out, nil
	})
}
