package cmdutil

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/client"
)

// CompletionTimeout bounds the broker calls made while completing a word: completion must
// feel instant, so a slow or unreachable broker yields no suggestions rather than a hang.
const CompletionTimeout = 2 * time.Second

// Candidate is one completion suggestion.
type Candidate struct {
	Value       string
	Description string
}

// CompleteFrom builds a cobra completion function from a lister. Failures (no
// configuration, broker down, 401) are silent: the shell just gets no suggestions. Values
// already given as arguments are not offered again.
func CompleteFrom(f *Factory, list func(ctx context.Context, c *client.Client) ([]Candidate, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), CompletionTimeout)
		defer cancel()
		cands, err := list(ctx, c)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		used := make(map[string]bool, len(args))
		for _, a := range args {
			used[a] = true
		}
		var out []cobra.Completion
		for _, cand := range cands {
			if used[cand.Value] || !strings.HasPrefix(cand.Value, toComplete) {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(cand.Value, oneLine(cand.Description)))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// OnlyFirstArg restricts a completion function to the first positional argument.
func OnlyFirstArg(fn cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		return fn(cmd, args, toComplete)
	}
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// CompleteAgentIDs completes agent ids, described by name and cluster.
func CompleteAgentIDs(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		agents, err := c.Agents().List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, len(agents))
		for _, a := range agents {
			out = append(out, Candidate{Value: a.ID.String(), Description: a.Name + " (" + a.ClusterName + ")"})
		}
		return out, nil
	})
}

// CompleteGenerators completes generator names and ids (each described by the other).
func CompleteGenerators(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		gens, err := c.Generators().List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, 2*len(gens))
		for _, g := range gens {
			out = append(out, Candidate{Value: g.Name, Description: g.ID.String()},
				Candidate{Value: g.ID.String(), Description: g.Name})
		}
		return out, nil
	})
}

// CompleteWorkOrderIDs completes the ids of queued work orders, described by type and status.
func CompleteWorkOrderIDs(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		orders, err := c.WorkOrders().List(ctx, nil)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, len(orders))
		for _, w := range orders {
			out = append(out, Candidate{Value: w.ID.String(), Description: w.WorkType + " " + w.Status})
		}
		return out, nil
	})
}

// CompleteWorkOrderLogIDs completes the ids of finished work orders.
func CompleteWorkOrderLogIDs(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		entries, err := c.WorkOrders().Log(ctx, &client.WorkOrderLogOptions{Limit: 200})
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, len(entries))
		for _, e := range entries {
			res := "failed"
			if e.Success {
				res = "succeeded"
			}
			out = append(out, Candidate{Value: e.ID.String(), Description: e.WorkType + " " + res})
		}
		return out, nil
	})
}

// CompleteStacks completes stack names and ids (each described by the other).
func CompleteStacks(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		stacks, err := c.Stacks().List(ctx, nil)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, 2*len(stacks))
		for _, s := range stacks {
			out = append(out, Candidate{Value: s.Name, Description: s.ID.String()},
				Candidate{Value: s.ID.String(), Description: s.Name})
		}
		return out, nil
	})
}

// CompleteStackIDs completes stack ids, described by name.
func CompleteStackIDs(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		stacks, err := c.Stacks().List(ctx, nil)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, len(stacks))
		for _, s := range stacks {
			out = append(out, Candidate{Value: s.ID.String(), Description: s.Name})
		}
		return out, nil
	})
}

// CompleteTemplateIDs completes template ids, described by name and version.
func CompleteTemplateIDs(f *Factory) cobra.CompletionFunc {
	return CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		tmpls, err := c.Templates().List(ctx)
		if err != nil {
			return nil, err
		}
		out := make([]Candidate, 0, len(tmpls))
		for _, t := range tmpls {
			out = append(out, Candidate{Value: t.ID.String(), Description: t.Name + " v" + strconv.Itoa(int(t.Version))})
		}
		return out, nil
	})
}
