package diagnostic

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// RequestOptions are the inputs of diagnostic request.
type RequestOptions struct {
	Factory     *cmdutil.Factory
	ObjectID    uuid.UUID
	AgentID     uuid.UUID
	RequestedBy string
	Retention   int64
	Wait        bool
	Timeout     time.Duration
	Interval    time.Duration
	Format      output.Format
}

// NewCmdRequest returns diagnostic request; runF replaces the run function in tests.
func NewCmdRequest(f *cmdutil.Factory, runF func(*RequestOptions) error) *cobra.Command {
	opts := &RequestOptions{Factory: f}
	var object, agent string
	cmd := &cobra.Command{
		Use:   "request --object ID --agent ID",
		Short: "Ask an agent to collect diagnostics of a deployment object",
		Long: `Ask an agent to collect diagnostics of a deployment object. The agent picks the request
up on its next poll. With --wait the command polls until the request completed (or failed,
or expired) and prints pods, events and log tails.`,
		Example: `  brokkrctl diagnostic request --object 9d2c4b1e-... --agent 5b0e6f9e-...
  brokkrctl diagnostic request --object 9d2c4b1e-... --agent 5b0e6f9e-... --wait --timeout 2m`,
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if object == "" || agent == "" {
				return cmdutil.FlagErrorf("--object and --agent are required")
			}
			var err error
			if opts.ObjectID, err = cmdutil.ParseUUID("--object", object); err != nil {
				return err
			}
			if opts.AgentID, err = cmdutil.ParseUUID("--agent", agent); err != nil {
				return err
			}
			if cmd.Flags().Changed("retention") && (opts.Retention < 1 || opts.Retention > 1440) {
				return cmdutil.FlagErrorf("--retention must be within 1..1440 minutes")
			}
			if opts.Wait && opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			return cmdutil.Run(cmd, opts, runF, runRequest)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&object, "object", "", "Deployment object id")
	fl.StringVar(&agent, "agent", "", "Agent that collects the diagnostics")
	fl.StringVar(&opts.RequestedBy, "requested-by", "", "Who asks (recorded with the request)")
	fl.Int64Var(&opts.Retention, "retention", 0, "Minutes the request stays valid, 1..1440 (default 60)")
	fl.BoolVar(&opts.Wait, "wait", false, "Wait for the result and print it")
	fl.DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "How long --wait waits")
	fl.DurationVar(&opts.Interval, "poll-interval", time.Second, "How often --wait polls")
	_ = fl.MarkHidden("poll-interval")
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("agent", complete.AgentIDs(f))
	return cmd
}

func runRequest(ctx context.Context, opts *RequestOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	body := client.CreateDiagnosticRequest{AgentID: opts.AgentID}
	if opts.RequestedBy != "" {
		body.RequestedBy = &opts.RequestedBy
	}
	if opts.Retention > 0 {
		body.RetentionMinutes = &opts.Retention
	}
	d, err := c.Diagnostics().Create(ctx, opts.ObjectID, body)
	if err != nil {
		return err
	}
	ios := opts.Factory.IOStreams
	output.Successf(ios, "Requested diagnostic %s from agent %s", d.ID, d.AgentID)
	p := output.NewPrinter(opts.Factory, opts.Format)
	if !opts.Wait {
		return output.PrintOne(p, Spec, d)
	}
	if ios.IsStderrTTY() {
		ios.ErrOut.Write([]byte("Waiting for the agent...\n")) //nolint:errcheck // best-effort notice
	}
	res, err := waitFor(ctx, c, d.ID, opts.Interval, opts.Timeout)
	if err != nil {
		return err
	}
	if err := printResponse(p, res); err != nil {
		return err
	}
	if res.Request.Status != client.DiagnosticCompleted {
		return cmdutil.ErrSilent
	}
	return nil
}
