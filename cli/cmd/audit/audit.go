// Package audit implements "brokkrctl audit": reading the broker's audit log.
package audit

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// Actor types of audit entries.
var actorTypes = []string{"admin", "agent", "generator", "system"}

// NewCmdAudit returns the audit noun.
func NewCmdAudit(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "audit <command>",
		Aliases: []string{"audit-log", "audit-logs"},
		Short:   "Read the audit log",
		Example: "  brokkrctl audit list --action 'agent.*' --since 24h",
	}
	cmd.AddCommand(NewCmdList(f, nil))
	return cmd
}

// ListOptions are the inputs of audit list.
type ListOptions struct {
	Factory *cmdutil.Factory
	Query   client.AuditLogOptions
	Format  output.Format
}

// NewCmdList returns audit list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	opts := &ListOptions{Factory: f}
	var actorID, resourceID, since, until string
	cmd := verb.NoArg(&cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List audit entries, newest first",
		Long: `List audit entries, newest first, one page at a time (--limit, --offset). Filters combine.
--action matches exactly, or by prefix when it ends in "*". --since and --until take a
duration back from now (24h) or an RFC 3339 time. On a terminal the total number of matching
entries is shown on stderr.`,
		Example: `  brokkrctl audit list --since 1h
  brokkrctl audit list --actor-type generator --action 'stack.*' --limit 20 -o wide
  brokkrctl audit list --resource-type agent --resource-id 5b0e6f9e-... -o json`,
	}, verb.Setup[ListOptions]{Opts: opts, Format: &opts.Format, RunF: runF, Run: runList,
		Check: func(*cobra.Command) error {
			q := &opts.Query
			var err error
			if actorID != "" {
				id, err := cmdutil.ParseUUID("--actor-id", actorID)
				if err != nil {
					return err
				}
				q.ActorID = &id
			}
			if resourceID != "" {
				id, err := cmdutil.ParseUUID("--resource-id", resourceID)
				if err != nil {
					return err
				}
				q.ResourceID = &id
			}
			now := f.TimeNow()
			if q.From, err = cmdutil.ParseTimeFlag("--since", "24h", since, now); err != nil {
				return err
			}
			if q.To, err = cmdutil.ParseTimeFlag("--until", "24h", until, now); err != nil {
				return err
			}
			if q.Limit < 0 || q.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit must be within 1..1000")
			}
			if q.Offset < 0 {
				return cmdutil.FlagErrorf("--offset must not be negative")
			}
			return nil
		}})
	fl := cmd.Flags()
	fl.StringVar(&opts.Query.ActorType, "actor-type", "", "Only entries by this kind of actor: admin, agent, generator or system")
	fl.StringVar(&actorID, "actor-id", "", "Only entries by this actor id")
	fl.StringVar(&opts.Query.Action, "action", "", `Only this action, or a prefix ending in "*" (agent.*)`)
	fl.StringVar(&opts.Query.ResourceType, "resource-type", "", "Only entries about this kind of resource")
	fl.StringVar(&resourceID, "resource-id", "", "Only entries about this resource id")
	fl.StringVar(&since, "since", "", "Only entries at or after this time: a duration ago (24h) or RFC 3339")
	fl.StringVar(&since, "from", "", "Alias of --since")
	fl.StringVar(&until, "until", "", "Only entries before this time: a duration ago or RFC 3339")
	fl.StringVar(&until, "to", "", "Alias of --until")
	fl.IntVar(&opts.Query.Limit, "limit", 0, "Entries per page, 1..1000 (default 100)")
	fl.IntVar(&opts.Query.Offset, "offset", 0, "Entries to skip")
	_ = cmd.RegisterFlagCompletionFunc("actor-type", complete.Fixed(actorTypes...))
	_ = cmd.RegisterFlagCompletionFunc("resource-type", complete.Fixed("agent", "generator", "stack", "deployment_object",
		"template", "webhook", "work_order", "diagnostic", "config"))
	return cmd
}

func runList(ctx context.Context, opts *ListOptions) error {
	page, err := verb.Do(ctx, opts.Factory, func(ctx context.Context, c *client.Client) (client.AuditLogList, error) {
		return c.Admin().AuditLogs(ctx, &opts.Query)
	})
	if err != nil {
		return err
	}
	p := output.NewPrinter(opts.Factory, opts.Format)
	if ok, err := p.PrintWire(page); ok {
		return err
	}
	if err := output.PrintList(p, specs.Audit, page.Logs); err != nil {
		return err
	}
	if p.IO.IsStdoutTTY() && page.Total > int64(page.Count) {
		fmt.Fprintf(p.IO.ErrOut, "Showing %d-%d of %d entries (use --offset %d for more)\n",
			page.Offset+1, page.Offset+page.Count, page.Total, page.Offset+page.Count)
	}
	return nil
}
