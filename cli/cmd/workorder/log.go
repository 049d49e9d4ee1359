package workorder

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// LogOptions are the inputs of workorder log.
type LogOptions struct {
	Factory  *cmdutil.Factory
	WorkType string
	Success  *bool
	AgentID  *uuid.UUID
	Limit    int
	Format   output.Format
}

// NewCmdLog returns workorder log (with its get subcommand); runF replaces the run function
// of the list in tests.
func NewCmdLog(f *cmdutil.Factory, runF func(*LogOptions) error) *cobra.Command {
	opts := &LogOptions{Factory: f}
	var success bool
	var agent string
	cmd := verb.NoArg(&cobra.Command{
		Use:   "log",
		Short: "List finished work orders",
		Long:  "List finished work orders (succeeded, or failed for good), most recently completed first.",
		Example: `  brokkrctl workorder log --limit 20
  brokkrctl workorder log --success=false --type build -o wide
  brokkrctl workorder log --agent 5b0e6f9e-8a0c-4d52-a1f4-3a1c2b7d9e10
  brokkrctl workorder log get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11`,
	}, verb.Setup[LogOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runLog,
		Check: func(cmd *cobra.Command) error {
			if cmd.Flags().Changed("success") {
				opts.Success = &success
			}
			if agent != "" {
				id, err := cmdutil.ParseUUID("--agent", agent)
				if err != nil {
					return err
				}
				opts.AgentID = &id
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must not be negative")
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.WorkType, "type", "", "Only orders of this work type")
	cmd.Flags().BoolVar(&success, "success", false, "Only succeeded orders (--success=false: only failed ones)")
	cmd.Flags().StringVar(&agent, "agent", "", "Only orders claimed by this agent")
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "At most this many entries (0 = all)")
	_ = cmd.RegisterFlagCompletionFunc("agent", complete.AgentIDs(f))
	cmd.AddCommand(NewCmdLogGet(f, nil))
	return cmd
}

func runLog(ctx context.Context, opts *LogOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.WorkOrderLog, func(ctx context.Context, c *client.Client) ([]client.WorkOrderLog, error) {
		return c.WorkOrders().Log(ctx, &client.WorkOrderLogOptions{WorkType: opts.WorkType, Success: opts.Success, AgentID: opts.AgentID, Limit: opts.Limit})
	})
}

// LogGetOptions are the inputs of workorder log get.
type LogGetOptions = verb.IDOptions

// NewCmdLogGet returns workorder log get; runF replaces the run function in tests.
func NewCmdLogGet(f *cmdutil.Factory, runF func(*LogGetOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:     "get ID",
		Short:   "Show a finished work order",
		Example: "  brokkrctl workorder log get 0b7c6a1e-5d1f-4c1b-9a77-2f0f4d1e8c11 -o yaml",
	}, verb.Arg{What: "work order ID", Complete: complete.WorkOrderLogIDs(f)}, func(ctx context.Context, c *client.Client, id uuid.UUID) (client.WorkOrderLog, error) {
		return c.WorkOrders().LogEntry(ctx, id)
	}, verb.One(specs.WorkOrderLog))
}
