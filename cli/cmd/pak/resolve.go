package pak

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/resolve"
	"github.com/brokkr/brokkr/client"
)

// findReadOnly returns the read-only PAK that is not revoked named by ref: its id or its name.
func findReadOnly(ctx context.Context, c *client.Client, ref string) (client.ReadOnlyPAK, error) {
	ref = strings.TrimSpace(ref)
	keys, err := c.ReadOnlyPAKs().List(ctx)
	if err != nil {
		return client.ReadOnlyPAK{}, fmt.Errorf("list read-only PAKs: %w", err)
	}
	id, parseErr := uuid.Parse(ref)
	for _, k := range keys {
		if (parseErr == nil && k.ID == id) || k.Name == ref {
			return k, nil
		}
	}
	return client.ReadOnlyPAK{}, &resolve.NotFoundError{Kind: "read-only PAK", Ref: ref}
}

// completeReadOnly completes the names and ids of the read-only PAKs.
func completeReadOnly(f *cmdutil.Factory) cobra.CompletionFunc {
	return complete.From(f, func(ctx context.Context, c *client.Client) ([]complete.Candidate, error) {
		keys, err := c.ReadOnlyPAKs().List(ctx)
		var out []complete.Candidate
		for _, k := range keys {
			out = append(out, complete.Candidate{Value: k.Name, Description: k.ID.String()},
				complete.Candidate{Value: k.ID.String(), Description: k.Name})
		}
		return out, err
	})
}
