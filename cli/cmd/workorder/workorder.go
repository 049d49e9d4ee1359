// Package workorder implements "brokkrctl workorder": the work order queue and its log.
// It is the reference for resource commands: one file per verb, each with an Options type, a
// NewCmdX(f, runF) constructor and a run function, or a shape of package verb that runs it.
package workorder

import (
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/verb"
)

// NewCmdWorkOrder returns the workorder noun.
func NewCmdWorkOrder(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "workorder <command>",
		Aliases: []string{"workorders", "wo"},
		Short:   "Manage work orders",
		Long: `Manage work orders: units of work (a build, a custom job) that one eligible agent claims
and executes. Queued orders are PENDING, CLAIMED or RETRY_PENDING; finished orders move to
the work order log.`,
		Example: `  brokkrctl workorder list --status PENDING
  brokkrctl wo create --type build --label gpu --yaml-file build.yaml
  brokkrctl wo log --success=false --limit 20`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdDelete(f, nil), NewCmdLog(f, nil))
	return cmd
}

// workOrderArg is the ID argument of the verbs on one queued work order.
func workOrderArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "work order ID", Complete: complete.WorkOrderIDs(f)}
}
