// Package stack implements "brokkrctl stack": stacks, their labels and annotations, the
// history of their deployment objects, applying manifests, waiting for a rollout, diffs,
// rollbacks, health and telemetry.
package stack

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// NewCmdStack returns the stack noun.
func NewCmdStack(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "stack <command>",
		Aliases: []string{"stacks", "st"},
		Short:   "Manage stacks and apply manifests",
		Long: `Manage stacks: named collections of Kubernetes manifests owned by a generator. Every
change of a stack's manifests is a new, immutable deployment object; agents targeting the
stack apply its latest object.`,
		Example: `  brokkrctl stack apply -f ./manifests --stack web
  brokkrctl stack wait web --for applied --timeout 5m
  brokkrctl stack objects web
  brokkrctl stack rollback web --to 3`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdApply(f, nil), NewCmdWait(f, nil), NewCmdObjects(f, nil),
		NewCmdDiff(f, nil), NewCmdRollback(f, nil), NewCmdHealth(f, nil),
		NewCmdTelemetry(f, nil, telemetryEvents), NewCmdTelemetry(f, nil, telemetryLogs),
		resource.NewCmdLabel(f, MetaAPI(f)), resource.NewCmdAnnotation(f, MetaAPI(f)))
	return cmd
}

// MetaAPI connects the label and annotation verbs to stacks.
func MetaAPI(f *cmdutil.Factory) resource.MetaAPI {
	return resource.MetaAPI{
		Noun:     "stack",
		Complete: cmdutil.CompleteStacks(f),
		Resolve:  resource.StackID,
		Labels: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Label, error) {
			ls, err := c.Stacks().Labels(ctx, id)
			out := make([]resource.Label, len(ls))
			for i, l := range ls {
				out[i] = resource.Label{Label: l.Label}
			}
			return out, err
		},
		AddLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			_, err := c.Stacks().AddLabel(ctx, id, l)
			return err
		},
		RemoveLabel: func(ctx context.Context, c *client.Client, id uuid.UUID, l string) error {
			return c.Stacks().RemoveLabel(ctx, id, l)
		},
		Annotations: func(ctx context.Context, c *client.Client, id uuid.UUID) ([]resource.Annotation, error) {
			as, err := c.Stacks().Annotations(ctx, id)
			out := make([]resource.Annotation, len(as))
			for i, a := range as {
				out[i] = resource.Annotation{Key: a.Key, Value: a.Value}
			}
			return out, err
		},
		AddAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k, v string) error {
			_, err := c.Stacks().AddAnnotation(ctx, id, k, v)
			return err
		},
		RemoveAnnotation: func(ctx context.Context, c *client.Client, id uuid.UUID, k string) error {
			return c.Stacks().RemoveAnnotation(ctx, id, k)
		},
	}
}

// Spec is the table of stacks.
var Spec = output.Spec[client.Stack]{
	Kind: "stack",
	Name: func(s client.Stack) string { return s.Name },
	Columns: []output.Column[client.Stack]{
		output.Text("ID", func(s client.Stack) string { return s.ID.String() }),
		output.Text("NAME", func(s client.Stack) string { return s.Name }),
		output.Text("GENERATOR", func(s client.Stack) string { return s.GeneratorID.String() }),
		output.Age("AGE", func(s client.Stack) *time.Time { return &s.CreatedAt }),
		output.WideOnly(output.Age("UPDATED", func(s client.Stack) *time.Time { return &s.UpdatedAt })),
		output.WideOnly(output.Text("DESCRIPTION", func(s client.Stack) string { return resource.OrDash(s.Description) })),
	},
}

// ObjectSpec is the table of deployment objects.
var ObjectSpec = output.Spec[client.DeploymentObject]{
	Kind:   "deploymentobject",
	Plural: "deployment objects",
	Name:   func(o client.DeploymentObject) string { return o.ID.String() },
	Columns: []output.Column[client.DeploymentObject]{
		output.Text("SEQ", func(o client.DeploymentObject) string { return strconv.FormatInt(o.SequenceID, 10) }),
		output.Text("ID", func(o client.DeploymentObject) string { return o.ID.String() }),
		output.Text("CHECKSUM", func(o client.DeploymentObject) string { return resource.Short(o.YAMLChecksum) }),
		output.Age("CREATED", func(o client.DeploymentObject) *time.Time { return &o.CreatedAt }),
		output.Text("MARKER", func(o client.DeploymentObject) string {
			if o.IsDeletionMarker {
				return "deletion"
			}
			return "-"
		}),
		output.WideOnly(output.Text("STACK", func(o client.DeploymentObject) string { return o.StackID.String() })),
		output.WideOnly(output.Text("SIZE", func(o client.DeploymentObject) string { return strconv.Itoa(len(o.YAMLContent)) })),
	},
}

// ListOptions are the inputs of stack list.
type ListOptions struct {
	Factory   *cmdutil.Factory
	Generator string
	Watch     bool
	Interval  time.Duration
	Format    output.Format
}

// NewCmdList returns stack list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List stacks",
		Long: `List the stacks the PAK can see: all of them for the admin (or those of --generator), a
generator's own otherwise. --watch re-renders the list every --interval.`,
		Example: `  brokkrctl stack list
  brokkrctl stack list --generator ci -o wide
  brokkrctl stack list --watch`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Watch && opts.Interval < 100*time.Millisecond {
				return cmdutil.FlagErrorf("--interval must be at least 100ms")
			}
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Only stacks of this generator (name or id)")
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Keep polling and re-render the list")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "Polling interval of --watch")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("generator", cmdutil.CompleteGenerators(f))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	var gen *uuid.UUID
	if opts.Generator != "" {
		id, err := resource.GeneratorID(ctx, c, opts.Generator)
		if err != nil {
			return err
		}
		gen = &id
	}
	render := func(ctx context.Context, p *output.Printer) error {
		stacks, err := c.Stacks().List(ctx, gen)
		if err != nil {
			return err
		}
		return output.PrintList(p, Spec, stacks)
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	if !opts.Watch {
		return render(ctx, p)
	}
	return resource.Watch(ctx, p, opts.Interval, "brokkrctl stack list", render)
}

// GetOptions are the inputs of stack get.
type GetOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
}

// NewCmdGet returns stack get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:               "get NAME|ID",
		Short:             "Show a stack",
		Example:           "  brokkrctl stack get web\n  brokkrctl stack get web -o yaml",
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			s, err := resource.Stack(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, s)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// CreateOptions are the inputs of stack create.
type CreateOptions struct {
	Factory     *cmdutil.Factory
	Name        string
	Generator   string
	Description string
	Format      output.Format
}

// NewCmdCreate returns stack create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "create --name NAME --generator NAME|ID",
		Short: "Create an empty stack",
		Long: `Create an empty stack owned by a generator. stack apply creates stacks on the way; use
create to set one up before its first manifests.`,
		Example: "  brokkrctl stack create --name web --generator ci --description \"web tier\"",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Name == "" {
				return cmdutil.FlagErrorf("--name is required")
			}
			if runF != nil {
				return runF(opts)
			}
			ctx := cmd.Context()
			c, err := f.Client()
			if err != nil {
				return err
			}
			genID, err := owningGenerator(ctx, c, opts.Generator)
			if err != nil {
				return err
			}
			req := client.CreateStackRequest{Name: opts.Name, GeneratorID: genID}
			if cmd.Flags().Changed("description") {
				req.Description = &opts.Description
			}
			s, err := c.Stacks().Create(ctx, req)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Created stack %s", s.Name)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, s)
		},
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "Name of the stack (required)")
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Owning generator, name or id (required with an admin PAK)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("generator", cmdutil.CompleteGenerators(f))
	return cmd
}

// UpdateOptions are the inputs of stack update.
type UpdateOptions struct {
	Factory     *cmdutil.Factory
	Ref         string
	Name        *string
	Description *string
	Format      output.Format
}

// NewCmdUpdate returns stack update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	opts := &UpdateOptions{Factory: f}
	var name, desc string
	cmd := &cobra.Command{
		Use:               "update NAME|ID [--name NAME] [--description TEXT]",
		Short:             "Rename a stack or change its description",
		Example:           "  brokkrctl stack update web --description \"public web tier\"",
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			opts.Ref = args[0]
			if cmd.Flags().Changed("name") {
				opts.Name = &name
			}
			if cmd.Flags().Changed("description") {
				opts.Description = &desc
			}
			if opts.Name == nil && opts.Description == nil {
				return cmdutil.FlagErrorf("nothing to change: give --name or --description")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			s, err := resource.Stack(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if opts.Name != nil {
				s.Name = *opts.Name
			}
			if opts.Description != nil {
				s.Description = opts.Description
			}
			s, err = c.Stacks().Update(cmd.Context(), s)
			if err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Updated stack %s", s.Name)
			return output.PrintOne(output.NewPrinter(f, opts.Format), Spec, s)
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "New name")
	cmd.Flags().StringVar(&desc, "description", "", "New description")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// DeleteOptions are the inputs of stack delete.
type DeleteOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Yes     bool
}

// NewCmdDelete returns stack delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	opts := &DeleteOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a stack",
		Long: `Delete a stack and its deployment objects. The broker leaves a deletion marker so agents
remove what they applied. On a terminal the command asks for confirmation unless --yes is
given; without a terminal --yes is required.`,
		Example:           "  brokkrctl stack delete web --yes",
		Aliases:           []string{"rm"},
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Ref = args[0]
			if !opts.Yes && !f.IOStreams.CanPrompt() {
				return cmdutil.FlagErrorf("--yes is required when not running interactively")
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			s, err := resource.Stack(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			if err := cmdutil.ConfirmDestructive(f, opts.Yes, fmt.Sprintf("Delete stack %s? Agents will remove its resources.", s.Name)); err != nil {
				return err
			}
			if err := c.Stacks().Delete(cmd.Context(), s.ID); err != nil {
				return err
			}
			output.Successf(f.IOStreams, "Deleted stack %s", s.Name)
			return nil
		},
	}
	cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Delete without asking for confirmation")
	return cmd
}

// ObjectsOptions are the inputs of stack objects.
type ObjectsOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Format  output.Format
	Limit   int
}

// NewCmdObjects returns stack objects; runF replaces the run function in tests.
func NewCmdObjects(f *cmdutil.Factory, runF func(*ObjectsOptions) error) *cobra.Command {
	opts := &ObjectsOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "objects NAME|ID",
		Aliases: []string{"history"},
		Short:   "Show the history of a stack's deployment objects",
		Long: `List a stack's deployment objects, newest first: sequence, id, checksum, age and whether
the object is a deletion marker. The manifests themselves are fetched only for -o json and
-o yaml; --limit keeps the newest objects only.`,
		Example:           "  brokkrctl stack objects web\n  brokkrctl stack history web --limit 5 -o json",
		Args:              cmdutil.ExactArgs(1, "stack NAME or ID"),
		ValidArgsFunction: cmdutil.OnlyFirstArg(cmdutil.CompleteStacks(f)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must not be negative")
			}
			opts.Ref = args[0]
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			id, err := resource.StackID(cmd.Context(), c, opts.Ref)
			if err != nil {
				return err
			}
			withYAML := opts.Format == output.FormatJSON || opts.Format == output.FormatYAML
			objs, err := resource.ObjectsOf(cmd.Context(), c, id, opts.Limit, withYAML)
			if err != nil {
				return err
			}
			return output.PrintList(output.NewPrinter(f, opts.Format), ObjectSpec, objs)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Show the newest N objects only (0 = all)")
	return cmd
}
