package cmdutil

import (
	"context"

	"github.com/spf13/cobra"
)

// Run ends a command's RunE once the options are filled: it calls runF when a test set one
// (the seam of NewCmdX(f, runF)), otherwise the command's own run function.
func Run[O any](cmd *cobra.Command, opts *O, runF func(*O) error, run func(context.Context, *O) error) error {
	if runF != nil {
		return runF(opts)
	}
	return run(cmd.Context(), opts)
}
