package resource

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// Label is one label as the label verbs print it.
type Label struct {
	Label string `json:"label"`
}

// Annotation is one annotation as the annotation verbs print it.
type Annotation struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LabelSpec is the table of labels.
var LabelSpec = output.Spec[Label]{
	Kind: "label",
	Name: func(l Label) string { return l.Label },
	Columns: []output.Column[Label]{
		output.Text("LABEL", func(l Label) string { return l.Label }),
	},
}

// AnnotationSpec is the table of annotations.
var AnnotationSpec = output.Spec[Annotation]{
	Kind: "annotation",
	Name: func(a Annotation) string { return a.Key },
	Columns: []output.Column[Annotation]{
		output.Text("KEY", func(a Annotation) string { return a.Key }),
		output.Text("VALUE", func(a Annotation) string { return a.Value }),
	},
}

// MetaAPI connects the label and annotation verbs to one kind of resource.
type MetaAPI struct {
	// Noun is the resource's command name ("agent", "stack", "template").
	Noun string
	// Complete completes the resource argument.
	Complete cobra.CompletionFunc
	// Resolve turns the argument into the resource id.
	Resolve func(ctx context.Context, c *client.Client, ref string) (uuid.UUID, error)

	Labels           func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Label, error)
	AddLabel         func(ctx context.Context, c *client.Client, id uuid.UUID, label string) error
	RemoveLabel      func(ctx context.Context, c *client.Client, id uuid.UUID, label string) error
	Annotations      func(ctx context.Context, c *client.Client, id uuid.UUID) ([]Annotation, error)
	AddAnnotation    func(ctx context.Context, c *client.Client, id uuid.UUID, key, value string) error
	RemoveAnnotation func(ctx context.Context, c *client.Client, id uuid.UUID, key string) error
}

// MetaOptions are the inputs of a label or annotation verb.
type MetaOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Items   []string
	Format  output.Format
}

func (api MetaAPI) resolve(ctx context.Context, f *cmdutil.Factory, ref string) (*client.Client, uuid.UUID, error) {
	c, err := f.Client()
	if err != nil {
		return nil, uuid.Nil, err
	}
	id, err := api.Resolve(ctx, c, ref)
	return c, id, err
}

func (api MetaAPI) firstArg() cobra.CompletionFunc {
	return cmdutil.OnlyFirstArg(api.Complete)
}

// NewCmdLabel returns "<noun> label" with list, add and remove.
func NewCmdLabel(f *cmdutil.Factory, api MetaAPI) *cobra.Command {
	upper := strings.ToUpper(api.Noun)
	cmd := &cobra.Command{
		Use:     "label <command>",
		Aliases: []string{"labels"},
		Short:   "Manage the labels of a " + api.Noun,
		Example: fmt.Sprintf("  brokkrctl %[1]s label list %[2]s\n  brokkrctl %[1]s label add %[2]s env=prod edge\n  brokkrctl %[1]s label remove %[2]s edge", api.Noun, upper),
	}
	list := &cobra.Command{
		Use:               "list " + upper,
		Aliases:           []string{"ls"},
		Short:             "List the labels of a " + api.Noun,
		Example:           fmt.Sprintf("  brokkrctl %s label list %s -o json", api.Noun, upper),
		Args:              cmdutil.ExactArgs(1, api.Noun),
		ValidArgsFunction: api.firstArg(),
	}
	lopts := &MetaOptions{Factory: f}
	output.AddFormatFlag(list, &lopts.Format)
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if err := lopts.Format.Validate(); err != nil {
			return err
		}
		c, id, err := api.resolve(cmd.Context(), f, args[0])
		if err != nil {
			return err
		}
		labels, err := api.Labels(cmd.Context(), c, id)
		if err != nil {
			return err
		}
		sort.Slice(labels, func(i, j int) bool { return labels[i].Label < labels[j].Label })
		return output.PrintList(output.NewPrinter(f, lopts.Format), LabelSpec, labels)
	}
	add := &cobra.Command{
		Use:               "add " + upper + " LABEL...",
		Short:             "Add labels to a " + api.Noun,
		Long:              "Add labels to a " + api.Noun + ". A label it already carries is left as is.",
		Example:           fmt.Sprintf("  brokkrctl %s label add %s gpu region-eu", api.Noun, upper),
		Args:              minArgs(2, api.Noun+" and at least one label"),
		ValidArgsFunction: api.firstArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, id, err := api.resolve(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			for _, l := range args[1:] {
				err := api.AddLabel(cmd.Context(), c, id, l)
				if client.IsConflict(err) {
					output.Successf(f.IOStreams, "%s %s already has label %s", cases(api.Noun), args[0], l)
					continue
				}
				if err != nil {
					return fmt.Errorf("add label %s: %w", l, err)
				}
				output.Successf(f.IOStreams, "Added label %s to %s %s", l, api.Noun, args[0])
			}
			return nil
		},
	}
	remove := &cobra.Command{
		Use:               "remove " + upper + " LABEL...",
		Aliases:           []string{"rm"},
		Short:             "Remove labels from a " + api.Noun,
		Example:           fmt.Sprintf("  brokkrctl %s label remove %s gpu", api.Noun, upper),
		Args:              minArgs(2, api.Noun+" and at least one label"),
		ValidArgsFunction: api.completeLabels(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, id, err := api.resolve(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			for _, l := range args[1:] {
				if err := api.RemoveLabel(cmd.Context(), c, id, l); err != nil {
					return fmt.Errorf("remove label %s: %w", l, err)
				}
				output.Successf(f.IOStreams, "Removed label %s from %s %s", l, api.Noun, args[0])
			}
			return nil
		},
	}
	cmd.AddCommand(list, add, remove)
	return cmd
}

// NewCmdAnnotation returns "<noun> annotation" with list, add and remove.
func NewCmdAnnotation(f *cmdutil.Factory, api MetaAPI) *cobra.Command {
	upper := strings.ToUpper(api.Noun)
	cmd := &cobra.Command{
		Use:     "annotation <command>",
		Aliases: []string{"annotations"},
		Short:   "Manage the annotations of a " + api.Noun,
		Example: fmt.Sprintf("  brokkrctl %[1]s annotation list %[2]s\n  brokkrctl %[1]s annotation add %[2]s region=eu tier=web\n  brokkrctl %[1]s annotation remove %[2]s region", api.Noun, upper),
	}
	list := &cobra.Command{
		Use:               "list " + upper,
		Aliases:           []string{"ls"},
		Short:             "List the annotations of a " + api.Noun,
		Example:           fmt.Sprintf("  brokkrctl %s annotation list %s -o yaml", api.Noun, upper),
		Args:              cmdutil.ExactArgs(1, api.Noun),
		ValidArgsFunction: api.firstArg(),
	}
	lopts := &MetaOptions{Factory: f}
	output.AddFormatFlag(list, &lopts.Format)
	list.RunE = func(cmd *cobra.Command, args []string) error {
		if err := lopts.Format.Validate(); err != nil {
			return err
		}
		c, id, err := api.resolve(cmd.Context(), f, args[0])
		if err != nil {
			return err
		}
		anns, err := api.Annotations(cmd.Context(), c, id)
		if err != nil {
			return err
		}
		sort.Slice(anns, func(i, j int) bool { return anns[i].Key < anns[j].Key })
		return output.PrintList(output.NewPrinter(f, lopts.Format), AnnotationSpec, anns)
	}
	add := &cobra.Command{
		Use:   "add " + upper + " KEY=VALUE...",
		Short: "Add annotations to a " + api.Noun,
		Long: "Add annotations to a " + api.Noun + `. A key it already carries is a conflict: remove the
annotation first to change its value.`,
		Example:           fmt.Sprintf("  brokkrctl %s annotation add %s region=eu", api.Noun, upper),
		Args:              minArgs(2, api.Noun+" and at least one KEY=VALUE"),
		ValidArgsFunction: api.firstArg(),
		RunE: func(cmd *cobra.Command, args []string) error {
			pairs := make([]Annotation, 0, len(args)-1)
			for _, p := range args[1:] {
				k, v, ok := strings.Cut(p, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return cmdutil.FlagErrorf("invalid annotation %q: want KEY=VALUE", p)
				}
				pairs = append(pairs, Annotation{Key: strings.TrimSpace(k), Value: v})
			}
			c, id, err := api.resolve(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			for _, p := range pairs {
				if err := api.AddAnnotation(cmd.Context(), c, id, p.Key, p.Value); err != nil {
					return fmt.Errorf("add annotation %s: %w", p.Key, err)
				}
				output.Successf(f.IOStreams, "Added annotation %s=%s to %s %s", p.Key, p.Value, api.Noun, args[0])
			}
			return nil
		},
	}
	remove := &cobra.Command{
		Use:               "remove " + upper + " KEY...",
		Aliases:           []string{"rm"},
		Short:             "Remove annotations from a " + api.Noun,
		Example:           fmt.Sprintf("  brokkrctl %s annotation remove %s region", api.Noun, upper),
		Args:              minArgs(2, api.Noun+" and at least one key"),
		ValidArgsFunction: api.completeKeys(f),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, id, err := api.resolve(cmd.Context(), f, args[0])
			if err != nil {
				return err
			}
			for _, k := range args[1:] {
				k, _, _ = strings.Cut(k, "=")
				if err := api.RemoveAnnotation(cmd.Context(), c, id, k); err != nil {
					return fmt.Errorf("remove annotation %s: %w", k, err)
				}
				output.Successf(f.IOStreams, "Removed annotation %s from %s %s", k, api.Noun, args[0])
			}
			return nil
		},
	}
	cmd.AddCommand(list, add, remove)
	return cmd
}

func (api MetaAPI) completeLabels(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return api.Complete(cmd, args, toComplete)
		}
		return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
			id, err := api.Resolve(ctx, c, args[0])
			if err != nil {
				return nil, err
			}
			labels, err := api.Labels(ctx, c, id)
			out := make([]cmdutil.Candidate, len(labels))
			for i, l := range labels {
				out[i] = cmdutil.Candidate{Value: l.Label}
			}
			return out, err
		})(cmd, args, toComplete)
	}
}

func (api MetaAPI) completeKeys(f *cmdutil.Factory) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) == 0 {
			return api.Complete(cmd, args, toComplete)
		}
		return cmdutil.CompleteFrom(f, func(ctx context.Context, c *client.Client) ([]cmdutil.Candidate, error) {
			id, err := api.Resolve(ctx, c, args[0])
			if err != nil {
				return nil, err
			}
			anns, err := api.Annotations(ctx, c, id)
			out := make([]cmdutil.Candidate, len(anns))
			for i, a := range anns {
				out[i] = cmdutil.Candidate{Value: a.Key, Description: a.Value}
			}
			return out, err
		})(cmd, args, toComplete)
	}
}

func minArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < n {
			return cmdutil.FlagErrorf("missing arguments: want %s", what)
		}
		return nil
	}
}

// MinArgs requires at least n positional arguments, as a usage error naming what is wanted.
func MinArgs(n int, what string) cobra.PositionalArgs { return minArgs(n, what) }

func cases(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
