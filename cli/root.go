// Package cli is brokkrctl, the command-line client of the brokkr broker: a cobra command
// tree of nouns and verbs ("brokkrctl workorder list") built on a Factory that creates the
// API client only when a command needs it. See cli/README.md for how to add commands.
package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmd/admin"
	"github.com/brokkr/brokkr/cli/cmd/agent"
	"github.com/brokkr/brokkr/cli/cmd/audit"
	"github.com/brokkr/brokkr/cli/cmd/completion"
	configcmd "github.com/brokkr/brokkr/cli/cmd/config"
	"github.com/brokkr/brokkr/cli/cmd/diagnostic"
	"github.com/brokkr/brokkr/cli/cmd/fleet"
	"github.com/brokkr/brokkr/cli/cmd/generator"
	"github.com/brokkr/brokkr/cli/cmd/health"
	"github.com/brokkr/brokkr/cli/cmd/login"
	"github.com/brokkr/brokkr/cli/cmd/object"
	"github.com/brokkr/brokkr/cli/cmd/pak"
	"github.com/brokkr/brokkr/cli/cmd/stack"
	"github.com/brokkr/brokkr/cli/cmd/template"
	tuicmd "github.com/brokkr/brokkr/cli/cmd/tui"
	"github.com/brokkr/brokkr/cli/cmd/version"
	"github.com/brokkr/brokkr/cli/cmd/webhook"
	"github.com/brokkr/brokkr/cli/cmd/window"
	"github.com/brokkr/brokkr/cli/cmd/workorder"
	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/iostreams"
	"github.com/brokkr/brokkr/internal/buildinfo"
)

// Main runs brokkrctl with the process's arguments and streams and returns its exit code.
func Main() cmdutil.ExitCode {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	f := cmdutil.NewFactory(buildinfo.Get().Version, iostreams.System())
	return Run(ctx, f, os.Args[1:])
}

// Run executes args against a new command tree; errors are printed once, on f's stderr.
func Run(ctx context.Context, f *cmdutil.Factory, args []string) cmdutil.ExitCode {
	root := NewRootCmd(f)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return cmdutil.ExitOK
	}
	err = usageError(err)
	stderr := f.IOStreams.ErrOut
	cmdutil.PrintError(stderr, err)
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) && cmd != nil {
		fmt.Fprintln(stderr)
		fmt.Fprint(stderr, cmd.UsageString())
	}
	return cmdutil.ExitCodeOf(err)
}

// usageError turns cobra's own argument errors into FlagErrors, so they exit 2.
func usageError(err error) error {
	var flagErr *cmdutil.FlagError
	if errors.As(err, &flagErr) {
		return err
	}
	msg := err.Error()
	for _, prefix := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "required flag", "invalid argument", "flag needs an argument", "accepts ", "requires at least", "invalid args"} {
		if strings.HasPrefix(msg, prefix) {
			return cmdutil.FlagErrorWrap(err)
		}
	}
	return err
}

// NewRootCmd builds the whole command tree.
func NewRootCmd(f *cmdutil.Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "brokkrctl <command> <subcommand> [flags]",
		Short: "Work with a brokkr broker from the command line",
		Long: `brokkrctl manages a brokkr broker: stacks, agents, generators, templates, work orders
and diagnostics.

Connect once with "brokkrctl login"; the broker URL and PAK can also come from the
--broker-url and --pak flags or the BROKKR_BROKER_URL and BROKKR_PAK environment variables.

Exit codes: 0 success, 1 error, 2 usage error or cancelled, 4 authentication needed.`,
		Example: `  brokkrctl login --broker-url https://brokkr.example.com --pak "$PAK"
  brokkrctl workorder list --status PENDING
  brokkrctl workorder create --type build --label gpu --yaml-file build.yaml`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       buildinfo.Get().Version,
		Args:          rootArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetIn(f.IOStreams.In)
	root.SetOut(f.IOStreams.Out)
	root.SetErr(f.IOStreams.ErrOut)
	root.SetVersionTemplate("brokkrctl {{.Version}}\n")
	root.CompletionOptions.DisableDefaultCmd = true
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return cmdutil.FlagErrorWrap(err) })

	pf := root.PersistentFlags()
	pf.StringVar(&f.Global.BrokerURL, "broker-url", "", "Broker URL (overrides $BROKKR_BROKER_URL and the context)")
	pf.StringVar(&f.Global.PAK, "pak", "", "PAK to authenticate with (overrides $BROKKR_PAK and the context)")
	pf.StringVar(&f.Global.Context, "context", "", "Configuration context to use (overrides $BROKKR_CONTEXT)")
	_ = root.RegisterFlagCompletionFunc("context", complete.Contexts(f))

	root.AddGroup(&cobra.Group{ID: "resources", Title: "Resource commands:"},
		&cobra.Group{ID: "setup", Title: "Setup commands:"})
	for _, c := range []*cobra.Command{
		stack.NewCmdStack(f), object.NewCmdObject(f), agent.NewCmdAgent(f), generator.NewCmdGenerator(f),
		template.NewCmdTemplate(f), workorder.NewCmdWorkOrder(f), diagnostic.NewCmdDiagnostic(f),
		webhook.NewCmdWebhook(f), fleet.NewCmdFleet(f), health.NewCmdHealth(f), audit.NewCmdAudit(f),
		pak.NewCmdPAK(f), admin.NewCmdAdmin(f), window.NewCmdWindow(f),
	} {
		c.GroupID = "resources"
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{login.NewCmdLogin(f, nil), login.NewCmdLogout(f, nil), configcmd.NewCmdConfig(f)} {
		c.GroupID = "setup"
		root.AddCommand(c)
	}
	root.AddCommand(version.NewCmdVersion(f, nil), completion.NewCmdCompletion(f, nil), tuicmd.NewCmdTUI(f, nil))
	for _, c := range root.Commands() {
		if c.HasSubCommands() {
			requireSubcommand(c)
		}
	}
	return root
}

// rootArgs rejects unknown commands with a usage error.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return cmdutil.FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
	}
	return nil
}

// requireSubcommand makes a noun without a verb print its help, and a noun with an unknown
// verb fail with a usage error.
func requireSubcommand(c *cobra.Command) {
	if c.RunE != nil || c.Run != nil {
		return
	}
	c.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return cmdutil.FlagErrorf("unknown command %q for %q", args[0], cmd.CommandPath())
		}
		return nil
	}
	c.RunE = func(cmd *cobra.Command, args []string) error { return cmd.Help() }
	for _, sub := range c.Commands() {
		if sub.HasSubCommands() {
			requireSubcommand(sub)
		}
	}
}
