// Package stack implements "brokkrctl stack": stacks, their labels and annotations, the
// history of their deployment objects, applying manifests, waiting for a rollout, diffs,
// rollbacks, health, drift, dependencies and telemetry.
package stack

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/meta"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/cli/watch"
	"github.com/brokkr/brokkr/client"
)

// stackArg is the stack argument of the verbs on one stack.
func stackArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "stack NAME or ID", Complete: complete.Stacks(f)}
}

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
  brokkrctl stack drift web
  brokkrctl stack rollback web --to 3
  brokkrctl stack rollout status web`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdApply(f, nil), NewCmdWait(f, nil), NewCmdObjects(f, nil),
		NewCmdDiff(f, nil), NewCmdRollback(f, nil), NewCmdHealth(f, nil), NewCmdDrift(f, nil),
		NewCmdTelemetry(f, nil, telemetryEvents), NewCmdTelemetry(f, nil, telemetryLogs),
		NewCmdRollout(f), NewCmdHolds(f, nil),
		meta.NewCmdLabel(f, MetaAPI(f)), meta.NewCmdAnnotation(f, MetaAPI(f)))
	return cmd
}

// MetaAPI connects the label and annotation verbs to stacks.
func MetaAPI(f *cmdutil.Factory) meta.API {
	return meta.For("stack", complete.Stacks(f), resolve.StackID,
		func(c *client.Client) meta.Service[client.StackLabel, client.StackAnnotation] { return c.Stacks() },
		func(l client.StackLabel) string { return l.Label },
		func(a client.StackAnnotation) meta.Annotation { return meta.Annotation{Key: a.Key, Value: a.Value} })
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
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List stacks",
		Long: `List the stacks the PAK can see: all of them for the admin (or those of --generator), a
generator's own otherwise. --watch re-renders the list every --interval.`,
		Example: `  brokkrctl stack list
  brokkrctl stack list --generator ci -o wide
  brokkrctl stack list --watch`,
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList,
		Check: func(*cobra.Command) error { return watch.CheckFlags(opts.Watch, opts.Interval) }})
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Only stacks of this generator (name or id)")
	watch.AddFlags(cmd, &opts.Watch, &opts.Interval)
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	gen, err := resolve.OptionalGeneratorID(ctx, c, opts.Generator)
	if err != nil {
		return err
	}
	render := func(ctx context.Context, p *output.Printer) error {
		stacks, err := c.Stacks().List(ctx, gen)
		if err != nil {
			return err
		}
		return output.PrintList(p, specs.Stack, stacks)
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	return watch.Render(ctx, p, opts.Watch, opts.Interval, "brokkrctl stack list", render)
}

// GetOptions are the inputs of stack get.
type GetOptions = verb.RefOptions

// NewCmdGet returns stack get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:   "get NAME|ID",
		Short: "Show a stack, the stacks it depends on and what agents wait for",
		Long: `Show a stack. When it depends on other stacks (annotation brokkr.io/depends-on), the
stacks it depends on follow, and the agents that wait to apply it, with what each waits for
and why. -o json and -o yaml print the stack with a "dependencies" field.`,
		Example: "  brokkrctl stack get web\n  brokkrctl stack get web -o yaml",
	}, stackArg(f), getStackDetail, printStackDetail)
}

// CreateOptions are the inputs of stack create.
type CreateOptions struct {
	Factory     *cmdutil.Factory
	Name        string
	Generator   string
	Description string
	// HasDescription is set when --description was given (possibly empty).
	HasDescription bool
	Format         output.Format
}

// NewCmdCreate returns stack create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME [--generator NAME|ID] [flags]",
		Short: "Create an empty stack",
		Long: `Create an empty stack named NAME (or --name) owned by a generator. stack apply creates
stacks on the way; use create to set one up before its first manifests.`,
		Example: "  brokkrctl stack create web --generator ci --description \"web tier\"\n  brokkrctl stack create web",
	}, &opts.Name, "Name of the stack (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(cmd *cobra.Command) error {
			if opts.Name == "" {
				return cmdutil.FlagErrorf("--name is required")
			}
			opts.HasDescription = cmd.Flags().Changed("description")
			return nil
		}})
	cmd.Flags().StringVar(&opts.Generator, "generator", "", "Owning generator, name or id (required with an admin PAK)")
	cmd.Flags().StringVar(&opts.Description, "description", "", "Description")
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	return cmd
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (client.Stack, error) {
		genID, err := owningGenerator(ctx, c, opts.Generator)
		if err != nil {
			return client.Stack{}, err
		}
		req := client.CreateStackRequest{Name: opts.Name, GeneratorID: genID}
		if opts.HasDescription {
			req.Description = &opts.Description
		}
		return c.Stacks().Create(ctx, req)
	}
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Stack, create, func(s client.Stack) string {
		return "Created stack " + s.Name
	})
}

// UpdateOptions are the inputs of stack update.
type UpdateOptions = verb.RenameOptions

// NewCmdUpdate returns stack update; runF replaces the run function in tests.
func NewCmdUpdate(f *cmdutil.Factory, runF func(*UpdateOptions) error) *cobra.Command {
	return verb.RenameCmd(f, runF, &cobra.Command{
		Use:     "update NAME|ID [--name NAME] [--description TEXT]",
		Short:   "Rename a stack or change its description",
		Example: "  brokkrctl stack update web --description \"public web tier\"",
	}, stackArg(f), runUpdate)
}

func runUpdate(ctx context.Context, opts *UpdateOptions) error {
	update := verb.Via(resolve.Stack, opts.Ref, func(ctx context.Context, c *client.Client, v client.Stack) (client.Stack, error) {
		opts.Apply(&v.Name, &v.Description)
		return c.Stacks().Update(ctx, v)
	})
	return verb.Change(ctx, opts.Factory, opts.Format, specs.Stack, update, func(v client.Stack) string {
		return "Updated stack " + v.Name
	})
}

// DeleteOptions are the inputs of stack delete.
type DeleteOptions = verb.DeleteOptions

// NewCmdDelete returns stack delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete a stack",
		Long: `Delete a stack and its deployment objects. The broker leaves a deletion marker so agents
remove what they applied. On a terminal the command asks for confirmation unless --yes is
given; without a terminal --yes is required.`,
		Example: "  brokkrctl stack delete web --yes",
		Aliases: []string{"rm"},
	}, stackArg(f), resolve.Stack, verb.Deletion[client.Stack]{
		Question: func(s client.Stack) string {
			return fmt.Sprintf("Delete stack %s? Agents will remove its resources.", s.Name)
		},
		Delete: func(ctx context.Context, c *client.Client, s client.Stack) error { return c.Stacks().Delete(ctx, s.ID) },
		Done:   func(s client.Stack) string { return "Deleted stack " + s.Name },
	})
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
	cmd := verb.OneArg(&cobra.Command{
		Use:     "objects NAME|ID",
		Aliases: []string{"history"},
		Short:   "Show the history of a stack's deployment objects",
		Long: `List a stack's deployment objects, newest first: sequence, id, checksum, age and whether
the object is a deletion marker. The manifests themselves are fetched only for -o json and
-o yaml; --limit keeps the newest objects only.`,
		Example: "  brokkrctl stack objects web\n  brokkrctl stack history web --limit 5 -o json",
	}, stackArg(f), verb.Setup[ObjectsOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runObjects,
		Check: func(*cobra.Command) error { return cmdutil.CheckLimit(opts.Limit) }})
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Show the newest N objects only (0 = all)")
	return cmd
}

func runObjects(ctx context.Context, opts *ObjectsOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.DeploymentObject, verb.Via(resolve.StackID, opts.Ref,
		func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.DeploymentObject, error) {
			return resolve.StackObjects(ctx, c, id, opts.Limit, opts.Format.IsWire())
		}))
}
