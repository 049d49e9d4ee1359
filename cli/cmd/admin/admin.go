// Package admin implements "brokkrctl admin": reloading the broker's configuration,
// inspecting its live connections and rotating the admin PAK.
package admin

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// NewCmdAdmin returns the admin noun.
func NewCmdAdmin(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "admin <command>",
		Short:   "Administer the broker",
		Example: "  brokkrctl admin config reload\n  brokkrctl admin ws-connections\n  brokkrctl admin rotate-pak --save",
	}
	cfg := &cobra.Command{
		Use:     "config <command>",
		Short:   "Manage the broker's configuration",
		Example: "  brokkrctl admin config reload",
	}
	cfg.AddCommand(NewCmdReload(f, nil))
	cmd.AddCommand(cfg, NewCmdWSConnections(f, nil), NewCmdRotatePAK(f, nil))
	return cmd
}

// ReloadOptions are the inputs of admin config reload.
type ReloadOptions = verb.FormatOptions

// NewCmdReload returns admin config reload; runF replaces the run function in tests.
func NewCmdReload(f *cmdutil.Factory, runF func(*ReloadOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:   "reload",
		Short: "Make the broker re-read its configuration",
		Long: `Make the broker replica that answers re-read its configuration, and list the dynamic
settings that changed.`,
		Example: "  brokkrctl admin config reload\n  brokkrctl admin config reload -o json",
	}, func(ctx context.Context, c *client.Client) (client.ConfigReloadResponse, error) {
		return c.Admin().ReloadConfig(ctx)
	}, printReload)
}

// printReload prints the wire object for json and yaml, otherwise the broker's message on
// stderr and the changed settings, if any.
func printReload(p *output.Printer, res client.ConfigReloadResponse) error {
	if ok, err := p.PrintWire(res); ok {
		return err
	}
	output.Successf(p.IO, "Configuration reloaded: %s", res.Message)
	if len(res.Changes) == 0 && p.Format != output.FormatName {
		return nil
	}
	return output.PrintList(p, specs.ConfigChange, res.Changes)
}

// WSOptions are the inputs of admin ws-connections.
type WSOptions = verb.FormatOptions

// NewCmdWSConnections returns admin ws-connections; runF replaces the run function in tests.
func NewCmdWSConnections(f *cmdutil.Factory, runF func(*WSOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:     "ws-connections",
		Short:   "List the agent connections and live subscribers of a broker replica",
		Example: "  brokkrctl admin ws-connections -o json",
	}, func(ctx context.Context, c *client.Client) (client.WSConnections, error) {
		return c.Admin().WSConnections(ctx)
	}, func(p *output.Printer, res client.WSConnections) error {
		summary := fmt.Sprintf("%d agents connected, %d live subscribers", res.ConnectedAgents, res.LiveSubscribers)
		return output.PrintReport(p, res, summary, specs.WSConnection, res.Connections)
	})
}
