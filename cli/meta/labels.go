package meta

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// ListOptions are the inputs of label list and annotation list.
type ListOptions struct {
	Factory *cmdutil.Factory
	API     API
	Ref     string
	Format  output.Format
}

// LabelsOptions are the inputs of label add and label remove.
type LabelsOptions struct {
	Factory *cmdutil.Factory
	API     API
	Ref     string
	Labels  []string
}

// NewCmdLabel returns "<noun> label" with list, add and remove.
func NewCmdLabel(f *cmdutil.Factory, api API) *cobra.Command {
	upper := strings.ToUpper(api.Noun)
	cmd := &cobra.Command{
		Use:     "label <command>",
		Aliases: []string{"labels"},
		Short:   "Manage the labels of " + api.a(),
		Example: fmt.Sprintf("  brokkrctl %[1]s label list %[2]s\n  brokkrctl %[1]s label add %[2]s env=prod edge\n  brokkrctl %[1]s label remove %[2]s edge", api.Noun, upper),
	}
	cmd.AddCommand(NewCmdLabelList(f, api, nil), NewCmdLabelAdd(f, api, nil), NewCmdLabelRemove(f, api, nil))
	return cmd
}

// newListCmd builds "list NOUN" of the label or annotation verbs.
func newListCmd(f *cmdutil.Factory, api API, runF func(*ListOptions) error, run func(context.Context, *ListOptions) error, what, example string) *cobra.Command {
	opts := &ListOptions{Factory: f, API: api}
	return verb.OneArg(&cobra.Command{
		Use:     "list " + strings.ToUpper(api.Noun),
		Aliases: []string{"ls"},
		Short:   "List the " + what + " of " + api.a(),
		Example: example,
	}, verb.Arg{What: api.Noun, Complete: api.Complete}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: run})
}

// NewCmdLabelList returns "<noun> label list"; runF replaces the run function in tests.
func NewCmdLabelList(f *cmdutil.Factory, api API, runF func(*ListOptions) error) *cobra.Command {
	return newListCmd(f, api, runF, runLabelList, "labels",
		fmt.Sprintf("  brokkrctl %s label list %s -o json", api.Noun, strings.ToUpper(api.Noun)))
}

func runLabelList(ctx context.Context, opts *ListOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, LabelSpec, verb.Via(opts.API.Resolve, opts.Ref,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Label, error) {
			labels, err := opts.API.Labels(ctx, c, id)
			if err != nil {
				return nil, err
			}
			sort.Slice(labels, func(i, j int) bool { return labels[i].Label < labels[j].Label })
			return labels, nil
		}))
}

// newLabelsCmd builds label add or label remove.
func newLabelsCmd(f *cmdutil.Factory, api API, runF func(*LabelsOptions) error, run func(context.Context, *LabelsOptions) error, cmd *cobra.Command) *cobra.Command {
	opts := &LabelsOptions{Factory: f, API: api}
	cmd.Args = cmdutil.MinArgs(2, api.Noun+" and at least one label")
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		opts.Ref, opts.Labels = args[0], args[1:]
		return cmdutil.Run(cmd, opts, runF, run)
	}
	return cmd
}

// NewCmdLabelAdd returns "<noun> label add"; runF replaces the run function in tests.
func NewCmdLabelAdd(f *cmdutil.Factory, api API, runF func(*LabelsOptions) error) *cobra.Command {
	return newLabelsCmd(f, api, runF, runLabelAdd, &cobra.Command{
		Use:               "add " + strings.ToUpper(api.Noun) + " LABEL...",
		Short:             "Add labels to " + api.a(),
		Long:              "Add labels to " + api.a() + ". A label it already carries is left as is.",
		Example:           fmt.Sprintf("  brokkrctl %s label add %s gpu region-eu", api.Noun, strings.ToUpper(api.Noun)),
		ValidArgsFunction: complete.OnlyFirstArg(api.Complete),
	})
}

func runLabelAdd(ctx context.Context, opts *LabelsOptions) error {
	api, ios := opts.API, opts.Factory.IOStreams
	return api.withID(ctx, opts.Factory, opts.Ref, func(c *client.Client, id uuid.UUID) error {
		for _, l := range opts.Labels {
			err := api.AddLabel(ctx, c, id, l)
			if client.IsConflict(err) {
				output.Successf(ios, "%s %s already has label %s", upperFirst(api.Noun), opts.Ref, l)
				continue
			}
			if err != nil {
				return fmt.Errorf("add label %s: %w", l, err)
			}
			output.Successf(ios, "Added label %s to %s %s", l, api.Noun, opts.Ref)
		}
		return nil
	})
}

// NewCmdLabelRemove returns "<noun> label remove"; runF replaces the run function in tests.
func NewCmdLabelRemove(f *cmdutil.Factory, api API, runF func(*LabelsOptions) error) *cobra.Command {
	return newLabelsCmd(f, api, runF, runLabelRemove, &cobra.Command{
		Use:     "remove " + strings.ToUpper(api.Noun) + " LABEL...",
		Aliases: []string{"rm"},
		Short:   "Remove labels from " + api.a(),
		Example: fmt.Sprintf("  brokkrctl %s label remove %s gpu", api.Noun, strings.ToUpper(api.Noun)),
		ValidArgsFunction: api.completeAfterFirst(f, func(ctx context.Context, c *client.Client, id uuid.UUID) ([]complete.Candidate, error) {
			labels, err := api.Labels(ctx, c, id)
			out := make([]complete.Candidate, len(labels))
			for i, l := range labels {
				out[i] = complete.Candidate{Value: l.Label}
			}
			return out, err
		}),
	})
}

func runLabelRemove(ctx context.Context, opts *LabelsOptions) error {
	api, ios := opts.API, opts.Factory.IOStreams
	return api.withID(ctx, opts.Factory, opts.Ref, func(c *client.Client, id uuid.UUID) error {
		for _, l := range opts.Labels {
			if err := api.RemoveLabel(ctx, c, id, l); err != nil {
				return fmt.Errorf("remove label %s: %w", l, err)
			}
			output.Successf(ios, "Removed label %s from %s %s", l, api.Noun, opts.Ref)
		}
		return nil
	})
}
