package resource

import (
	"context"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// CompleteAgents completes agent ids and NAME/CLUSTER references.
func CompleteAgents(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		agents, err := c.Agents().List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]cmdutil.Candidate, 0, 2*len(agents))
		for _, a := range agents {
			out = append(out, cmdutil.Candidate{Value: a.Name + "/" + a.ClusterName, Description: a.ID.String()},
				cmdutil.Candidate{Value: a.ID.String(), Description: a.Name + " (" + a.ClusterName + ")"})
		}
		return out, nil
	})
}

// CompleteTemplates completes template names and version ids.
func CompleteTemplates(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		tmpls, err := c.Templates().List(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		out := make([]cmdutil.Candidate, 0, 2*len(tmpls))
		for _, t := range tmpls {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, cmdutil.Candidate{Value: t.Name, Description: "template"})
			}
			out = append(out, cmdutil.Candidate{Value: t.ID.String(), Description: t.Name + " v" + strconv.Itoa(int(t.Version))})
		}
		return out, nil
	})
}

// CompleteTemplateNames completes template names only.
func CompleteTemplateNames(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		tmpls, err := c.Templates().List(ctx)
		if err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		var out []cmdutil.Candidate
		for _, t := range tmpls {
			if !seen[t.Name] {
				seen[t.Name] = true
				out = append(out, cmdutil.Candidate{Value: t.Name, Description: "template"})
			}
		}
		return out, nil
	})
}

// CompleteWebhookIDs completes webhook subscription ids, described by name.
func CompleteWebhookIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		hooks, err := c.Webhooks().List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]cmdutil.Candidate, 0, len(hooks))
		for _, h := range hooks {
			out = append(out, cmdutil.Candidate{Value: h.ID.String(), Description: h.Name})
		}
		return out, nil
	})
}

// CompleteEventTypes completes webhook event types.
func CompleteEventTypes(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		types, err := c.Webhooks().EventTypes(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]cmdutil.Candidate, 0, len(types))
		for _, t := range types {
			out = append(out, cmdutil.Candidate{Value: t})
		}
		return out, nil
	})
}

// maxCompletedStacks bounds the stacks whose objects are listed while completing an object id.
const maxCompletedStacks = 25

// maxCompletedObjects bounds the objects per stack offered while completing an object id.
const maxCompletedObjects = 50

// CompleteObjectIDs completes deployment object ids, described by stack and sequence.
func CompleteObjectIDs(f *cmdutil.Factory) cobra.CompletionFunc {
	return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
		stacks, err := c.Stacks().List(ctx, nil)
		if err != nil {
			return nil, err
		}
		if len(stacks) > maxCompletedStacks {
			stacks = stacks[:maxCompletedStacks]
		}
		var out []cmdutil.Candidate
		for _, s := range stacks {
			objs, err := ObjectsOf(ctx, c, s.ID, maxCompletedObjects, false)
			if err != nil {
				continue
			}
			for _, o := range objs {
				out = append(out, cmdutil.Candidate{Value: o.ID.String(), Description: s.Name + " #" + strconv.FormatInt(o.SequenceID, 10)})
			}
		}
		return out, nil
	})
}

// Fixed completes a fixed list of words.
func Fixed(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}
