package webhook

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/brokkr/brokkr/cli/cmdutil"
	"github.com/brokkr/brokkr/cli/complete"
	"github.com/brokkr/brokkr/cli/output"
	"github.com/brokkr/brokkr/cli/specs"
	"github.com/brokkr/brokkr/cli/verb"
	"github.com/brokkr/brokkr/client"
)

var deliveryStatuses = []string{client.DeliveryPending, client.DeliveryAcquired, client.DeliverySuccess, client.DeliveryFailed, client.DeliveryDead}

// DeliveriesOptions are the inputs of webhook deliveries.
type DeliveriesOptions struct {
	Factory *cmdutil.Factory
	ID      uuid.UUID
	Query   client.DeliveryListOptions
	Format  output.Format
}

// NewCmdDeliveries returns webhook deliveries; runF replaces the run function in tests.
func NewCmdDeliveries(f *cmdutil.Factory, runF func(*DeliveriesOptions) error) *cobra.Command {
	opts := &DeliveriesOptions{Factory: f}
	cmd := verb.OneArg(&cobra.Command{
		Use:     "deliveries ID",
		Short:   "List a webhook's deliveries, newest first",
		Example: "  brokkrctl webhook deliveries 7c1d... --status failed -o wide",
	}, idArg(f), verb.Setup[DeliveriesOptions]{Opts: opts, Format: &opts.Format, ID: &opts.ID, RunF: runF, Run: runDeliveries,
		Check: func(*cobra.Command) error {
			if s := strings.ToLower(opts.Query.Status); s != "" {
				ok := false
				for _, v := range deliveryStatuses {
					ok = ok || v == s
				}
				if !ok {
					return cmdutil.FlagErrorf("invalid --status %q: want one of %s", s, strings.Join(deliveryStatuses, ", "))
				}
				opts.Query.Status = s
			}
			return nil
		}})
	cmd.Flags().StringVar(&opts.Query.Status, "status", "", "Only deliveries in this status: "+strings.Join(deliveryStatuses, ", "))
	cmd.Flags().IntVar(&opts.Query.Limit, "limit", 0, "Deliveries per page (default 50)")
	cmd.Flags().IntVar(&opts.Query.Offset, "offset", 0, "Deliveries to skip")
	_ = cmd.RegisterFlagCompletionFunc("status", complete.Fixed(deliveryStatuses...))
	return cmd
}

func runDeliveries(ctx context.Context, opts *DeliveriesOptions) error {
	return verb.List(ctx, opts.Factory, opts.Format, specs.Delivery, func(ctx context.Context, c *client.Client) ([]client.WebhookDelivery, error) {
		return c.Webhooks().Deliveries(ctx, opts.ID, &opts.Query)
	})
}

// EventTypesOptions are the inputs of webhook event-types.
type EventTypesOptions = verb.FormatOptions

// NewCmdEventTypes returns webhook event-types; runF replaces the run function in tests.
func NewCmdEventTypes(f *cmdutil.Factory, runF func(*EventTypesOptions) error) *cobra.Command {
	return verb.ShowCmd(f, runF, &cobra.Command{
		Use:     "event-types",
		Short:   "List the event types a subscription may name",
		Example: "  brokkrctl webhook event-types",
	}, func(ctx context.Context, c *client.Client) ([]string, error) {
		return c.Webhooks().EventTypes(ctx)
	}, verb.Many(specs.EventType))
}
