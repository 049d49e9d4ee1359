// Package webhook implements "brokkrctl webhook": webhook subscriptions, their deliveries and
// test deliveries.
package webhook

import (
	"context"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

// NewCmdWebhook returns the webhook noun.
func NewCmdWebhook(f *cmdutil.Factory) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "webhook <command>",
		Aliases: []string{"webhooks", "wh"},
		Short:   "Manage webhook subscriptions",
		Long: `Manage webhook subscriptions: the broker (or agents with matching labels) posts events of
the subscribed types to the subscription's URL. URLs and Authorization headers are stored
encrypted and never shown again.`,
		Example: `  brokkrctl webhook create ops --url https://hooks.example.com/brokkr --event deployment.failed
  brokkrctl webhook test 7c1d...
  brokkrctl webhook deliveries 7c1d... --status dead`,
	}
	cmd.AddCommand(NewCmdList(f, nil), NewCmdGet(f, nil), NewCmdCreate(f, nil), NewCmdUpdate(f, nil),
		NewCmdDelete(f, nil), NewCmdTest(f, nil), NewCmdDeliveries(f, nil), NewCmdEventTypes(f, nil))
	return cmd
}

// idArg is the ID argument of the verbs on one subscription.
func idArg(f *cmdutil.Factory) verb.Arg {
	return verb.Arg{What: "webhook ID", Complete: complete.WebhookIDs(f)}
}

// ListOptions are the inputs of webhook list.
type ListOptions = verb.FormatOptions

// NewCmdList returns webhook list; runF replaces the run function in tests.
func NewCmdList(f *cmdutil.Factory, runF func(*ListOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List webhook subscriptions",
		Example: "  brokkrctl webhook list -o wide",
	}, func(ctx context.Context, c *client.Client) ([]client.WebhookResponse, error) {
		return c.Webhooks().List(ctx)
	}, verb.Many(specs.Webhook))
}

// GetOptions are the inputs of webhook get.
type GetOptions = verb.IDOptions

// NewCmdGet returns webhook get; runF replaces the run function in tests.
func NewCmdGet(f *cmdutil.Factory, runF func(*GetOptions) error) *cobra.Command {
	return verb.ShowIDCmd(f, runF, &cobra.Command{
		Use:     "get ID",
		Short:   "Show a webhook subscription",
		Example: "  brokkrctl webhook get 7c1d... -o yaml",
	}, idArg(f), func(ctx context.Context, c *client.Client, id uuid.UUID) (client.WebhookResponse, error) {
		return c.Webhooks().Get(ctx, id)
	}, verb.One(specs.Webhook))
}

// DeleteOptions are the inputs of webhook delete.
type DeleteOptions = verb.DeleteIDOptions

// NewCmdDelete returns webhook delete; runF replaces the run function in tests.
func NewCmdDelete(f *cmdutil.Factory, runF func(*DeleteOptions) error) *cobra.Command {
	return verb.DeleteByIDCmd(f, runF, &cobra.Command{
		Use:   "delete ID",
		Short: "Delete a webhook subscription and its deliveries",
		Long: `Delete a webhook subscription and its deliveries. On a terminal the command asks for
confirmation unless --yes is given; without a terminal --yes is required.`,
		Example: "  brokkrctl webhook delete 7c1d... --yes",
		Aliases: []string{"rm"},
	}, idArg(f), "webhook", func(ctx context.Context, c *client.Client, id uuid.UUID) error {
		return c.Webhooks().Delete(ctx, id)
	})
}
