package workorder

import (
	"context"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/cli/watch"
	"github.com/brokkr/brokkr/client"
)

// ListOptions are the inputs of workorder list.
type ListOptions struct {
	Factory  *cmdutil.Factory
	Status   string
	WorkType string
	Watch    bool
	Interval time.Duration
	Format   output.Format
	Limit    int
}

var queuedStatuses = []string{client.WorkOrderPending, client.WorkOrderClaimed, client.WorkOrderRetryPending}

// NewCmdList returns workorder list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List queued work orders",
		Long: `List the queued work orders, newest first. With --watch the list is fetched again every
--interval: on a terminal the table is redrawn in place; otherwise a new snapshot is printed
whenever it changed. Stop watching with Ctrl-C.`,
		Example: `  brokkrctl workorder list
  brokkrctl workorder list --status RETRY_PENDING --type build -o wide
  brokkrctl workorder list --watch --interval 5s
  brokkrctl workorder list --limit 50`,
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList,
		Check: func(*cobra.Command) error {
			if opts.Status != "" {
				opts.Status = strings.ToUpper(opts.Status)
				if !contains(queuedStatuses, opts.Status) {
					return cmdutil.FlagErrorf("invalid --status %q: want one of %s", opts.Status, strings.Join(queuedStatuses, ", "))
				}
			}
			if opts.Limit < 0 {
				return cmdutil.FlagErrorf("--limit must not be negative")
			}
			if err := watch.CheckFlags(opts.Watch, opts.Interval); err != nil {
				return err
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.Status, "status", "", "Only orders in this status: PENDING, CLAIMED or RETRY_PENDING")
	cmd.Flags().StringVar(&opts.WorkType, "type", "", "Only orders of this work type")
	watch.AddFlags(cmd, &opts.Watch, &opts.Interval)
	cmd.Flags().IntVar(&opts.Limit, "limit", 0, "Show the newest N orders only (0 = all)")
	_ = cmd.RegisterFlagCompletionFunc("status", complete.Fixed(queuedStatuses...))
	return cmd
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func runList(ctx context.Context, opts *ListOptions) error {
	c, err := opts.Factory.Client()
	if err != nil {
		return err
	}
	filter := &client.WorkOrderListOptions{Status: opts.Status, WorkType: opts.WorkType, Limit: opts.Limit}
	p := output.NewPrinter(opts.Factory, opts.Format)
	return watch.Render(ctx, p, opts.Watch, opts.Interval, "brokkrctl workorder list", func(ctx context.Context, p *output.Printer) error {
		orders, err := c.WorkOrders().List(ctx, filter)
		if err != nil {
			return err
		}
		return output.PrintList(p, specs.WorkOrder, orders)
	})
}
