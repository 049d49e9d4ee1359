package complete

import (
	"context"

	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/client"
)

// ApplyWindows completes apply window names and ids (each described by the other).
func ApplyWindows(f *cmdutil.Factory) cobra.CompletionFunc {
	return each(f, func(ctx context.Context, c *client.Client) ([]client.ApplyWindow, error) {
		return c.ApplyWindows().List(ctx)
	}, func(w client.ApplyWindow) []Candidate {
		return []Candidate{{Value: w.Name, Description: w.Kind + " " + w.Schedule}, {Value: w.ID.String(), Description: w.Name}}
	})
}
