// Package complete is brokkrctl's shell completion of the names and ids the broker knows
// (agents, stacks, templates, ...) and of configuration contexts. Broker calls are bounded by
// Timeout and fail silently: a slow or unreachable broker yields no suggestions, not a hang.
package complete

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// Timeout bounds the broker calls made while completing a word.
const Timeout = 2 * time.Second

// Candidate is one completion suggestion.
type Candidate struct {
	Value       string
	Description string
}

// From builds a cobra completion function from a lister. Failures (no configuration, broker
// down, 401) are silent: the shell just gets no suggestions. Values already given as
// arguments are not offered again.
func From(f *cmdutil.Factory, list func(ctx context.Context, c *client.Client) ([]Candidate, error)) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		c, err := f.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ctx, cancel := context.WithTimeout(context.Background(), Timeout)
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

// each builds a completion function from a broker listing: every item listed becomes the
// candidates cands returns for it.
func each[T any](f *cmdutil.Factory, list func(ctx context.Context, c *client.Client) ([]T, error), cands func(T) []Candidate) cobra.CompletionFunc {
	return From(f, func(ctx context.Context, c *client.Client) ([]Candidate, error) {
		items, err := list(ctx, c)
		if err != nil {
			return nil, err
		}
		var out []Candidate
		for _, it := range items {
			out = append(out, cands(it)...)
		}
		return out, nil
	})
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

// Fixed completes a fixed list of words.
func Fixed(words ...string) cobra.CompletionFunc {
	return cobra.FixedCompletions(words, cobra.ShellCompDirectiveNoFileComp)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// Contexts completes context names from the configuration file.
func Contexts(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		file, err := f.Config()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, c := range file.Contexts {
			out = append(out, cobra.CompletionWithDesc(c.Name, c.BrokerURL))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}
