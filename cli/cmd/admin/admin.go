// Package admin implements "brokkrctl admin": reloading the broker's configuration and
// inspecting its live connections.
package admin

import (
	"fmt"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/client"
)

// NewCmdAdmin returns the admin noun.
func NewCmdAdmin(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "admin <command>",
		Short:   "Administer the broker",
		Example: "  brokkrctl admin config reload\n  brokkrctl admin ws-connections",
	}
	cfg := &cobra.Command{
		Use:     "config <command>",
		Short:   "Manage the broker's configuration",
		Example: "  brokkrctl admin config reload",
	}
	cfg.AddCommand(NewCmdReload(f, nil))
	cmd.AddCommand(cfg, NewCmdWSConnections(f, nil))
	return cmd
}

// ChangeSpec is the table of configuration changes.
var ChangeSpec = output.Spec[client.ConfigChange]{
	Kind:   "setting",
	Plural: "changed settings",
	Name:   func(c client.ConfigChange) string { return c.Key },
	Columns: []output.Column[client.ConfigChange]{
		output.Text("KEY", func(c client.ConfigChange) string { return c.Key }),
		output.Text("OLD", func(c client.ConfigChange) string { return c.OldValue }),
		output.Text("NEW", func(c client.ConfigChange) string { return c.NewValue }),
	},
}

// ConnectionSpec is the table of agent connections.
var ConnectionSpec = output.Spec[client.WSConnection]{
	Kind:   "agent",
	Plural: "agent connections",
	Name:   func(c client.WSConnection) string { return c.AgentID.String() },
	Columns: []output.Column[client.WSConnection]{
		output.Text("AGENT", func(c client.WSConnection) string { return c.AgentID.String() }),
		output.Age("CONNECTED", func(c client.WSConnection) *time.Time { return &c.ConnectedSince }),
		output.Text("IN", func(c client.WSConnection) string { return strconv.FormatInt(c.MessagesIn, 10) }),
		output.Text("OUT", func(c client.WSConnection) string { return strconv.FormatInt(c.MessagesOut, 10) }),
	},
}

// ReloadOptions are the inputs of admin config reload.
type ReloadOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdReload returns admin config reload; runF replaces the run function in tests.
func NewCmdReload(f *cmdutil.Factory, runF func(*ReloadOptions) error) *cobra.Command {
	opts := &ReloadOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Make the broker re-read its configuration",
		Long: `Make the broker replica that answers re-read its configuration, and list the dynamic
settings that changed.`,
		Example: "  brokkrctl admin config reload\n  brokkrctl admin config reload -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			res, err := c.Admin().ReloadConfig(cmd.Context())
			if err != nil {
				return err
			}
			p := output.NewPrinter(f, opts.Format)
			switch opts.Format {
			case output.FormatJSON:
				return output.WriteJSON(p.IO.Out, res)
			case output.FormatYAML:
				return output.WriteYAML(p.IO.Out, res)
			}
			output.Successf(f.IOStreams, "Configuration reloaded: %s", res.Message)
			if len(res.Changes) == 0 && opts.Format != output.FormatName {
				return nil
			}
			return output.PrintList(p, ChangeSpec, res.Changes)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}

// WSOptions are the inputs of admin ws-connections.
type WSOptions struct {
	Factory *cmdutil.Factory
	Format  output.Format
}

// NewCmdWSConnections returns admin ws-connections; runF replaces the run function in tests.
func NewCmdWSConnections(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	opts := &WSOptions{Factory: f}
	cmd := &cobra.Command{
		Use:     "ws-connections",
		Short:   "List the agent connections and live subscribers of a broker replica",
		Example: "  brokkrctl admin ws-connections -o json",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Format.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(opts)
			}
			c, err := f.Client()
			if err != nil {
				return err
			}
			res, err := c.Admin().WSConnections(cmd.Context())
			if err != nil {
				return err
			}
			p := output.NewPrinter(f, opts.Format)
			switch opts.Format {
			case output.FormatJSON:
				return output.WriteJSON(p.IO.Out, res)
			case output.FormatYAML:
				return output.WriteYAML(p.IO.Out, res)
			case output.FormatTable, output.FormatWide:
				fmt.Fprintf(p.IO.ErrOut, "%d agents connected, %d live subscribers\n", res.ConnectedAgents, res.LiveSubscribers)
			}
			return output.PrintList(p, ConnectionSpec, res.Connections)
		},
	}
	output.AddFormatFlag(cmd, &opts.Format)
	return cmd
}
