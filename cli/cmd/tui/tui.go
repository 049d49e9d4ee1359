// Package tui implements "brokkrctl tui": the live fleet dashboard.
package tui

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/config"
	"github.com/brokkr/brokkr/client"
	dash "github.com/brokkr/brokkr/tui"
)

// Options are the inputs of brokkrctl tui.
type Options struct {
	Factory *cmdutil.Factory
	Debug   string
	Refresh time.Duration
}

// NewCmdTUI returns brokkrctl tui; runF replaces the run function in tests.
func NewCmdTUI(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "tui",
		Short: "Watch and operate the fleet in a terminal dashboard",
		Long: `Open the live dashboard of the broker of the current context: an overview of agents,
deployments, work orders and events, and views of agents, stacks, work orders, diagnostics,
webhooks and the audit log. Press ? for the keys, q to quit, c to switch context.

The dashboard follows the fleet's live channel and polls the rest every --refresh. Colours
adapt to the terminal's background; NO_COLOR turns them off. --debug writes a log to a file,
never to the screen.`,
		Example: "  brokkrctl tui\n  brokkrctl tui --context prod --refresh 2s\n  brokkrctl tui --debug /tmp/brokkr-tui.log",
		Args:    cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.Refresh < time.Second {
				return cmdutil.FlagErrorf("--refresh must be at least 1s")
			}
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	cmd.Flags().StringVar(&opts.Debug, "debug", "", "Write a debug log to this file")
	cmd.Flags().DurationVar(&opts.Refresh, "refresh", 5*time.Second, "Polling period of the views")
	return cmd
}

func run(ctx context.Context, opts *Options) error {
	f := opts.Factory
	if opts.Debug != "" {
		file, err := os.OpenFile(opts.Debug, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("debug log: %w", err)
		}
		defer func() { _ = file.Close() }()
		slog.SetDefault(slog.New(slog.NewTextHandler(file, &slog.HandlerOptions{Level: slog.LevelDebug})))
	} else {
		slog.SetDefault(slog.New(slog.NewTextHandler(io.Discard, nil)))
	}
	c, err := f.Client()
	if err != nil {
		return err
	}
	r, err := f.Resolve(ctx)
	if err != nil {
		return err
	}
	dopts := dash.Options{
		Client: c, BrokerURL: r.BrokerURL, ContextName: r.Context, RefreshEvery: opts.Refresh,
		NoColor: f.Getenv("NO_COLOR") != "", Dark: true,
	}
	// The terminal by default; other streams (tests, pipes) are passed through.
	if in, ok := f.IOStreams.In.(*os.File); !ok || in != os.Stdin {
		dopts.Input = f.IOStreams.In
	}
	if out, ok := f.IOStreams.Out.(*os.File); !ok || out != os.Stdout {
		dopts.Output = f.IOStreams.Out
	}
	if file, err := f.Config(); err == nil && len(file.Contexts) > 0 {
		for _, c := range file.Contexts {
			dopts.Contexts = append(dopts.Contexts, c.Name)
		}
		dopts.SwitchContext = func(name string) (*client.Client, error) {
			res, err := config.Resolve(ctx, file, config.Overrides{Context: name}, f.Getenv)
			if err != nil {
				return nil, err
			}
			return f.NewClient(res)
		}
	}
	slog.Debug("dashboard starting", "broker", r.BrokerURL, "context", r.Context)
	return dash.Run(ctx, dopts)
}
