package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// DiffOptions are the inputs of stack diff.
type DiffOptions struct {
	Factory *cmdutil.Factory
	Args    []string
	File    string
	// ExitCode makes a non-empty diff exit 1 (as diff(1) does).
	ExitCode bool
}

// NewCmdDiff returns stack diff; runF replaces the run function in tests.
func NewCmdDiff(f *cmdutil.Factory, runF func(*DiffOptions) error) *cobra.Command {
	opts := &DiffOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "diff NAME | OBJECT_A OBJECT_B | NAME -f DIR|FILE|-",
		Short: "Show a unified diff between deployment objects",
		Long: `Show a unified diff of deployment object YAML. With a stack, the latest object is compared
with the previous one; with two deployment object ids, the first with the second; with -f,
the stack's latest object with the bundle stack apply would post.`,
		Example: `  brokkrctl stack diff web
  brokkrctl stack diff 9d2c4b1e-... 1f3a8c2d-...
  brokkrctl stack diff web -f ./manifests --exit-code`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return cmdutil.FlagErrorf("want a stack, or two deployment object ids")
			}
			if len(args) == 2 && opts.File != "" {
				return cmdutil.FlagErrorf("-f compares with a stack: give one stack")
			}
			return nil
		},
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) == 0 {
				comp, _ := complete.Stacks(f)(cmd, args, toComplete)
				objs, _ := complete.ObjectIDs(f)(cmd, args, toComplete)
				return append(comp, objs...), cobra.ShellCompDirectiveNoFileComp
			}
			return complete.ObjectIDs(f)(cmd, args, toComplete)
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Args = args
			return cmdutil.Run(cmd, opts, runF, runDiff)
		},
	}
	cmd.Flags().StringVarP(&opts.File, "filename", "f", "", `Compare the stack's latest object with these manifests ("-" reads stdin)`)
	cmd.Flags().BoolVar(&opts.ExitCode, "exit-code", false, "Exit 1 when there are differences")
	return cmd
}

// diffSide is one side of a diff: a name for the header and the text.
type diffSide struct{ name, text string }

// noObject is the side of a diff where there is no deployment object.
var noObject = diffSide{name: "/dev/null"}

func objectSide(o client.DeploymentObject) diffSide {
	return diffSide{name: objectName(o), text: o.YAMLContent}
}

func runDiff(ctx context.Context, opts *DiffOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	var a, b diffSide
	switch {
	case len(opts.Args) == 2:
		a, b, err = diffObjects(ctx, c, opts.Args)
	case opts.File != "":
		a, b, err = diffFiles(ctx, c, opts)
	default:
		a, b, err = diffLatest(ctx, c, opts.Args[0])
	}
	if err != nil {
		return err
	}
	d := UnifiedDiff(a.name, b.name, a.text, b.text)
	if d == "" {
		fmt.Fprintln(f.IOStreams.ErrOut, "No differences.")
		return nil
	}
	if _, err := io.WriteString(f.IOStreams.Out, colorDiff(f, d)); err != nil {
		return err
	}
	if opts.ExitCode {
		return cmdutil.ErrSilent
	}
	return nil
}

// diffObjects compares two deployment objects given by id.
func diffObjects(ctx context.Context, c *client.Client, args []string) (diffSide, diffSide, error) {
	objs := make([]diffSide, 2)
	ids := make([]uuid.UUID, 2)
	for i, s := range args {
		id, err := cmdutil.ParseUUID("deployment object ID", s)
		if err != nil {
			return diffSide{}, diffSide{}, err
		}
		ids[i] = id
	}
	for i, id := range ids {
		o, err := c.DeploymentObjects().Get(ctx, id)
		if err != nil {
			return diffSide{}, diffSide{}, err
		}
		objs[i] = objectSide(o)
	}
	return objs[0], objs[1], nil
}

// diffFiles compares the stack's latest object with the bundle of the manifests of -f.
func diffFiles(ctx context.Context, c *client.Client, opts *DiffOptions) (diffSide, diffSide, error) {
	ms, err := ReadManifests(opts.File, opts.Factory.IOStreams.In)
	if err != nil {
		return diffSide{}, diffSide{}, err
	}
	bundle, err := BuildBundle(ms)
	if err != nil {
		return diffSide{}, diffSide{}, err
	}
	objs, err := latestObjects(ctx, c, opts.Args[0], 1)
	if err != nil {
		return diffSide{}, diffSide{}, err
	}
	a := noObject
	if len(objs) > 0 {
		a = objectSide(objs[0])
	}
	return a, diffSide{name: opts.File, text: bundle}, nil
}

// diffLatest compares the stack's latest object with the one before it.
func diffLatest(ctx context.Context, c *client.Client, ref string) (diffSide, diffSide, error) {
	objs, err := latestObjects(ctx, c, ref, 2)
	if err != nil {
		return diffSide{}, diffSide{}, err
	}
	switch len(objs) {
	case 0:
		return diffSide{}, diffSide{}, fmt.Errorf("stack %s has no deployment objects", ref)
	case 1:
		return noObject, objectSide(objs[0]), nil
	}
	return objectSide(objs[1]), objectSide(objs[0]), nil
}

// latestObjects returns the stack's n newest deployment objects with their YAML.
func latestObjects(ctx context.Context, c *client.Client, ref string, n int) ([]client.DeploymentObject, error) {
	id, err := resolve.StackID(ctx, c, ref)
	if err != nil {
		return nil, err
	}
	return resolve.StackObjects(ctx, c, id, n, true)
}

func objectName(o client.DeploymentObject) string {
	return fmt.Sprintf("object #%d (%s)", o.SequenceID, o.ID)
}

func colorDiff(f *cmdutil.Factory, d string) string {
	cs := f.IOStreams.ColorScheme()
	if !f.IOStreams.ColorEnabled() {
		return d
	}
	lines := strings.SplitAfter(d, "\n")
	for i, l := range lines {
		body := strings.TrimSuffix(l, "\n")
		nl := l[len(body):]
		switch {
		case strings.HasPrefix(l, "+++"), strings.HasPrefix(l, "---"):
			lines[i] = cs.Bold(body) + nl
		case strings.HasPrefix(l, "@@"):
			lines[i] = cs.Gray(body) + nl
		case strings.HasPrefix(l, "+"):
			lines[i] = cs.Green(body) + nl
		case strings.HasPrefix(l, "-"):
			lines[i] = cs.Red(body) + nl
		}
	}
	return strings.Join(lines, "")
}

// RollbackOptions are the inputs of stack rollback.
type RollbackOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	To      string
	Format  output.Format
}

// NewCmdRollback returns stack rollback; runF replaces the run function in tests.
func NewCmdRollback(f *cmdutil.Factory, runF func(*RollbackOptions) error) *cobra.Command {
	opts := &RollbackOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "rollback NAME|ID --to SEQUENCE|OBJECT_ID",
		Short: "Make an earlier deployment object's YAML the latest again",
		Long: `Roll a stack back: the YAML of an earlier deployment object (by sequence number or id) is
posted as a new deployment object, so history stays append-only. Nothing is written when the
latest object already has that content.`,
		Example: "  brokkrctl stack rollback web --to 3\n  brokkrctl stack rollback web --to 9d2c4b1e-...",
	}, stackArg(f), verb.Setup[RollbackOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRollback,
		Check: func(*cobra.Command) error {
			if opts.To == "" {
				return cmdutil.FlagErrorf("--to is required: a sequence number or a deployment object id")
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.To, "to", "", "Sequence number or id of the object to restore")
	_ = cmd.RegisterFlagCompletionFunc("to", complete.ObjectIDs(f))
	return cmd
}

// FindObject returns the object of objs named by ref: a sequence number or an id.
func FindObject(objs []client.DeploymentObject, ref string) (client.DeploymentObject, error) {
	ref = strings.TrimPrefix(strings.TrimSpace(ref), "#")
	if seq, err := strconv.ParseInt(ref, 10, 64); err == nil {
		for _, o := range objs {
			if o.SequenceID == seq {
				return o, nil
			}
		}
		return client.DeploymentObject{}, fmt.Errorf("no deployment object with sequence %d in this stack", seq)
	}
	id, err := uuid.Parse(ref)
	if err != nil {
		return client.DeploymentObject{}, cmdutil.FlagErrorf("invalid --to %q: want a sequence number or an object id", ref)
	}
	for _, o := range objs {
		if o.ID == id {
			return o, nil
		}
	}
	return client.DeploymentObject{}, fmt.Errorf("deployment object %s is not in this stack", id)
}

func runRollback(ctx context.Context, opts *RollbackOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	st, err := resolve.Stack(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	objs, err := resolve.StackObjects(ctx, c, st.ID, 0, false)
	if err != nil {
		return err
	}
	target, err := FindObject(objs, opts.To)
	if err != nil {
		return err
	}
	if target.IsDeletionMarker {
		return errors.New("cannot roll back to a deletion marker")
	}
	// The history was read without YAML; only the target's is needed.
	full, err := c.DeploymentObjects().Get(ctx, target.ID)
	if err != nil {
		return fmt.Errorf("read deployment object %s: %w", target.ID, err)
	}
	target = full
	p := output.NewPrinter(f, opts.Format)
	if objs[0].YAMLChecksum == target.YAMLChecksum && !objs[0].IsDeletionMarker {
		objs[0].YAMLContent = target.YAMLContent // equal checksums: equal content
		output.Successf(f.IOStreams, "Stack %s already has the content of object #%d (latest is #%d)", st.Name, target.SequenceID, objs[0].SequenceID)
		return output.PrintOne(p, specs.DeploymentObject, objs[0])
	}
	obj, err := c.Stacks().CreateDeploymentObject(ctx, st.ID, target.YAMLContent, false)
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "Rolled stack %s back to the content of object #%d as object #%d", st.Name, target.SequenceID, obj.SequenceID)
	return output.PrintOne(p, specs.DeploymentObject, obj)
}
