package stack

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/verb"
)

// ApplyOptions are the inputs of stack apply.
type ApplyOptions struct {
	Factory   *cmdutil.Factory
	File      string
	Stack     string
	Generator string
	Labels    []string
	// Urgent makes the new object pass through apply windows.
	Urgent bool
	Format output.Format
}

// NewCmdApply returns stack apply; runF replaces the run function in tests.
func NewCmdApply(f *cmdutil.Factory, runF func(*ApplyOptions) error) *cobra.Command {
	opts := &ApplyOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:   "apply -f DIR|FILE|- --stack NAME",
		Short: "Make manifests the latest deployment object of a stack",
		Long: `Apply Kubernetes manifests to a stack. -f names a directory (its top-level *.yaml and
*.yml files, in name order), one file, or "-" for stdin. Every object must be one an agent
can apply: apiVersion, kind and metadata.name set (each item of a List too); the broker
refuses anything else.

The files are joined into one bundle. The stack is created when it does not exist (owned by
the generator of a generator PAK, or by --generator with an admin PAK; an admin PAK needs
--generator only to create one) and gets every --label. When the stack's latest deployment object has the bundle's SHA-256 nothing is
written and the result is "unchanged"; otherwise the bundle becomes a new deployment object
and the result is "created" (first object) or "updated". The result is printed on stdout;
-o json prints {"result", "stack", "deployment_object"}.

--urgent marks the new object urgent: it passes through apply windows, reaching agents a
window holds back (a rollout policy still releases it wave by wave). An urgent apply of the
content of a latest object that is not urgent posts it again, urgent.`,
		Example: `  brokkrctl stack apply -f ./manifests --stack web
  brokkrctl stack apply -f deploy.yaml --stack web --label env=prod --generator ci
  kustomize build overlays/prod | brokkrctl stack apply -f - --stack web -o json
  brokkrctl stack apply -f ./hotfix --stack web --urgent`,
	}, verb.Setup[ApplyOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runApply,
		Check: func(*cobra.Command) error {
			if opts.File == "" {
				return cmdutil.FlagErrorf("-f is required: a directory, a file or - for stdin")
			}
			if strings.TrimSpace(opts.Stack) == "" {
				return cmdutil.FlagErrorf("--stack is required")
			}
			return nil
		}})
	fl := cmd.Flags()
	fl.StringVarP(&opts.File, "filename", "f", "", `Manifest directory or file ("-" reads stdin)`)
	fl.StringVar(&opts.Stack, "stack", "", "Stack name (created when missing)")
	fl.StringVar(&opts.Generator, "generator", "", "Owning generator, name or id (an admin PAK needs it to create the stack)")
	fl.StringArrayVar(&opts.Labels, "label", nil, "Label the stack, targeting agents with the label (repeatable; also --target-label)")
	cmdutil.FlagAlias(fl, "target-label", "label")
	fl.BoolVar(&opts.Urgent, "urgent", false, "Make the new object pass through apply windows")
	_ = cmd.RegisterFlagCompletionFunc("stack", complete.Stacks(f))
	_ = cmd.RegisterFlagCompletionFunc("generator", complete.Generators(f))
	_ = cmd.MarkFlagFilename("filename", "yaml", "yml")
	return cmd
}

func runApply(ctx context.Context, opts *ApplyOptions) error {
	f := opts.Factory
	ms, err := ReadManifests(opts.File, f.IOStreams.In)
	if err != nil {
		return err
	}
	bundle, err := BuildBundle(ms)
	if err != nil {
		return err
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	res, err := Apply(ctx, c, ApplyRequest{Stack: opts.Stack, Generator: opts.Generator, Labels: opts.Labels, Bundle: bundle, Urgent: opts.Urgent})
	if err != nil {
		return err
	}
	ios := f.IOStreams
	if res.StackCreated {
		output.Successf(ios, "Created stack %s", res.Stack.Name)
	}
	obj := res.DeploymentObject
	switch res.Result {
	case ResultUnchanged:
		output.Successf(ios, "Stack %s unchanged: deployment object #%d has checksum %s", res.Stack.Name, obj.SequenceID, obj.YAMLChecksum[:12])
	default:
		urgent := ""
		if obj.Urgent {
			urgent = ", urgent"
		}
		output.Successf(ios, "Stack %s %s: deployment object #%d (%s, checksum %s%s)", res.Stack.Name, res.Result, obj.SequenceID, obj.ID, obj.YAMLChecksum[:12], urgent)
	}
	if ok, err := output.WriteWire(ios.Out, opts.Format, res); ok {
		return err
	}
	if opts.Format == output.FormatName {
		_, err := fmt.Fprintf(ios.Out, "deploymentobject/%s\n", obj.ID)
		return err
	}
	_, err = fmt.Fprintln(ios.Out, res.Result)
	return err
}
