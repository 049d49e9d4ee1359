package diagnostic

import (
	"context"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
)

// GetOptions are the inputs of diagnostic get.
type GetOptions struct {
	Factory  *cmdutil.Factory
	ID       uuid.UUID
	Wait     bool
	Timeout  time.Duration
	Interval time.Duration
	Format   output.Format
}

// NewCmdGet returns diagnostic get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	opts := &GetOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "get ID",
		Short: "Show a diagnostic request and its result",
		Long: `Show a diagnostic request and, once the agent submitted it, the result: pod statuses,
events and log tails. With --wait the command polls until the request is finished.`,
		Example: `  brokkrctl diagnostic get 1f3a9c2e-...
  brokkrctl diagnostic get 1f3a9c2e-... --wait --timeout 1m
  brokkrctl diagnostic get 1f3a9c2e-... -o json`,
		Args: cmdutil.ExactArgs(1, "diagnostic ID"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			id, err := cmdutil.ParseUUID("diagnostic ID", args[0])
			if err != nil {
				return err
			}
			opts.ID = id
			if opts.Wait && opts.Timeout <= 0 {
				return cmdutil.FlagErrorf("--timeout must be positive")
			}
			return cmdutil.Run(cmd, opts, runF, runGet)
		},
	}
	cmd.Flags().BoolVar(&opts.Wait, "wait", false, "Wait until the request is finished")
	cmd.Flags().DurationVar(&opts.Timeout, "timeout", 2*time.Minute, "How long --wait waits")
	cmd.Flags().DurationVar(&opts.Interval, "poll-interval", time.Second, "How often --wait polls")
	_ = cmd.Flags().MarkHidden("poll-interval")
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

func runGet(ctx context.Context, opts *GetOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	if opts.Wait {
		d, err := waitFor(ctx, c, opts.ID, opts.Interval, opts.Timeout)
		if err != nil {
			return err
		}
		return printResponse(p, d)
	}
	d, err := c.Diagnostics().Get(ctx, opts.ID)
	if err != nil {
		return err
	}
	return printResponse(p, d)
}
