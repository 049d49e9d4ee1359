// Package audit implements "brokkrctl audit": reading the broker's audit log.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/resource"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
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

// Spec is the table of audit entries.
var Spec = output.Spec[client.AuditLogEntry]{
	Kind:   "audit",
	Plural: "audit entries",
	Name:   func(e client.AuditLogEntry) string { return e.ID.String() },
	Columns: []output.Column[client.AuditLogEntry]{
		output.Age("TIME", func(e client.AuditLogEntry) *time.Time { return &e.Timestamp }),
		output.Text("ACTOR", func(e client.AuditLogEntry) string {
			s := e.ActorType
			if e.ActorName != nil && *e.ActorName != "" {
				s += ":" + *e.ActorName
			} else if e.ActorID != nil {
				s += ":" + e.ActorID.String()
			}
			return s
		}),
		output.Text("ACTION", func(e client.AuditLogEntry) string { return e.Action }),
		output.Text("RESOURCE", func(e client.AuditLogEntry) string {
			if e.ResourceID == nil {
				return e.ResourceType
			}
			return e.ResourceType + "/" + e.ResourceID.String()
		}),
		output.WideOnly(output.Text("ID", func(e client.AuditLogEntry) string { return e.ID.String() })),
		output.WideOnly(output.Text("IP", func(e client.AuditLogEntry) string { return resource.OrDash(e.IPAddress) })),
		output.WideOnly(output.Text("DETAILS", func(e client.AuditLogEntry) string {
			if len(e.Details) == 0 || string(e.Details) == "null" {
				return "-"
			}
			return string(e.Details)
		})),
	},
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
	cmd := &cobra.Command{
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
		Args: cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
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
			now := time.Now()
			if f.Now != nil {
				now = f.Now()
			}
			if q.From, err = parseTime("--since", since, now); err != nil {
				return err
			}
			if q.To, err = parseTime("--until", until, now); err != nil {
				return err
			}
			if q.Limit < 0 || q.Limit > 1000 {
				return cmdutil.FlagErrorf("--limit must be within 1..1000")
			}
			if q.Offset < 0 {
				return cmdutil.FlagErrorf("--offset must not be negative")
			}
			if runF != nil {
				return runF(opts)
			}
			return runList(cmd.Context(), opts)
		},
	}
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
	output.AddFormatFlag(cmd, &opts.Format)
	_ = cmd.RegisterFlagCompletionFunc("actor-type", resource.Fixed(actorTypes...))
	_ = cmd.RegisterFlagCompletionFunc("resource-type", resource.Fixed("agent", "generator", "stack", "deployment_object",
		"template", "webhook", "work_order", "diagnostic", "config"))
	return cmd
}

func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			d = -d
		}
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, cmdutil.FlagErrorf("invalid %s %q: want a duration such as 24h or an RFC 3339 time", flag, s)
}

func runList(ctx context.Context, opts *ListOptions) error {
	f := opts.Factory
	c, err := f.Client()
	if err != nil {
		return err
	}
	page, err := c.Admin().AuditLogs(ctx, &opts.Query)
	if err != nil {
		return err
	}
	p := output.NewPrinter(f, opts.Format)
	switch opts.Format {
	case output.FormatJSON:
		return output.WriteJSON(p.IO.Out, page)
	case output.FormatYAML:
		return output.WriteYAML(p.IO.Out, page)
	}
	if err := output.PrintList(p, Spec, page.Logs); err != nil {
		return err
	}
	if p.IO.IsStdoutTTY() && page.Total > int64(page.Count) {
		fmt.Fprintf(p.IO.ErrOut, "Showing %d-%d of %d entries (use --offset %d for more)\n",
			page.Offset+1, page.Offset+page.Count, page.Total, page.Offset+page.Count)
	}
	return nil
}
