// Package window implements "brokkrctl window": the apply windows that decide when agents
// may receive new deployment objects.
package window

import (
	"context"
	"fmt"
	"strings"
	"time"

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

// NewCmdWindow returns the window noun.
func NewCmdWindow(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "window <command>",
		Aliases: []string{"windows", "apply-window"},
		Short:   "Manage apply windows",
		Long: `Manage apply windows: recurring periods, given by a cron schedule and a duration in a time
zone, in which agents may (allow) or may not (deny) receive new deployment objects.

A window applies to the agents its labels and annotations select (all agents without any)
and to its stacks (all stacks without --stack). An agent is held back for a stack while a
deny window that applies is open, or while allow windows apply and none of them is open;
it keeps the object it last applied until then. Urgent objects ("stack apply --urgent")
pass through apply windows.`,
		Example: `  brokkrctl window create weekdays --kind allow --schedule "0 8 * * 1-5" --duration 9h --time-zone Europe/Oslo
  brokkrctl window create freeze --kind deny --schedule "0 0 20 12 *" --duration 168h --label prod
  brokkrctl window list`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdDelete(f, nil))
	return cmd
}

// windowArg is the argument of the verbs on one window.
func windowArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "apply window NAME or ID", Complete: complete.ApplyWindows(f)}
}

// view is what window list and window get print: the wire windows for json and yaml,
// otherwise their rows with the names of their stacks.
type view struct {
	windows []client.ApplyWindow
	rows    []specs.WindowRow
}

// fetchView reads the names of the windows' stacks when a table shows them (a failure to
// list stacks leaves their ids).
func fetchView(ctx context.Context, c *client.Client, format output.Format, windows []client.ApplyWindow) view {
	v := view{windows: windows}
	if format.IsWire() {
		return v
	}
	var names map[uuid.UUID]string
	for _, w := range windows {
		if len(w.StackIDs) > 0 {
			names, _ = resolve.StackNames(ctx, c)
			break
		}
	}
	v.rows = specs.WindowRows(windows, names)
	return v
}

// ListOptions are the inputs of window list.
type ListOptions = verb.FormatOptions

// NewCmdList returns window list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	return verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List apply windows",
		Long: `List apply windows by name: whether each is open now, when it opens and closes next, the
agents it selects and the stacks it is limited to.`,
		Example: "  brokkrctl window list\n  brokkrctl window list -o json",
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF,
		Run: func(ctx context.Context, opts *ListOptions) error {
			v, err := verb.Do(ctx, opts.Factory, func(ctx context.Context, c *client.Client) (view, error) {
				windows, err := c.ApplyWindows().List(ctx)
				if err != nil {
					return view{}, err
				}
				return fetchView(ctx, c, opts.Format, windows), nil
			})
			if err != nil {
				return err
			}
			p := output.NewPrinter(opts.Factory, opts.Format)
			if ok, err := p.PrintWire(nonNil(v.windows)); ok {
				return err
			}
			return output.PrintList(p, specs.ApplyWindow, v.rows)
		}})
}

func nonNil(ws []client.ApplyWindow) []client.ApplyWindow {
	if ws == nil {
		return []client.ApplyWindow{}
	}
	return ws
}

// GetOptions are the inputs of window get.
type GetOptions = verb.RefOptions

// NewCmdGet returns window get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowRefCmd(f, runF, &cobra.Command{
		Use:     "get NAME|ID",
		Short:   "Show an apply window",
		Example: "  brokkrctl window get freeze\n  brokkrctl window get freeze -o yaml",
	}, windowArg(f), func(ctx context.Context, c *client.Client, ref string) (view, error) {
		w, err := resolve.ApplyWindow(ctx, c, ref)
		if err != nil {
			return view{}, err
		}
		return fetchView(ctx, c, output.FormatTable, []client.ApplyWindow{w}), nil
	}, printOne)
}

// printOne prints the one window of v.
func printOne(p *output.Printer, v view) error {
	if ok, err := p.PrintWire(v.windows[0]); ok {
		return err
	}
	return output.PrintOne(p, specs.ApplyWindow, v.rows[0])
}

// CreateOptions are the inputs of window create.
type CreateOptions struct {
	Factory     *cmdutil.Factory
	Name        string
	Kind        string
	Schedule    string
	Duration    time.Duration
	TimeZone    string
	Labels      []string
	Annotations []string
	Stacks      []string
	Description string
	Format      output.Format
	// Window is the window the flags describe, without its stacks (resolved by name when
	// the command runs).
	Window client.ApplyWindow
}

// NewCmdCreate returns window create; runF replaces the run function in tests.
func NewCmdCreate(f *cmdutil.Factory, runF func(*CreateOptions) error) *cobra.Command {
	opts := &CreateOptions{Factory: f}
	cmd := verb.Create(&cobra.Command{
		Use:   "create NAME --kind allow|deny --schedule CRON --duration DURATION [flags]",
		Short: "Create an apply window",
		Long: `Create an apply window named NAME (or --name). --schedule is a cron expression of the
window's openings (five fields: minute, hour, day of month, month, day of week; or a
descriptor such as @daily) read in --time-zone (an IANA name, default UTC); the window stays
open for --duration after each opening (at most 31 days).

--kind allow lets agents receive new objects only while the window is open; --kind deny
holds them back while it is open. --label and --annotation select the agents (every agent
without them); --stack limits the window to some stacks (every stack without it).`,
		Example: `  brokkrctl window create weekdays --kind allow --schedule "0 8 * * 1-5" --duration 9h --time-zone Europe/Oslo
  brokkrctl window create freeze --kind deny --schedule "0 0 20 12 *" --duration 168h --label prod --stack web
  brokkrctl window create nightly --kind allow --schedule @daily --duration 4h --annotation region=eu`,
	}, &opts.Name, "Name of the window (or give it as NAME)", verb.Setup[CreateOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runCreate,
		Check: func(*cobra.Command) error { return opts.check() }})
	fl := cmd.Flags()
	fl.StringVar(&opts.Kind, "kind", "", "allow (new objects only while open) or deny (none while open)")
	fl.StringVar(&opts.Schedule, "schedule", "", `Cron expression of the openings ("0 22 * * 1-5", "@daily")`)
	fl.DurationVar(&opts.Duration, "duration", 0, "How long the window stays open after each opening (4h, 30m)")
	fl.StringVar(&opts.TimeZone, "time-zone", "", "IANA time zone of the schedule (default UTC)")
	fl.StringArrayVar(&opts.Labels, "label", nil, "Select agents with this label (repeatable)")
	fl.StringArrayVar(&opts.Annotations, "annotation", nil, "Select agents with this annotation, key=value (repeatable)")
	fl.StringArrayVar(&opts.Stacks, "stack", nil, "Limit the window to this stack, name or id (repeatable)")
	fl.StringVar(&opts.Description, "description", "", "Description")
	_ = cmd.RegisterFlagCompletionFunc("kind", complete.Fixed(client.WindowAllow, client.WindowDeny))
	_ = cmd.RegisterFlagCompletionFunc("stack", complete.Stacks(f))
	return cmd
}

// check validates the flags and builds the window.
func (o *CreateOptions) check() error {
	if strings.TrimSpace(o.Name) == "" {
		return cmdutil.FlagErrorf("--name is required")
	}
	kind := strings.ToLower(strings.TrimSpace(o.Kind))
	if kind != client.WindowAllow && kind != client.WindowDeny {
		return cmdutil.FlagErrorf("--kind is required: allow or deny")
	}
	if strings.TrimSpace(o.Schedule) == "" {
		return cmdutil.FlagErrorf(`--schedule is required: a cron expression such as "0 22 * * *" or @daily`)
	}
	if o.Duration <= 0 {
		return cmdutil.FlagErrorf("--duration is required and must be positive")
	}
	ann, err := cmdutil.ParseKeyValues("annotation", o.Annotations)
	if err != nil {
		return err
	}
	for _, l := range o.Labels {
		if strings.TrimSpace(l) == "" {
			return cmdutil.FlagErrorf("--label must not be empty")
		}
	}
	o.Window = client.ApplyWindow{Name: o.Name, Kind: kind, Schedule: strings.TrimSpace(o.Schedule),
		Duration: o.Duration.String(), TimeZone: o.TimeZone, Description: o.Description,
		Selector: client.Selector{Labels: o.Labels, Annotations: ann}}
	return nil
}

func runCreate(ctx context.Context, opts *CreateOptions) error {
	create := func(ctx context.Context, c *client.Client) (view, error) {
		w := opts.Window
		names := map[uuid.UUID]string{}
		for _, ref := range opts.Stacks {
			st, err := resolve.Stack(ctx, c, ref)
			if err != nil {
				return view{}, err
			}
			w.StackIDs = append(w.StackIDs, st.ID)
			names[st.ID] = st.Name
		}
		created, err := c.ApplyWindows().Create(ctx, w)
		if err != nil {
			return view{}, err
		}
		return view{windows: []client.ApplyWindow{created}, rows: specs.WindowRows([]client.ApplyWindow{created}, names)}, nil
	}
	v, err := verb.Do(ctx, opts.Factory, create)
	if err != nil {
		return err
	}
	w := v.windows[0]
	state := "closed"
	if w.Open {
		state = "open now"
	}
	output.Successf(opts.Factory.IOStreams, "Created apply window %s (%s, %s)", w.Name, w.Kind, state)
	return printOne(output.NewPrinter(opts.Factory, opts.Format), v)
}

// DeleteOptions are the inputs of window delete.
type DeleteOptions = verb.DeleteOptions

// NewCmdDelete returns window delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteCmd(f, runF, &cobra.Command{
		Use:   "delete NAME|ID",
		Short: "Delete an apply window",
		Long: `Delete an apply window; agents it held back receive their stacks' objects at once unless
other windows hold them. On a terminal the command asks for confirmation unless --yes is
given; without a terminal --yes is required.`,
		Example: "  brokkrctl window delete freeze --yes",
		Aliases: []string{"rm"},
	}, windowArg(f), resolve.ApplyWindow, verb.Deletion[client.ApplyWindow]{
		Question: func(w client.ApplyWindow) string { return fmt.Sprintf("Delete apply window %s (%s)?", w.Name, w.Kind) },
		Delete: func(ctx context.Context, c *client.Client, w client.ApplyWindow) error {
			return c.ApplyWindows().Delete(ctx, w.ID)
		},
		Done: func(w client.ApplyWindow) string { return "Deleted apply window " + w.Name },
	})
}
