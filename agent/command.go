package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/internal/buildinfo"
	"github.com/brokkr/brokkr/internal/config"
	"github.com/brokkr/brokkr/internal/logging"
	"github.com/brokkr/brokkr/internal/tracing"
)

// Main runs the brokkr-agent command line and returns the process exit code.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := NewCommand(os.Stdout, os.Stderr).ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		return 1
	}
	return 0
}

// NewCommand builds the brokkr-agent command tree.
func NewCommand(stdout, stderr io.Writer) *cobra.Command {
	var configFile string
	root := &cobra.Command{
		Use:   "brokkr-agent",
		Short: "The brokkr agent: applies a cluster's target state from the broker",
		Long: `brokkr-agent runs in (or next to) one Kubernetes cluster. It pulls the agent's target state
from the broker over outbound HTTP, applies it with server-side apply (namespaces, then CRDs,
then the rest), prunes what no longer belongs, and reports deployment events, heartbeats,
deployment health, work-order results, diagnostics and webhook deliveries.

Configuration: defaults, then the file (--config or $BROKKR_CONFIG_FILE), then
BROKKR__AGENT__* environment variables, then flags. See docs/configuration.md.`,
		Example: `  BROKKR__AGENT__BROKER_URL=http://broker:3000 BROKKR__AGENT__PAK=brokkr_BR... \
  BROKKR__AGENT__AGENT_NAME=edge-1 BROKKR__AGENT__CLUSTER_NAME=prod-eu brokkr-agent start

  brokkr-agent start --config /etc/brokkr/agent.toml --kubeconfig ~/.kube/config`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       buildinfo.Get().String(),
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	pf := root.PersistentFlags()
	pf.StringVar(&configFile, "config", "", "configuration file (.toml, .yaml or .json); default $BROKKR_CONFIG_FILE")
	pf.String("broker-url", "", "broker base URL (agent.broker_url)")
	pf.String("pak", "", "the agent's PAK (agent.pak); prefer BROKKR__AGENT__PAK, flags show up in ps")
	pf.String("agent-name", "", "agent name at the broker (agent.agent_name)")
	pf.String("cluster-name", "", "cluster name at the broker (agent.cluster_name)")
	pf.String("kubeconfig", "", "kubeconfig file (agent.kubeconfig_path); default $KUBECONFIG, ~/.kube/config, in-cluster")
	pf.Int("health-port", 0, "port of /healthz, /readyz, /health and /metrics; 0 disables (agent.health_port, default 8080)")
	pf.String("watch-namespace", "", "confine the agent to one namespace (agent.watch_namespace)")
	pf.StringSlice("generator-ids", nil, "generators to register with at startup (agent.generator_ids)")
	pf.Int("polling-interval", 0, "seconds between polls of the broker (agent.polling_interval, default 10)")
	pf.String("log-level", "", "log level: debug, info, warn, error (log.level)")
	pf.String("log-format", "", "log format: text or json (log.format)")

	load := func(cmd *cobra.Command) (config.Agent, error) {
		cfg, warnings, err := config.LoadAgent(config.LoadOptions{File: configFile, Flags: cmd.Flags()})
		for _, w := range warnings {
			fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
		}
		return cfg, err
	}

	start := &cobra.Command{
		Use:   "start",
		Short: "Run the agent",
		Long: `Run the agent until SIGINT or SIGTERM: wait for the broker, verify the PAK, find the agent's
record, register with the configured generators, check the Kubernetes API, then heartbeat,
reconcile, run work orders, report deployment health, answer diagnostics and deliver webhooks.
On a signal, work in flight gets agent.shutdown_timeout seconds to finish.`,
		Example: `  brokkr-agent start --broker-url http://broker:3000 --agent-name edge-1 --cluster-name prod-eu`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := load(cmd)
			if err != nil {
				return err
			}
			log, _, err := logging.New(cfg.Log.Level, cfg.Log.Format, cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			traces, err := tracing.New(cmd.Context(), cfg.Telemetry.ForAgent(), tracing.Options{Logger: log, Component: "agent"})
			if err != nil {
				return err
			}
			tracing.SetGlobal(traces, log)
			defer traces.Stop(log)
			a, err := New(Options{Config: cfg.Agent, Log: log, TracerProvider: traces.TracerProvider()})
			if err != nil {
				return err
			}
			return a.Run(cmd.Context())
		},
	}

	configCmd := &cobra.Command{Use: "config", Short: "Inspect the configuration"}
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration with secrets masked",
		Long: `Print the effective agent configuration (defaults, then the file, then BROKKR__ environment
variables, then flags) as YAML, with the PAK masked. An invalid configuration is printed
as well, followed by its problems.`,
		Example: `  BROKKR__AGENT__POLLING_INTERVAL=5 brokkr-agent config show`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, loadErr := load(cmd)
			out, err := cfg.Redacted().YAML()
			if err != nil {
				return err
			}
			if _, err := cmd.OutOrStdout().Write(out); err != nil {
				return err
			}
			return loadErr
		},
	}
	configCmd.AddCommand(show)
	root.AddCommand(start, configCmd)
	return root
}
