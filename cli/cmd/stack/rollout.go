package stack

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/cli/watch"
	"github.com/brokkr/brokkr/client"
)

// Rollout actions.
const (
	ActionPromote = "promote"
	ActionPause   = "pause"
	ActionResume  = "resume"
	ActionAbort   = "abort"
)

// NewCmdRollout returns stack rollout and its verbs.
func NewCmdRollout(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "rollout <command>",
		Aliases: []string{"rollouts", "ro"},
		Short:   "Follow and steer progressive rollouts of a stack",
		Long: `Follow and steer the progressive rollouts of a stack. When a stack has a rollout policy
("stack rollout policy set"), every new deployment object reaches its agents wave after
wave: the agents each wave selects, then the agents no wave selects (the last wave,
"remaining"). Agents not released yet keep the object they had.

A wave is done when each of its agents applied the object (gate applied) or also reports
it healthy (gate healthy); the next wave unlocks after the policy's pause, or on promote
when the pause is "manual". Failures beyond the policy's threshold halt the rollout until
it is resumed or aborted; an aborted rollout gives every agent its previous object back.`,
		Example: `  brokkrctl stack rollout policy set web --wave canary=canary --wave eu=region-eu --pause 10m
  brokkrctl stack rollout status web --watch
  brokkrctl stack rollout promote web`,
	}
	cmd.AddCommand(NewCmdRolloutStatus(f, nil), NewCmdRolloutList(f, nil),
		NewCmdRolloutAction(f, nil, ActionPromote), NewCmdRolloutAction(f, nil, ActionPause),
		NewCmdRolloutAction(f, nil, ActionResume), NewCmdRolloutAction(f, nil, ActionAbort),
		NewCmdRolloutPolicy(f))
	return cmd
}

// RolloutView is what stack rollout status prints: the latest rollout and, in tables, the
// objects held back from the stack's agents.
type RolloutView struct {
	Rollout client.Rollout
	Holds   resolve.Holds
}

// fetchRolloutView reads the stack's latest rollout and, for tables, its holds (a broker
// that does not tell them leaves them out).
func fetchRolloutView(ctx context.Context, c *client.Client, stackID uuid.UUID, format output.Format) (RolloutView, error) {
	r, err := c.Stacks().Rollout(ctx, stackID)
	if err != nil {
		return RolloutView{}, err
	}
	return rolloutView(ctx, c, stackID, r, format), nil
}

// rolloutView pairs r with the stack's holds when a table shows them.
func rolloutView(ctx context.Context, c *client.Client, stackID uuid.UUID, r client.Rollout, format output.Format) RolloutView {
	v := RolloutView{Rollout: r}
	if !format.IsWire() && format != output.FormatName {
		v.Holds = stackHolds(ctx, c, stackID, map[uuid.UUID]client.Rollout{r.ID: r})
	}
	return v
}

// stackHolds reads the holds of a stack for a summary; known names the waves of rollouts
// already read. Failures leave the summary out.
func stackHolds(ctx context.Context, c *client.Client, stackID uuid.UUID, known map[uuid.UUID]client.Rollout) resolve.Holds {
	holds, err := c.Stacks().Holds(ctx, stackID)
	if err != nil {
		return resolve.Holds{}
	}
	if known == nil {
		known = resolve.HoldRollouts(ctx, c, holds)
	}
	return resolve.Holds{Holds: holds, Rollouts: known}
}

// printFields writes label: value lines with the values aligned.
func printFields(w io.Writer, fields [][2]string) error {
	width := 0
	for _, f := range fields {
		width = max(width, len(f[0]))
	}
	var b strings.Builder
	for _, f := range fields {
		fmt.Fprintf(&b, "%-*s  %s\n", width+1, f[0]+":", f[1])
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// PrintRollout prints a rollout: the wire object for json and yaml, rollout/<id> for name,
// otherwise its state, the table of its waves and, with -o wide, the table of its agents.
func PrintRollout(p *output.Printer, v RolloutView) error {
	r := v.Rollout
	if ok, err := p.PrintWire(r); ok {
		return err
	}
	if p.Format == output.FormatName {
		_, err := fmt.Fprintf(p.IO.Out, "rollout/%s\n", r.ID)
		return err
	}
	tty := p.IO.IsStdoutTTY()
	previous := "none"
	if r.PreviousObjectID != nil {
		previous = r.PreviousObjectID.String()
	}
	next := output.FormatTime(r.NextWaveAt, tty, p.Now())
	if r.Status == client.RolloutWaiting {
		next = "on promote"
	}
	fields := [][2]string{
		{"Rollout", r.ID.String()},
		{"Object", r.DeploymentObjectID.String() + " (previous: " + previous + ")"},
		{"Status", r.Status},
		{"Current wave", fmt.Sprintf("%s of %d", specs.WaveName(r, r.CurrentWave), len(r.Waves))},
		{"Next wave at", next},
		{"Failures", specs.Failures(r)},
		{"Reason", orDash(r.Reason)},
	}
	if held := specs.HoldSummary(v.Holds); held != "" {
		fields = append(fields, [2]string{"Held", held})
	}
	if err := printFields(p.IO.Out, fields); err != nil {
		return err
	}
	fmt.Fprintln(p.IO.Out)
	if err := output.PrintList(p, specs.RolloutWave, r.Waves); err != nil || p.Format != output.FormatWide {
		return err
	}
	fmt.Fprintln(p.IO.Out, "\nAgents:")
	return output.PrintList(p, specs.RolloutAgent, specs.RolloutAgentRows(r))
}

func orDash(s string) string { return output.OrDash(&s) }

// RolloutStatusOptions are the inputs of stack rollout status.
type RolloutStatusOptions struct {
	Factory  *cmdutil.Factory
	Ref      string
	Watch    bool
	Interval time.Duration
	Format   output.Format
}

// NewCmdRolloutStatus returns stack rollout status; runF replaces the run function in tests.
func NewCmdRolloutStatus(f *cmdutil.Factory, runF func(*RolloutStatusOptions) error) *cobra.Command {
	opts := &RolloutStatusOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:   "status NAME|ID [--watch]",
		Short: "Show the progress of a stack's latest rollout",
		Long: `Show the stack's latest rollout: its object, status, current wave, when the next wave
unlocks, failures against the limit the policy tolerates and why it halted, then one row
per wave. -o wide adds the waves' selectors and settings and one row per agent; -o json and
-o yaml print the rollout.

--watch redraws every --interval until the rollout is no longer active (completed, aborted
or superseded); it exits 1 when the rollout was aborted.`,
		Example: `  brokkrctl stack rollout status web
  brokkrctl stack rollout status web -o wide --watch
  brokkrctl stack rollout status web -o json`,
	}, stackArg(f), verb.Setup[RolloutStatusOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRolloutStatus,
		Check: func(*cobra.Command) error { return watch.CheckFlags(opts.Watch, opts.Interval) }})
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Redraw until the rollout is no longer active")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "Polling interval of --watch")
	return cmd
}

func runRolloutStatus(ctx context.Context, opts *RolloutStatusOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	id, err := resolve.StackID(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	return followRollout(ctx, opts.Factory, c, id, follow{format: opts.Format, watch: opts.Watch,
		interval: opts.Interval, title: "brokkrctl stack rollout status " + opts.Ref, abortFails: true})
}

// follow says how followRollout renders a stack's latest rollout.
type follow struct {
	title      string
	format     output.Format
	watch      bool
	interval   time.Duration
	abortFails bool // with watch, a rollout that ends aborted exits 1
}

// followRollout prints the stack's latest rollout once or, with watch, redraws it every
// interval until it is no longer active (completed, aborted or superseded).
func followRollout(ctx context.Context, f *cmdutil.Factory, c *client.Client, id uuid.UUID, o follow) error {
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	var last client.Rollout
	render := func(ctx context.Context, p *output.Printer) error {
		v, err := fetchRolloutView(ctx, c, id, p.Format)
		if err != nil {
			return err
		}
		last = v.Rollout
		if !last.Active() {
			stop()
		}
		return PrintRollout(p, v)
	}
	p := output.NewPrinter(f, o.format)
	if err := watch.Render(wctx, p, o.watch, o.interval, o.title, render); err != nil {
		return err
	}
	if o.watch && o.abortFails && ctx.Err() == nil && last.Status == client.RolloutAborted {
		ios := f.IOStreams
		fmt.Fprintf(ios.ErrOut, "%s rollout %s was aborted\n", ios.ColorScheme().FailureIcon(), last.ID)
		return cmdutil.ErrSilent
	}
	return nil
}

// RolloutListOptions are the inputs of stack rollout list.
type RolloutListOptions = verb.RefOptions

// NewCmdRolloutList returns stack rollout list; runF replaces the run function in tests.
func NewCmdRolloutList(f *cmdutil.Factory, runF func(*RolloutListOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "list NAME|ID",
		Aliases: []string{"ls", "history"},
		Short:   "List a stack's rollouts, newest first",
		Long: `List the stack's rollouts, newest first (at most 50): the object each rolled out, its
status, the wave it reached, failures against the limit, and when it started and finished.`,
		Example: "  brokkrctl stack rollout list web\n  brokkrctl stack rollout history web -o wide",
	}, stackArg(f), verb.Then(resolve.StackID, func(ctx context.Context, c *client.Client, id uuid.UUID) ([]client.Rollout, error) {
		return c.Stacks().Rollouts(ctx, id)
	}), verb.Many(specs.Rollout))
}

// RolloutActionOptions are the inputs of stack rollout promote, pause, resume and abort.
type RolloutActionOptions struct {
	Factory *cmdutil.Factory
	Ref     string
	Action  string
	// Yes skips the confirmation of abort.
	Yes bool
	// Watch follows the rollout after the action until it is no longer active.
	Watch    bool
	Interval time.Duration
	Format   output.Format
}

// rolloutActions describes each action: its help and what the command reports.
var rolloutActions = map[string]struct {
	short, long, done string
}{
	ActionPromote: {
		short: "Unlock the next wave of a stack's rollout now",
		long: `Unlock the next wave of the stack's latest rollout now, without waiting for the pause
after the current wave (a manual pause waits for this). Promoting the last wave completes the
rollout: every agent of the stack receives the object.`,
		done: "Promoted",
	},
	ActionPause: {
		short: "Pause a stack's rollout",
		long: `Pause the stack's latest rollout: no further agent is released until "stack rollout
resume". Agents already released keep the new object.`,
		done: "Paused",
	},
	ActionResume: {
		short: "Resume a paused or halted rollout",
		long: `Resume the stack's latest rollout after a pause, or after it halted on failures: the
failures so far are accepted and only new ones count against the threshold.`,
		done: "Resumed",
	},
	ActionAbort: {
		short: "Abort a stack's rollout: its agents go back to the previous object",
		long: `Abort the stack's latest rollout: every agent, released or not, receives the object it had
before the rollout again. On a terminal the command asks for confirmation unless --yes is
given; without a terminal --yes is required.`,
		done: "Aborted",
	},
}

// NewCmdRolloutAction returns stack rollout promote, pause, resume or abort (action); runF
// replaces the run function in tests.
func NewCmdRolloutAction(f *cmdutil.Factory, runF func(*RolloutActionOptions) error, action string) *cobra.Command {
	opts := &RolloutActionOptions{Factory: f, Action: action}
	a := rolloutActions[action]
	example := "  brokkrctl stack rollout " + action + " web"
	if action == ActionAbort {
		example += " --yes"
	}
	if action == ActionPromote {
		example += "\n  brokkrctl stack rollout promote web --watch"
	}
	cmd := verb.OneArg(&cobra.Command{
		Use:   action + " NAME|ID",
		Short: a.short,
		Long: a.long + "\n\nThe rollout is printed as \"stack rollout status\" prints it; with --watch it is redrawn " +
			"every --interval until it is no longer active, as \"stack rollout status --watch\" does.",
		Example: example,
	}, stackArg(f), verb.Setup[RolloutActionOptions]{Opts: opts, Format: &opts.Format, Ref: &opts.Ref, RunF: runF, Run: runRolloutAction,
		Check: func(*cobra.Command) error {
			if err := watch.CheckFlags(opts.Watch, opts.Interval); err != nil {
				return err
			}
			if action == ActionAbort {
				return cmdutil.CheckConfirmable(f, opts.Yes)
			}
			return nil
		}})
	cmd.Flags().BoolVarP(&opts.Watch, "watch", "w", false, "Then redraw the rollout until it is no longer active")
	cmd.Flags().DurationVar(&opts.Interval, "interval", 2*time.Second, "Polling interval of --watch")
	if action == ActionAbort {
		cmd.Flags().BoolVarP(&opts.Yes, "yes", "y", false, "Abort without asking for confirmation")
	}
	return cmd
}

func runRolloutAction(ctx context.Context, opts *RolloutActionOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	st, err := resolve.Stack(ctx, c, opts.Ref)
	if err != nil {
		return err
	}
	if opts.Action == ActionAbort {
		q := fmt.Sprintf("Abort the rollout of stack %s? Its agents go back to the object they had before.", st.Name)
		if err := cmdutil.ConfirmDestructive(f, opts.Yes, q); err != nil {
			return err
		}
	}
	r, err := c.Stacks().RolloutAction(ctx, st.ID, opts.Action)
	if err != nil {
		return err
	}
	output.Successf(f.IOStreams, "%s the rollout of stack %s: %s, wave %s", rolloutActions[opts.Action].done, st.Name, r.Status, specs.WaveName(r, r.CurrentWave))
	if opts.Watch {
		return followRollout(ctx, f, c, st.ID, follow{format: opts.Format, watch: true, interval: opts.Interval,
			title: "brokkrctl stack rollout status " + opts.Ref, abortFails: opts.Action != ActionAbort})
	}
	return PrintRollout(output.NewPrinter(f, opts.Format), rolloutView(ctx, c, st.ID, r, opts.Format))
}
