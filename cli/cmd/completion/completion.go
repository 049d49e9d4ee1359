// Package completion implements "brokkrctl completion".
package completion

import (
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
)

// NewCmdCompletion returns the completion command.
func NewCmdCompletion(f *cmdutil.Factory) *cobra.Command {
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
			root, out := cmd.Root(), f.IOStreams.Out
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			case "powershell":
				return root.GenPowerShellCompletionWithDesc(out)
			}
			return cmdutil.FlagErrorf("unsupported shell %q: want bash, zsh, fish or powershell", args[0])
		},
	}
	return cmd
}
