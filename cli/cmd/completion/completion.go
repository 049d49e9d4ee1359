// Package completion implements "brokkrctl completion".
package completion

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
)

// Options are the inputs of the completion command.
type Options struct {
	Factory *cmdutil.Factory
	// Root is the command tree the script completes.
	Root  *cobra.Command
	Shell string
}

// NewCmdCompletion returns the completion command; runF replaces the run function in tests.
func NewCmdCompletion(f *cmdutil.Factory, runF func(*Options) error) *cobra.Command {
	opts := &Options{Factory: f}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print a shell completion script",
		Long: `Print the completion script for a shell. Completion of ids and names (stacks, agents,
work orders, ...) asks the configured broker with a short timeout and stays silent when it
cannot reach it.`,
		Example: `  # bash, for the current shell
  source <(brokkrctl completion bash)
  # zsh, installed
  brokkrctl completion zsh > "${fpath[1]}/_brokkrctl"
  # fish
  brokkrctl completion fish > ~/.config/fish/completions/brokkrctl.fish
  # PowerShell
  brokkrctl completion powershell | Out-String | Invoke-Expression`,
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish", "powershell"},
		Args:      cmdutil.ExactArgs(1, "shell (bash, zsh, fish or powershell)"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Root, opts.Shell = cmd.Root(), args[0]
			return cmdutil.Run(cmd, opts, runF, run)
		},
	}
	return cmd
}

func run(_ context.Context, opts *Options) error {
	out := opts.Factory.IOStreams.Out
	switch opts.Shell {
	case "bash":
		return opts.Root.GenBashCompletionV2(out, true)
	case "zsh":
		return opts.Root.GenZshCompletion(out)
	case "fish":
		return opts.Root.GenFishCompletion(out, true)
	case "powershell":
		return opts.Root.GenPowerShellCompletionWithDesc(out)
	}
	return cmdutil.FlagErrorf("unsupported shell %q: want bash, zsh, fish or powershell", opts.Shell)
}
